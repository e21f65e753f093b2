"""SynthFaces: procedurally rendered faces with known identity, expression and pose.

Because every image is rendered from known parameters, the exact answer of an
expression edit (identity and pose of the input, expression of the reference)
can be rendered and compared with a model's output.
"""

from leedjax.data.synthfaces.catalog import ANGLES
from leedjax.data.synthfaces.catalog import Catalog
from leedjax.data.synthfaces.catalog import CatalogSpec
from leedjax.data.synthfaces.catalog import render_faces
from leedjax.data.synthfaces.expressions import AU_NAMES
from leedjax.data.synthfaces.expressions import EXPRESSIONS
from leedjax.data.synthfaces.expressions import NEUTRAL
from leedjax.data.synthfaces.expressions import NUM_AUS
from leedjax.data.synthfaces.expressions import NUM_EXPRESSIONS
from leedjax.data.synthfaces.expressions import expression_controls
from leedjax.data.synthfaces.identity import FaceIdentity
from leedjax.data.synthfaces.identity import HAIR_STYLES
from leedjax.data.synthfaces.identity import sample_identities
from leedjax.data.synthfaces.layout import LABELS
from leedjax.data.synthfaces.render import MIXED
from leedjax.data.synthfaces.render import render

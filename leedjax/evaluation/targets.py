"""What an edit of input A towards reference B should look like.

- The paper's SSIM target (LEED, Sec. 4.1): the dataset's own image of A's
  person with B's expression ("corresponding expressions of the same
  identity"), at A's camera angle. RaFD-like grids have one for every pair.
- On SynthFaces, the exact answer: A's identity, pose and gaze rendered with
  alpha times B's expression controls (`Catalog.render_edit`). It differs
  from the paper's target by the gaze and, where the reference's intensity or
  personal style differs from the person's own, the expression's strength.
"""

import numpy as np

from leedjax.data import synthfaces


def paper_targets_synthfaces(catalog: synthfaces.Catalog, input_rows,
                             reference_rows, size: int) -> np.ndarray:
  """The dataset's image of each input's subject with its reference's
  expression and intensity level, at the input's angle (uint8)."""
  input_rows = np.asarray(input_rows)
  reference_rows = np.asarray(reference_rows)
  rows = catalog.row_of(catalog.subject[input_rows],
                        catalog.expression[reference_rows],
                        catalog.intensity_level[reference_rows],
                        catalog.angle_index(input_rows))
  return catalog.render(rows, size)


def paper_target_indices(subject, expression, angle, references
                         ) -> np.ndarray:
  """For datasets without a renderer: the index among the records of the
  input's subject with its reference's expression at the input's angle, or
  -1 where the records hold none."""
  subject, expression, angle = (np.asarray(values).tolist() for values in
                                 (subject, expression, angle))
  first = {}
  for index, key in enumerate(zip(subject, expression, angle)):
    first.setdefault(key, index)
  return np.array([
      first.get((subject[i], expression[r], angle[i]), -1)
      for i, r in enumerate(np.asarray(references).tolist())], np.int64)

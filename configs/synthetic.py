"""The embedded default: SynthFaces at 64x64, sized for a 2-core CPU.

`--config=configs/synthetic.py:smoke` shrinks everything to a run of a few
minutes (the tests use it).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import default  # pylint: disable=g-import-not-at-top,wrong-import-position


def get_config(variant: str = ''):
  config = default.get_config()
  config.data.dataset = 'synth_faces'
  config.data.image_size = 64
  config.data.split_scheme = 'subject'
  if variant == 'smoke':
    config.data.image_size = 32
    config.data.synthfaces.num_subjects = 10
    config.data.synthfaces.intensities = (1.0,)
    config.batch_size = 8
  elif variant:
    raise ValueError(f"Unknown variant {variant!r} of configs/synthetic.py: "
                     "use no variant or ':smoke'.")
  return config

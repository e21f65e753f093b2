"""The LEED paper's RaFD recipe: 128x128 crops, random 90/10 split of images,
full-width networks, the supplementary's hyperparameters (configs/default.py).

RaFD is licence-gated: request a copy from its owners, then point the run at
the folder of its JPEGs (leedjax/data/real/rafd.py says what it expects):

  python -m leedjax.main --config=configs/rafd.py --workdir=runs/rafd \
      --config.data.manual_dir=~/data/RaFD

`python -m leedjax.data.prepare --dataset=rafd --manual_dir=~/data/RaFD`
builds the same dataset first and prints what it found.
`--config=configs/rafd.py:smoke` runs every stage for a few steps at 32 px
(the tests run it on a fixture folder in RaFD's layout).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import default  # pylint: disable=g-import-not-at-top,wrong-import-position

RAFD_IMAGES = 8_040


def get_config(variant: str = ''):
  config = default.get_config()
  config.data.dataset = 'rafd'
  config.data.image_size = 128
  config.data.split_scheme = 'random'
  config.data.test_fraction = 0.1
  config.leed.num_steps = paper_steps(RAFD_IMAGES, config)
  return with_variant(config, variant, 'configs/rafd.py')


def paper_steps(num_images: int, config, epochs: int = 100) -> int:
  """LEED's 100 epochs over the 90% training split, in steps of batch 24."""
  train_images = round(num_images * (1 - config.data.test_fraction))
  return -(-epochs * train_images // config.leed.batch_size)


def with_variant(config, variant: str, name: str):
  """`:smoke`: every stage for a few steps at 32 px, to check that a copy
  and the whole pipeline work together before a long run."""
  if variant == 'smoke':
    config.data.image_size = 32
    default.smoke_trainers(config)
    config.evaluate.num_pairs = None  # every test image: a copy may be small
  elif variant:
    raise ValueError(f'Unknown variant {variant!r} of {name}: use no '
                     "variant or ':smoke'.")
  return config

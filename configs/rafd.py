"""The LEED paper's RaFD recipe: 128x128 crops, random 90/10 split of images,
full-width networks, the supplementary's hyperparameters (configs/default.py).

RaFD is licence-gated: until its dataset builder reads a user's own copy, a
run with this config stops at start and says what data it needs.

  python -m leedjax.main --config=configs/rafd.py --workdir=runs/rafd
"""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import default  # pylint: disable=g-import-not-at-top,wrong-import-position

RAFD_IMAGES = 8_040


def get_config():
  config = default.get_config()
  config.data.dataset = 'rafd'
  config.data.image_size = 128
  config.data.split_scheme = 'random'
  config.data.test_fraction = 0.1
  config.leed.num_steps = paper_steps(RAFD_IMAGES, config)
  return config


def paper_steps(num_images: int, config, epochs: int = 100) -> int:
  """LEED's 100 epochs over the 90% training split, in steps of batch 24."""
  train_images = round(num_images * (1 - config.data.test_fraction))
  return -(-epochs * train_images // config.leed.batch_size)

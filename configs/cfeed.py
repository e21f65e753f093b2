"""The LEED paper's CFEED recipe: as configs/rafd.py on the Compound Facial
Expressions of Emotion database (5,060 images of 230 subjects).

CFEED is licence-gated: until its dataset builder reads a user's own copy, a
run with this config stops at start and says what data it needs.

  python -m leedjax.main --config=configs/cfeed.py --workdir=runs/cfeed
"""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rafd  # pylint: disable=g-import-not-at-top,wrong-import-position

CFEED_IMAGES = 5_060


def get_config():
  config = rafd.get_config()
  config.data.dataset = 'cfeed'
  config.leed.num_steps = rafd.paper_steps(CFEED_IMAGES, config)
  return config

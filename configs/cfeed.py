"""The LEED paper's CFEED recipe: as configs/rafd.py on the Compound Facial
Expressions of Emotion database (5,060 images of 230 subjects, 22 classes).

CFEE is licence-gated: request a copy from its authors, then point the run
at it. Copies differ in layout: by default one sub-folder per category with
the subject number leading each file name; see leedjax/data/real/cfee.py
for the options (`--config.data.options.layout`, `.file_pattern`).

  python -m leedjax.main --config=configs/cfeed.py --workdir=runs/cfeed \
      --config.data.manual_dir=~/data/CFEE

`--config=configs/cfeed.py:smoke` runs every stage for a few steps.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rafd  # pylint: disable=g-import-not-at-top,wrong-import-position

from leedjax.data import datasets  # pylint: disable=g-import-not-at-top,wrong-import-position

CFEED_IMAGES = 5_060


def get_config(variant: str = ''):
  config = rafd.get_config()
  config.data.dataset = 'cfeed'
  # The layout options, declared so that --config.data.options.X works.
  config.data.options.update(datasets.builder_class('cfeed').OPTIONS)
  config.leed.num_steps = rafd.paper_steps(CFEED_IMAGES, config)
  return rafd.with_variant(config, variant, 'configs/cfeed.py')

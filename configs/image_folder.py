"""Your own faces: one sub-folder of images per expression, trained with the
LEED paper's recipe at 128 px (configs/rafd.py's settings).

  python -m leedjax.main --config=configs/image_folder.py --workdir=runs/mine \
      --config.data.manual_dir=~/faces \
      --config.data.options.subject_pattern='^(?P<subject>[^_]+)_'

LEED edits need to know who is in each image (its pairs and its identity
judge): `options.subject_pattern` is a regular expression whose group
`subject` finds the person in each file name. Without it, train Psi only:
`--config.stages=data,classifier`. Photographs that are not face crops
want `--config.data.crop=detect`. `:smoke` runs every stage for a few
steps at 32 px.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import rafd  # pylint: disable=g-import-not-at-top,wrong-import-position

from leedjax.data import datasets  # pylint: disable=g-import-not-at-top,wrong-import-position


def get_config(variant: str = ''):
  config = rafd.get_config()
  config.data.dataset = 'image_folder'
  # The builder's options, declared so that --config.data.options.X works.
  config.data.options.update(datasets.builder_class('image_folder').OPTIONS)
  return rafd.with_variant(config, variant, 'configs/image_folder.py')

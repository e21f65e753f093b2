"""ExprGAN's Oulu-CASIA recipe (AAAI 2018 and its authors' release): the
last three frames of each strong-illumination visible-light sequence, six
expressions, 128x128 faces, subjects P001-P072 for training and P073-P080
for testing, random horizontal flips, full-width networks, Adam(2e-4, 0.5)
at batch 48, 50 epochs (1,350 steps of 1,296 images) per stage.

Oulu-CASIA is licence-gated: request a copy, then point the run at the
folder that holds `VL/Strong/P001/...` (leedjax/data/real/oulu.py):

  python -m leedjax.main --config=configs/oulu.py --workdir=runs/oulu \
      --config.data.manual_dir=~/data/OriginalImg

`--config=configs/oulu.py:smoke` runs every stage for a few steps at 32 px.
"""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import default  # pylint: disable=g-import-not-at-top,wrong-import-position
import rafd  # pylint: disable=g-import-not-at-top,wrong-import-position

from leedjax.data import datasets  # pylint: disable=g-import-not-at-top,wrong-import-position

from leedjax.trainers import exprgan as exprgan_trainer  # pylint: disable=g-import-not-at-top,wrong-import-position

# 80 subjects; the paper's split holds out the last 8 (P073-P080).
OULU_SUBJECTS = 80
OULU_TEST_SUBJECTS = 8


def get_config(variant: str = ''):
  config = default.get_config()
  config.data.dataset = 'oulu'
  # The builder's options (which frames, which light), declared so that
  # --config.data.options.X works.
  config.data.options.update(datasets.builder_class('oulu').OPTIONS)
  config.data.image_size = 128
  config.data.split_scheme = 'subject'
  config.data.test_fraction = OULU_TEST_SUBJECTS / OULU_SUBJECTS
  config.data.flip = True
  # Psi judges the edits (and reads a reference's class in the editor);
  # ExprGAN's three stages as the release's run_oulu.sh runs them
  # (config.exprgan's defaults); the identity judge and the evaluation.
  config.stages = (('data', 'classifier') + exprgan_trainer.STAGE_NAMES
                   + ('identity_judge', 'evaluate'))
  if variant == 'smoke':
    default.smoke_exprgan(config)
  return rafd.with_variant(config, variant, 'configs/oulu.py')

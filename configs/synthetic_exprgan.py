"""ExprGAN on SynthFaces at 32 px: its three training stages.

The faces are configs/synthetic.py's (frontal, 200 people, split by
subject), judged by the same Psi and identity judge as LEED's default job.
`:smoke` shrinks everything to a run of a minute or two (the tests use it).
`:with_leed` trains LEED's default job and ExprGAN in one workdir, so one
report compares LEED, StarGAN and ExprGAN on the same pairs (about 90
minutes on 2 cores).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(__file__))
import default  # pylint: disable=g-import-not-at-top,wrong-import-position
import synthetic  # pylint: disable=g-import-not-at-top,wrong-import-position

from leedjax.trainers import exprgan as exprgan_trainer  # pylint: disable=g-import-not-at-top,wrong-import-position


def get_config(variant: str = ''):
  if variant not in ('', 'smoke', 'with_leed'):
    raise ValueError(f"Unknown variant {variant!r} of "
                     "configs/synthetic_exprgan.py: use no variant, ':smoke' "
                     "or ':with_leed'.")
  config = synthetic.get_config('smoke' if variant == 'smoke' else '')
  if variant == 'with_leed':
    stages = list(config.stages)
    at = stages.index('identity_judge')
    config.stages = tuple(stages[:at] + list(exprgan_trainer.STAGE_NAMES)
                          + stages[at:])
  else:
    config.stages = (('data', 'classifier') + exprgan_trainer.STAGE_NAMES
                     + ('identity_judge', 'evaluate'))
  exprgan = config.exprgan
  # A quarter of the paper's widths for a 2-core CPU; the paper's batch.
  # Step times (`python -m leedjax.bench --config=configs/synthetic_exprgan.py
  # --devices=1 --trainers=exprgan_controller,...`, 2 cores): controller
  # 0.41 s, reconstruction 1.14 s, refinement 1.24 s (VGG16's identity
  # features make three quarters of the later stages' 98 GFLOP). These
  # step counts (about 31 minutes) are a first sizing, not yet chosen from
  # learning curves.
  exprgan.width = 0.25
  exprgan.controller.num_steps = 500
  exprgan.reconstruction.num_steps = 800
  exprgan.refinement.num_steps = 600
  if variant == 'smoke':
    default.smoke_exprgan(config)
  return config

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
  _small_trainers(config)
  _small_leed(config)
  if variant == 'smoke':
    config.data.image_size = 32
    config.data.synthfaces.num_subjects = 10
    config.data.synthfaces.intensities = (1.0,)
    config.data.test_fraction = 0.2  # two test subjects to edit across
    _smoke_trainers(config)
  elif variant:
    raise ValueError(f"Unknown variant {variant!r} of configs/synthetic.py: "
                     "use no variant or ':smoke'.")
  return config


def _small_trainers(config):
  """Trainer sizes for a 2-core CPU at 64 px. Step times are medians after
  warm-up, measured on 2 cores; walls include compiling."""
  classifier = config.classifier
  classifier.width = 0.25          # 128-wide features
  classifier.batch_size = 32       # ~100 ms a step
  classifier.num_steps = 1_000     # ~4.4 epochs, ~2 min
  classifier.warmup_steps = 50
  classifier.learning_rate = 2e-3
  classifier.log_every = 50
  classifier.checkpoint_every = 500
  classifier.sample_every = 500

  judge = config.identity_judge
  judge.width = 0.25
  judge.batch_size = 32
  judge.num_steps = 500            # ~1 min; 7 test subjects are easy
  judge.warmup_steps = 50
  judge.learning_rate = 2e-3
  judge.log_every = 50
  judge.checkpoint_every = 500
  judge.sample_every = 500

  # The release's recipe, on small networks. 300 steps (1,500 D and 300 G
  # updates) are far too few for good neutral faces; they check the stage.
  neutralizer = config.neutralizer
  neutralizer.g_conv_dim = 16
  neutralizer.d_conv_dim = 8
  neutralizer.num_residual_blocks = 2
  neutralizer.batch_size = 8       # x n_critic (5) images a step
  neutralizer.num_steps = 300      # ~1.05 s a step, ~5.5 min
  neutralizer.log_every = 10
  neutralizer.checkpoint_every = 100
  neutralizer.sample_every = 50


def _small_leed(config):
  """LEED for a 2-core CPU (see the module docstring for the budget)."""
  leed = config.leed
  for field in ('width', 'critic_width', 'regularizer_width',
                'siamese_width'):
    leed[field] = 0.25
  leed.batch_size = 16
  leed.num_steps = 1_000
  leed.learning_rate = 3e-4
  leed.perceptual_layers = ('relu1_2',)
  leed.pixel_weight = 1.0
  leed.log_every = 25
  leed.checkpoint_every = 250
  leed.sample_every = 250


def _smoke_trainers(config):
  """A few steps of each trainer, to check that everything runs."""
  for section in (config.classifier, config.identity_judge):
    section.num_steps = 4
    section.warmup_steps = 1
    section.batch_size = 8
    section.eval_batch_size = 16
  neutralizer = config.neutralizer
  neutralizer.num_steps = 2
  neutralizer.n_critic = 2         # the step unrolls n_critic D updates
  neutralizer.batch_size = 4
  neutralizer.g_conv_dim = 8
  neutralizer.d_conv_dim = 8
  neutralizer.num_residual_blocks = 1
  leed = config.leed
  for field in ('width', 'critic_width', 'regularizer_width',
                'siamese_width'):
    leed[field] = 0.125
  leed.batch_size = 4
  leed.num_steps = 2
  config.cache.batch_size = 16
  config.evaluate.batch_size = 16
  for section in (config.classifier, config.identity_judge, neutralizer,
                  leed):
    section.log_every = 1
    section.checkpoint_every = 2
    section.sample_every = 2

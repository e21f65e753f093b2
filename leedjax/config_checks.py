"""Checks a config before anything runs, naming the field at fault.

A run that would fail an hour in (a batch that does not split over the
devices, an image size the networks cannot take) fails here at start instead.
"""

import math

import ml_collections

from leedjax.data import datasets
from leedjax.nets import leed as leed_nets
from leedjax.trainers import exprgan

# Networks halve the image four times down to LEED's codes and back up; the
# supplementary tables are at 128 px.
IMAGE_SIZES = (16, 32, 64, 128, 256)
MAX_YAW = 90.0


class ConfigError(ValueError):
  """A config field holds a value the run cannot use."""


def _require(condition: bool, field: str, value, why: str) -> None:
  if not condition:
    raise ConfigError(f'config.{field}={value!r}: {why}')


def check(config: ml_collections.ConfigDict, *, num_devices: int,
          num_processes: int = 1, known_stages=('data',)) -> None:
  """Raises ConfigError naming the first field that cannot work.

  Args:
    config: the run's config.
    num_devices: devices the data mesh spans (jax.device_count()).
    num_processes: jax.process_count().
    known_stages: the stages this version of leedjax can run.
  """
  stages = tuple(config.stages)
  unknown = [stage for stage in stages if stage not in known_stages]
  _require(stages and not unknown, 'stages', stages,
           f'each stage must be one of {tuple(known_stages)}.')
  _require(len(set(stages)) == len(stages), 'stages', stages,
           'a stage is listed twice.')

  data = config.data
  try:
    datasets.split_names(data)
    datasets.builder(data)
  except (ValueError, NotImplementedError) as error:
    raise ConfigError(str(error)) from error
  _require(data.image_size in IMAGE_SIZES, 'data.image_size', data.image_size,
           f'the networks take square images of {IMAGE_SIZES} pixels.')
  _require(0.0 < data.test_fraction < 1.0, 'data.test_fraction',
           data.test_fraction, 'must lie strictly between 0 and 1.')
  _require(data.num_workers >= 0, 'data.num_workers', data.num_workers,
           'cannot be negative.')
  _require(data.prefetch >= 0, 'data.prefetch', data.prefetch,
           'cannot be negative.')
  _require(config.leed.code_stride in leed_nets.CODE_STRIDES,
           'leed.code_stride', config.leed.code_stride,
           f'E downsamples by one of {leed_nets.CODE_STRIDES} (16: the '
           'paper\'s tables).')
  resamplings = leed_nets.num_resamplings(config.leed.code_stride)
  for field in ('encoder_blocks', 'decoder_stages'):
    blocks = config.leed[field]
    _require(len(blocks) > resamplings and all(
        len(block) and all(int(c) > 0 for c in block) for block in blocks),
             f'leed.{field}', blocks,
             f'give at least {resamplings + 1} non-empty tuples of positive '
             f'channel counts for code_stride {config.leed.code_stride}, e.g. '
             '((64,), (128,), (256,)).')
  _require(config.neutralizer.get('ema_decay', 0.0) >= 0.0 and
           config.neutralizer.get('ema_decay', 0.0) < 1.0,
           'neutralizer.ema_decay', config.neutralizer.get('ema_decay'),
           'must lie in [0, 1) (0: no moving average).')
  _require(config.neutralizer.get('lambda_identity', 0.0) >= 0.0,
           'neutralizer.lambda_identity',
           config.neutralizer.get('lambda_identity'),
           'cannot be negative (0: the StarGAN release, no identity term).')

  if datasets.is_synthetic(data):
    _check_synthfaces(data, stages)
  else:
    _check_real_data(config, stages)
  _check_exprgan_order(stages)
  _check_evaluate_order(stages)
  for stage in stages:
    section = config.get(stage)
    if stage in exprgan.STAGE_NAMES:  # one section for the three
      section, stage = config.exprgan, 'exprgan'
    if section is None or 'batch_size' not in section:
      continue
    batch = section.batch_size
    _require(batch > 0 and batch % num_devices == 0 and
             batch % num_processes == 0, f'{stage}.batch_size', batch,
             f'the global batch must split evenly over {num_devices} '
             f'device(s) and {num_processes} process(es); use a multiple of '
             f'{math.lcm(num_devices, num_processes)}.')


def _check_synthfaces(data, stages) -> None:
  grid = data.synthfaces
  _require(grid.num_subjects >= 2, 'data.synthfaces.num_subjects',
           grid.num_subjects, 'needs at least two subjects to split.')
  if data.split_scheme == 'subject':
    held_out = round(data.test_fraction * grid.num_subjects)
    # Evaluation edits each test subject towards another test subject.
    needed = 2 if 'evaluate' in stages else 1
    _require(needed <= held_out < grid.num_subjects, 'data.test_fraction',
             data.test_fraction,
             f'holds out {held_out} of {grid.num_subjects} subjects; the '
             f'subject split needs at least {needed} in the test split and '
             'one in the training split.')
  _require(len(grid.intensities) > 0 and all(
      0.0 < value <= 1.5 for value in grid.intensities),
           'data.synthfaces.intensities', grid.intensities,
           'give one or more intensities in (0, 1.5].')
  _require(len(grid.angles) > 0 and all(
      math.isfinite(a) and abs(a) <= MAX_YAW for a in grid.angles),
           'data.synthfaces.angles', grid.angles,
           f'give one or more yaw angles within +-{MAX_YAW:g} degrees.')
  _require(len(set(grid.angles)) == len(grid.angles) and
           list(grid.angles) == sorted(grid.angles),
           'data.synthfaces.angles', grid.angles,
           'angles must be distinct and in increasing order.')
  _require(0.0 <= grid.max_gaze <= 1.0, 'data.synthfaces.max_gaze',
           grid.max_gaze, 'must lie in [0, 1].')


# Stages that learn from, or judge, which person is in each image.
_NEED_PEOPLE = ('neutralizer', 'cache', 'leed', 'identity_judge', 'evaluate')


def _check_real_data(config, stages) -> None:
  data = config.data
  _require(not config.neutralizer.get('use_renderer_neutral', False),
           'neutralizer.use_renderer_neutral', True,
           'only SynthFaces can render exact neutral faces; real datasets '
           'use the StarGAN neutralizer (False).')
  _require(data.crop_margin >= 0.0, 'data.crop_margin', data.crop_margin,
           'cannot be negative.')
  if not datasets.builder_class(data.dataset).has_subjects(
      datasets.options_of(data)):
    needing = [stage for stage in stages if stage in _NEED_PEOPLE
               or stage in exprgan.STAGE_NAMES]
    _require(not needing, 'stages', stages,
             f'{data.dataset} does not say who is in each image, which '
             f'{needing} need (pairs of people, identity); train only Psi '
             'on it: --config.stages=data,classifier.')


def _check_evaluate_order(stages: tuple) -> None:
  """Evaluation judges with Psi ('classifier') and edits with LEED or
  ExprGAN: they must be trained before it."""
  if 'evaluate' not in stages:
    return
  before = stages[:stages.index('evaluate')]
  _require('classifier' in before, 'stages', stages,
           "evaluate judges the edits with Psi: list 'classifier' before "
           'it.')
  _require('leed' in before or any(name in before
                                   for name in exprgan.STAGE_NAMES),
           'stages', stages,
           "evaluate needs an editor: list 'leed' or ExprGAN's stages "
           f'{exprgan.STAGE_NAMES} before it.')


def _check_exprgan_order(stages: tuple) -> None:
  """ExprGAN's stages continue each other: each needs the one before it
  earlier in the list (its networks are where the next one starts)."""
  for index, stage in enumerate(exprgan.STAGE_NAMES[1:], start=1):
    if stage not in stages:
      continue
    before = exprgan.STAGE_NAMES[index - 1]
    _require(before in stages[:stages.index(stage)], 'stages', stages,
             f'{stage} starts from the networks {before} trained: list '
             f'{before} before it.')

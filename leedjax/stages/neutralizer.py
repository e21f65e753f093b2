"""The `neutralizer` stage: StarGAN trained with expression labels.

Used frozen afterwards as G(x, onehot(neutral)) to make neutral faces. Its
summary measures them on the test split: how often Psi calls them neutral
and, on SynthFaces, their SSIM to the exact neutral face the renderer draws
(beside the SSIM of the unedited input, the do-nothing baseline);
leedjax/curves.py measures every kept checkpoint the same way.
"""

import functools

import jax
import numpy as np

from leedjax import loop
from leedjax.data import datasets
from leedjax.data import pipeline
from leedjax.data import sharding
from leedjax.data import synthfaces
from leedjax.data import tfds_synthfaces
from leedjax.evaluation import scores
from leedjax.stages import batched
from leedjax.trainers import base
from leedjax.trainers import stargan


def _neutral_class(context) -> int:
  names = datasets.expression_names(context.builder)
  neutral = datasets.neutral_class(names)
  if neutral is None:
    raise datasets.DatasetError(
        f'{context.config.data.dataset} has no neutral class ({names}), '
        'which LEED\'s neutralizer translates every face to. Train ExprGAN '
        'on it instead (configs/oulu.py), or add neutral faces (e.g. '
        'configs/oulu.py\'s options.neutral_first_frame=True).')
  return neutral


def _trainer(context):
  _neutral_class(context)  # a dataset without one fails before training
  return stargan.StarGANTrainer(
      context.config.neutralizer, context.config.data, context.source('train'),
      class_names=datasets.expression_names(context.builder))


def _outputs(context, trainer, state):
  # G has no batch statistics; the moving average where there is one.
  variables = sharding.local_copy(
      {'params': stargan.generator_params(state.params)})
  neutralize = jax.jit(functools.partial(
      stargan.neutralize, trainer.generator,
      neutral_class=_neutral_class(context)))
  context.outputs['neutralizer'] = {
      'generator': trainer.generator, 'variables': variables,
      'neutralize': functools.partial(neutralize, variables)}


def run(context, stage_dir) -> dict:
  trainer = _trainer(context)
  state = loop.train(trainer, context.config.neutralizer, stage_dir,
                     mesh=context.mesh, seed=context.config.seed)
  _outputs(context, trainer, state)
  return {'generator_updates': int(state.step), **measure(context)}


def measure(context) -> dict:
  """The trained neutralizer's test neutral faces: how often Psi calls them
  neutral, how often the identity judge still knows their person (when it is
  trained) and, on SynthFaces, their SSIM to the exact neutral face."""
  config = context.config
  batch_size = config.evaluate.batch_size
  records = batched.test_records(context, batch_size)
  neutralize = context.outputs['neutralizer']['neutralize']
  neutral = batched.in_batches(
      lambda x: base.to_uint8(neutralize(pipeline.to_float(x))),
      [records['image']], batch_size)
  summary = {}
  if 'classifier' in context.outputs:
    calls = batched.predicted_classes(context.outputs['classifier']['predict'],
                                      neutral, batch_size)
    summary['psi_calls_neutral'] = float(np.mean(
        calls == _neutral_class(context)))
  if 'identity_judge' in context.outputs:
    people = batched.predicted_classes(
        context.outputs['identity_judge']['predict'], neutral, batch_size)
    summary['identity_retention'] = float(np.mean(people
                                                  == records['subject']))
  if config.data.dataset == 'synth_faces':
    catalog = synthfaces.Catalog(tfds_synthfaces.config_from(config.data).grid)
    truth = catalog.render_neutral(records['catalog_row'],
                                   config.data.image_size)
    summary['ssim_to_true_neutral'] = float(np.mean(
        scores.ssim(neutral, truth, batch_size)))
    summary['ssim_input_to_true_neutral'] = float(np.mean(
        scores.ssim(records['image'], truth, batch_size)))
  return summary


def load(context, stage_dir, step: int | None = None):
  trainer = _trainer(context)
  _outputs(context, trainer, loop.restore_final(
      trainer, context.config.neutralizer, stage_dir, mesh=context.mesh,
      seed=context.config.seed, step=step))

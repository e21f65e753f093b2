"""The `neutralizer` stage: StarGAN trained with expression labels.

Used frozen afterwards as G(x, onehot(neutral)) to make neutral faces.
"""

import functools

import jax

from leedjax import loop
from leedjax.trainers import stargan


def _trainer(context):
  return stargan.StarGANTrainer(context.config.neutralizer,
                                context.config.data, context.source('train'))


def _outputs(context, trainer, state):
  variables = state.variables(stargan.GENERATOR)
  neutralize = jax.jit(functools.partial(stargan.neutralize,
                                         trainer.generator))
  context.outputs['neutralizer'] = {
      'generator': trainer.generator, 'variables': variables,
      'neutralize': functools.partial(neutralize, variables)}


def run(context, stage_dir) -> dict:
  trainer = _trainer(context)
  state = loop.train(trainer, context.config.neutralizer, stage_dir,
                     mesh=context.mesh, seed=context.config.seed)
  _outputs(context, trainer, state)
  return {'generator_updates': int(state.step)}


def load(context, stage_dir):
  trainer = _trainer(context)
  _outputs(context, trainer, loop.restore_final(
      trainer, context.config.neutralizer, stage_dir, mesh=context.mesh,
      seed=context.config.seed))

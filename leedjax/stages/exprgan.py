"""The ExprGAN stages: `exprgan_controller`, `exprgan_reconstruction` and
`exprgan_refinement` (the paper's incremental training, trainers/exprgan.py).

Each is trained by the generic loop and resumes from its own checkpoints; a
later stage starts from the networks the one before it finished with.
"""

import functools

from leedjax import loop
from leedjax.data import datasets
from leedjax.data import sharding
from leedjax.nets import layers
from leedjax.trainers import exprgan as exprgan_lib
from leedjax.weights import vgg16

# Stage name -> the trainer's stage, in training order.
STAGE_NAMES = dict(zip(exprgan_lib.STAGE_NAMES, exprgan_lib.STAGES))


def previous_stage(name: str) -> str | None:
  """The stage `name` starts from; None for the first."""
  names = list(STAGE_NAMES)
  index = names.index(name)
  return names[index - 1] if index else None


def _trainer(context, name: str) -> exprgan_lib.ExprGANTrainer:
  config = context.config
  previous = previous_stage(name)
  return exprgan_lib.ExprGANTrainer(
      config.exprgan, config.data, context.source('train'),
      vgg16.load_vgg16_params(), stage=STAGE_NAMES[name],
      previous=(context.outputs[previous]['state'] if previous else None),
      class_names=datasets.expression_names(context.builder))


def _outputs(context, trainer, state, name):
  context.outputs[name] = {
      'nets': trainer.nets, 'state': state,
      'variables': sharding.local_copy(
          {net: state.variables(net) for net in exprgan_lib.NETS}),
      'num_classes': trainer.num_classes, 'code_dim': trainer.code_dim,
      'identity_dim': trainer.identity_dim,
      'neutral': datasets.neutral_class(trainer.class_names)}


def final_outputs(context) -> dict | None:
  """The outputs of the last ExprGAN stage the config lists, once it has
  run or loaded (what evaluation and editing use); None without one."""
  return context.outputs.get(
      exprgan_lib.last_listed_stage(context.config.stages))


def run(context, stage_dir, name: str) -> dict:
  trainer = _trainer(context, name)
  state = loop.train(trainer, context.config.exprgan[trainer.stage],
                     stage_dir, mesh=context.mesh, seed=context.config.seed)
  _outputs(context, trainer, state, name)
  return {'steps': int(state.step),
          'parameters': {net: layers.count_params(state.params[net])
                         for net in exprgan_lib.NETS}}


def load(context, stage_dir, name: str, step: int | None = None):
  trainer = _trainer(context, name)
  _outputs(context, trainer, loop.restore_final(
      trainer, context.config.exprgan[trainer.stage], stage_dir,
      mesh=context.mesh, seed=context.config.seed, step=step), name)


# Stage name -> (run, load).
STAGES = {name: (functools.partial(run, name=name),
                 functools.partial(load, name=name))
          for name in STAGE_NAMES}

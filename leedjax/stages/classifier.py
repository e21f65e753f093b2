"""The `classifier` stage (Psi) and the `identity_judge` stage.

Psi learns the expressions of the training split; its penultimate features
are what LEED's Q predicts, and it judges the edits' expressions. The
identity judge learns the subjects of the split whose edits are judged (the
test split), from most of their real images; the rest measure it.
"""

import functools

import jax

from leedjax import loop
from leedjax.data import pipeline
from leedjax.data import sharding
from leedjax.trainers import classifier as classifier_lib


def _trainer(context, name: str, settings, source):
  num_classes = classifier_lib.num_classes_of(settings.label_key,
                                              context.builder)
  return classifier_lib.ClassifierTrainer(
      settings, context.config.data, source, num_classes=num_classes,
      name=name)


def _judge_sources(context):
  settings = context.config.identity_judge
  return classifier_lib.holdout_split(
      context.source(settings.train_split), settings.holdout_fraction,
      context.config.data.split_seed)


def _outputs(trainer, state):
  """The net, its variables, and a jitted eval-mode predictor bound to them:
  images -> (logits, features)."""
  variables = sharding.local_copy(state.variables(classifier_lib.NET))
  predict = jax.jit(functools.partial(classifier_lib.predict, trainer.model))
  return {'model': trainer.model, 'variables': variables,
          'predict': functools.partial(predict, variables)}


def _accuracy(context, trainer, state, source, settings) -> float:
  return classifier_lib.evaluate(
      trainer.model, state.variables(classifier_lib.NET),
      pipeline.eval_batches(source, context.config.data,
                            settings.eval_batch_size),
      label_key=settings.label_key, mesh=context.mesh)


def _train(context, stage_dir, name, settings, train_source):
  trainer = _trainer(context, name, settings, train_source)
  state = loop.train(trainer, settings, stage_dir, mesh=context.mesh,
                     seed=context.config.seed)
  context.outputs[name] = _outputs(trainer, state)
  return trainer, state


def _load(context, stage_dir, name, settings, train_source):
  trainer = _trainer(context, name, settings, train_source)
  state = loop.restore_final(trainer, settings, stage_dir, mesh=context.mesh,
                             seed=context.config.seed)
  context.outputs[name] = _outputs(trainer, state)


# ---------------------------------------------------------------- classifier
def run(context, stage_dir) -> dict:
  settings = context.config.classifier
  trainer, state = _train(context, stage_dir, 'classifier', settings,
                          context.source('train'))
  return {'test_accuracy': _accuracy(context, trainer, state,
                                     context.source('test'), settings)}


def load(context, stage_dir):
  _load(context, stage_dir, 'classifier', context.config.classifier,
        context.source('train'))


# ------------------------------------------------------------ identity judge
def run_judge(context, stage_dir) -> dict:
  settings = context.config.identity_judge
  train_part, held_out = _judge_sources(context)
  trainer, state = _train(context, stage_dir, 'identity_judge', settings,
                          train_part)
  return {'held_out_accuracy': _accuracy(context, trainer, state, held_out,
                                         settings),
          'num_held_out': len(held_out)}


def load_judge(context, stage_dir):
  _load(context, stage_dir, 'identity_judge', context.config.identity_judge,
        _judge_sources(context)[0])

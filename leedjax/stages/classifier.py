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


def _accuracy(context, name, source, settings) -> float:
  """The accuracy of the trained `context.outputs[name]` on `source`."""
  trained = context.outputs[name]
  return classifier_lib.evaluate(
      trained['model'], trained['variables'],
      pipeline.eval_batches(source, context.config.data,
                            settings.eval_batch_size),
      label_key=settings.label_key, mesh=context.mesh)


def test_accuracy(context) -> float:
  """Psi's accuracy on the test split."""
  return _accuracy(context, 'classifier', context.source('test'),
                   context.config.classifier)


def judge_held_out_accuracy(context) -> float:
  """The identity judge's accuracy on its held-out images."""
  return _accuracy(context, 'identity_judge', _judge_sources(context)[1],
                   context.config.identity_judge)


def _train(context, stage_dir, name, settings, train_source):
  trainer = _trainer(context, name, settings, train_source)
  state = loop.train(trainer, settings, stage_dir, mesh=context.mesh,
                     seed=context.config.seed)
  context.outputs[name] = _outputs(trainer, state)


def _load(context, stage_dir, name, settings, train_source, step):
  trainer = _trainer(context, name, settings, train_source)
  state = loop.restore_final(trainer, settings, stage_dir, mesh=context.mesh,
                             seed=context.config.seed, step=step)
  context.outputs[name] = _outputs(trainer, state)


# ---------------------------------------------------------------- classifier
def run(context, stage_dir) -> dict:
  _train(context, stage_dir, 'classifier', context.config.classifier,
         context.source('train'))
  return {'test_accuracy': test_accuracy(context)}


def load(context, stage_dir, step: int | None = None):
  _load(context, stage_dir, 'classifier', context.config.classifier,
        context.source('train'), step)


# ------------------------------------------------------------ identity judge
def run_judge(context, stage_dir) -> dict:
  train_part, held_out = _judge_sources(context)
  _train(context, stage_dir, 'identity_judge', context.config.identity_judge,
         train_part)
  return {'held_out_accuracy': judge_held_out_accuracy(context),
          'num_held_out': len(held_out)}


def load_judge(context, stage_dir, step: int | None = None):
  _load(context, stage_dir, 'identity_judge', context.config.identity_judge,
        _judge_sources(context)[0], step)

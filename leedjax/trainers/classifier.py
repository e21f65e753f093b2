"""Image classifiers: Psi, the expression classifier, and the identity judge.

One trainer serves both: `settings.label_key` names the integer label field of
the views it learns ('expression' for Psi, stage `classifier`; 'subject' for
the evaluation's identity judge, stage `identity_judge`). The network is the
ResNet-18-style `ExpressionClassifier`, trained with softmax cross-entropy and
AdamW under a warmup + cosine schedule, on images degraded as real photos are
(`data/augment.py`, in the step); flips come from the input pipeline.

Later stages use the pure helpers: `predict` (logits and Psi's penultimate
features, in eval mode) and `evaluate` (accuracy over an eval iterator).
"""

import functools
from typing import Iterator

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax

from leedjax import losses
from leedjax.data import augment
from leedjax.data import datasets
from leedjax.data import pipeline
from leedjax.data import sharding
from leedjax.nets.classifier import ExpressionClassifier
from leedjax.trainers import base
from leedjax.trainers.state import TrainState

NET = 'classifier'


def num_classes_of(label_key: str, prepared) -> int:
  """How many classes a label field of a prepared dataset's views has."""
  if label_key == 'expression':
    return len(datasets.expression_names(prepared))
  if label_key == 'subject':
    # Subject ids are global (0..num_subjects-1) in every split.
    return datasets.num_subjects(prepared)
  raise ValueError(f"Unknown label_key {label_key!r}: use 'expression' or "
                   "'subject'.")


def make_model(settings: ml_collections.ConfigDict,
               num_classes: int) -> ExpressionClassifier:
  """The classifier network of a stage's settings (e.g. config.classifier)."""
  return ExpressionClassifier(num_classes=num_classes,
                              width=float(settings.width),
                              stem_stride=int(settings.stem_stride))


def learning_rate_schedule(
    settings: ml_collections.ConfigDict) -> optax.Schedule:
  """Linear warmup to `learning_rate`, then cosine decay to 0."""
  return optax.warmup_cosine_decay_schedule(
      init_value=0.0, peak_value=float(settings.learning_rate),
      warmup_steps=int(settings.warmup_steps),
      decay_steps=max(int(settings.num_steps), int(settings.warmup_steps) + 1),
      end_value=0.0)


def predict(model: ExpressionClassifier, variables,
            images: jax.Array) -> tuple[jax.Array, jax.Array]:
  """(logits, features) in eval mode (running BatchNorm statistics).

  Args:
    model: the network, e.g. `make_model(config.classifier, num_classes)`.
    variables: its flax variables ({'params', 'batch_stats'}), e.g.
      `state.variables('classifier')`.
    images: (B, S, S, 3) floats in [-1, 1], or uint8 (mapped to [-1, 1]).

  Returns:
    (logits (B, num_classes), features (B, feature_dim(width))).
  """
  if images.dtype == jnp.uint8:
    images = pipeline.to_float(images)
  return model.apply(variables, images, train=False)


@functools.lru_cache(maxsize=16)
def _hit_counter(model: ExpressionClassifier, label_key: str):
  """A jitted (variables, batch) -> (hits, unmasked rows), one per model,
  so that evaluating again does not compile again."""

  @jax.jit
  def count(variables, batch):
    logits, _ = predict(model, variables, batch['image'])
    hits = (jnp.argmax(logits, axis=-1) == batch[label_key]) & batch['mask']
    return jnp.sum(hits), jnp.sum(batch['mask'])

  return count


def evaluate(model: ExpressionClassifier, variables,
             batches: Iterator[base.Batch], *, label_key: str,
             mesh: jax.sharding.Mesh | None = None) -> float:
  """Accuracy over every unmasked example of an eval iterator.

  Args:
    model: the network.
    variables: its flax variables.
    batches: `pipeline.eval_batches(...)`: numpy view batches with `mask`
      (padding rows are not counted).
    label_key: the label field to compare with (e.g. 'expression').
    mesh: when given, this process's rows are assembled into global batches
      sharded over it (needed with several processes); otherwise each batch
      runs on the default device.

  Returns:
    The fraction of examples whose argmax logit is their label.
  """
  count = _hit_counter(model, label_key)
  if mesh is not None:  # whatever devices they are on now
    variables = sharding.replicate(variables, mesh)
  correct = total = 0
  for batch in batches:
    batch = {key: batch[key] for key in ('image', label_key, 'mask')}
    if mesh is not None:
      batch = sharding.global_batch(batch, mesh)
    hits, seen = count(variables, batch)
    correct, total = correct + int(hits), total + int(seen)
  if not total:
    raise ValueError('evaluate: the iterator held no unmasked examples.')
  return correct / total


class ClassifierTrainer:
  """Trains a classifier on one integer label field of the views.

  Attributes:
    name: the stage's name ('classifier' or 'identity_judge').
    num_steps: train steps.
    label_key: the label field learned.
    frozen: None (the step needs no frozen networks).
    model: the network.
  """

  def __init__(self, settings: ml_collections.ConfigDict,
               data_config: ml_collections.ConfigDict,
               source: pipeline.Source, *, num_classes: int,
               name: str = 'classifier'):
    """Builds the networks and optimizers of a stage.

    Args:
      settings: the stage's config section (config.classifier or
        config.identity_judge).
      data_config: config.data (pipeline fields).
      source: the split to train on, `builder.as_data_source(split)`.
      num_classes: classes of `settings.label_key` (see `num_classes_of`).
      name: the stage's name.
    """
    self.name = name
    self.num_steps = int(settings.num_steps)
    self.label_key = str(settings.label_key)
    self.frozen = None  # no frozen networks
    self.model = make_model(settings, num_classes)
    self._settings = settings
    self._data_config = data_config
    self._source = source
    self._schedule = learning_rate_schedule(settings)
    # Made once: states share it, so their tree structures compare equal.
    self._optimizer = optax.adamw(self._schedule,
                                  weight_decay=float(settings.weight_decay))

  def batches(self):
    return pipeline.image_batches(self._source, self._data_config,
                                  int(self._settings.batch_size))

  def optimizer(self) -> optax.GradientTransformation:
    """AdamW under `learning_rate_schedule`."""
    return self._optimizer

  def init(self, rng: jax.Array, batch: base.Batch) -> TrainState:
    images = pipeline.to_float(batch['image'])
    variables = self.model.init(rng, images, train=False)
    return TrainState.create({NET: variables}, {NET: self.optimizer()})

  def train_step(self, state: TrainState, batch: base.Batch, rng: jax.Array,
                 frozen=None) -> tuple[TrainState, base.Metrics]:
    """One AdamW step on the cross-entropy of the (degraded) training images
    (the loop advances `step`)."""
    del frozen  # no frozen nets
    images = pipeline.to_float(batch['image'])
    if self._settings.augment.enabled:
      images = augment.degrade(images, rng, self._settings.augment)
    labels = batch[self.label_key]

    def objective(params):
      (logits, _), updates = self.model.apply(
          {'params': params, 'batch_stats': state.batch_stats[NET]}, images,
          train=True, mutable=['batch_stats'])
      loss = losses.softmax_cross_entropy(
          logits=logits, labels=labels,
          label_smoothing=float(self._settings.label_smoothing))
      return loss, (logits, updates['batch_stats'])

    (loss, (logits, batch_stats)), grads = jax.value_and_grad(
        objective, has_aux=True)(state.params[NET])
    metrics = {
        'loss': loss,
        'accuracy': jnp.mean(jnp.argmax(logits, -1) == labels),
        'grad_norm': optax.tree.norm(grads),
        'learning_rate': self._schedule(state.step),
    }
    state = state.apply_gradients({NET: grads}).with_batch_stats(
        {NET: batch_stats})
    metrics['param_norm'] = optax.tree.norm(state.params[NET])
    return state, {k: jnp.asarray(v, jnp.float32) for k, v in metrics.items()}

  def samples(self, state: TrainState,
              batch: base.Batch) -> dict[str, base.SampleGrid]:
    del state, batch  # a classifier's progress is its accuracy, not images
    return {}


class Subset:
  """Some records of a random-access source (e.g. a held-out part)."""

  def __init__(self, source: pipeline.Source, indices):
    self._source = source
    self._indices = np.asarray(indices, np.int64)

  def __len__(self) -> int:
    return len(self._indices)

  def __getitem__(self, index: int):
    return self._source[int(self._indices[index])]


def holdout_split(source: pipeline.Source, fraction: float,
                  seed: int) -> tuple[Subset, Subset]:
  """(train, held_out) records of a source, held_out a random `fraction`.

  The identity judge learns the subjects of the split whose edits it judges;
  a held-out part of their real images measures how well it knows them.
  """
  order = np.random.default_rng([seed, 5]).permutation(len(source))
  num_held_out = int(round(fraction * len(source)))
  return (Subset(source, np.sort(order[num_held_out:])),
          Subset(source, np.sort(order[:num_held_out])))

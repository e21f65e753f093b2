"""The StarGAN neutralizer (Choi et al. 2018), trained with its own recipe.

LEED uses a StarGAN trained on the expression labels, frozen, as
`G(x, onehot(neutral))` (LEED Sec. 4, footnote 1). The recipe is the original
release's: WGAN-GP adversarial loss; D classifies real images, G's fakes must
be classified as their target; cycle reconstruction L1 with the original
labels; lambda_cls 1, lambda_rec 10, lambda_gp 10; n_critic (5) D updates
per G update; Adam(1e-4, 0.5, 0.999) for both; targets a random
permutation of the batch's labels; learning rates constant for the first half
of training, then linearly to 0. Two additions are not in the release: an
EMA of G's parameters (`ema_decay`) and CycleGAN's identity-mapping term
(`lambda_identity`, 0 in configs/default.py); docs/design.md says what each
fixes.

One jitted step is one round of that schedule (n_critic D updates, then one
G update against the updated D), so every step is the same compiled program;
`StarGANTrainer` says why it is not a `lax.cond` over single updates.
"""

import dataclasses
import functools
from typing import Sequence

import jax
import jax.numpy as jnp
import ml_collections
import optax

from leedjax import losses
from leedjax.data import pipeline
from leedjax.data import synthfaces
from leedjax.nets.stargan import Discriminator
from leedjax.nets.stargan import Generator
from leedjax.trainers import base
from leedjax.trainers.state import TrainState

GENERATOR = 'generator'
DISCRIMINATOR = 'discriminator'
# An exponential moving average of G's parameters (StarGAN v2's practice):
# it averages away the high-frequency noise the last updates leave in G's
# images. Updated after every G update; trained by no optimizer.
GENERATOR_EMA = 'generator_ema'
# Examples (columns) in the sample grid.
NUM_SAMPLES = 8


def make_generator(settings: ml_collections.ConfigDict,
                   num_classes: int) -> Generator:
  """G of a neutralizer config section."""
  return Generator(num_classes=num_classes, conv_dim=int(settings.g_conv_dim),
                   num_residual_blocks=int(settings.num_residual_blocks))


def make_discriminator(settings: ml_collections.ConfigDict, num_classes: int,
                       image_size: int) -> Discriminator:
  """D of a neutralizer config section, for square images of `image_size`."""
  repeat_num = settings.d_repeat_num
  return Discriminator(
      image_size=image_size, num_classes=num_classes,
      conv_dim=int(settings.d_conv_dim),
      repeat_num=None if repeat_num is None else int(repeat_num))


def decay_schedule(learning_rate: float, num_updates: int) -> optax.Schedule:
  """Constant for the first half of `num_updates`, then linearly to 0."""
  constant_steps = num_updates // 2
  return optax.join_schedules(
      [optax.constant_schedule(learning_rate),
       optax.linear_schedule(learning_rate, 0.0,
                             max(num_updates - constant_steps, 1))],
      boundaries=[constant_steps])


def generator_params(params: dict) -> dict:
  """The generator parameters to use once trained: the moving average where
  the state keeps one, else G's own."""
  return params.get(GENERATOR_EMA, params[GENERATOR])


def translate(generator: Generator, generator_variables, images: jax.Array,
              target_class: int | jax.Array) -> jax.Array:
  """G(x, onehot(target_class)): each face with the target expression.

  Args:
    generator: G, e.g. `make_generator(config.neutralizer, num_classes)`.
    generator_variables: its flax variables, e.g.
      `state.variables('generator')`.
    images: (B, H, W, 3) floats in [-1, 1], or uint8 (mapped to [-1, 1]).
    target_class: one class for every image, or (B,) classes.

  Returns:
    (B, H, W, 3) float images in [-1, 1].
  """
  if images.dtype == jnp.uint8:
    images = pipeline.to_float(images)
  targets = jax.nn.one_hot(
      jnp.broadcast_to(jnp.asarray(target_class), images.shape[:1]),
      generator.num_classes, dtype=images.dtype)
  return generator.apply(generator_variables, images, targets)


def neutralize(generator: Generator, generator_variables, images: jax.Array,
               neutral_class: int = synthfaces.NEUTRAL) -> jax.Array:
  """G(x, onehot(neutral)): each face with a neutral expression, as LEED's
  cache stage uses the frozen neutralizer (see `translate` for the
  arguments)."""
  return translate(generator, generator_variables, images, neutral_class)


@dataclasses.dataclass(frozen=True)
class StarGANObjectives:
  """D's and G's objectives, each a pure function of its own net's params
  first (the other net's params are closed over: not differentiated).

  Attributes:
    generator: G.
    discriminator: D.
    lambda_cls: weight of the classification terms.
    lambda_rec: weight of G's cycle reconstruction.
    lambda_gp: weight of D's gradient penalty.
    lambda_identity: weight of L1(G(x, c_x), x) (not in StarGAN; 0: off).
  """
  generator: Generator
  discriminator: Discriminator
  lambda_cls: float
  lambda_rec: float
  lambda_gp: float
  lambda_identity: float = 0.0

  def _onehot(self, labels: jax.Array) -> jax.Array:
    return jax.nn.one_hot(labels, self.generator.num_classes)

  def _discriminate(self, d_params, images):
    return self.discriminator.apply({'params': d_params}, images)

  def _translate(self, g_params, images, labels):
    return self.generator.apply({'params': g_params}, images,
                                self._onehot(labels))

  def discriminator_loss(self, d_params, g_params, images: jax.Array,
                         labels: jax.Array, target_labels: jax.Array,
                         rng: jax.Array):
    """WGAN-GP critic loss + lambda_cls * CE(D_cls(x), labels).

    Returns:
      (total, parts) with parts named 'adversarial', 'classification',
      'gradient_penalty' (unweighted).
    """
    # Fakes are inputs here: D's objective does not reach G's params.
    fakes = jax.lax.stop_gradient(
        self._translate(g_params, images, target_labels))
    real_scores, real_logits = self._discriminate(d_params, images)
    fake_scores, _ = self._discriminate(d_params, fakes)
    penalty = losses.gradient_penalty(
        critic_fn=lambda x: self._discriminate(d_params, x)[0],
        real=images, fake=fakes, rng=rng)
    return losses.stargan_discriminator_loss(
        real_src=real_scores, fake_src=fake_scores,
        real_cls_logits=real_logits, real_labels=labels,
        gradient_penalty=penalty, lambda_cls=self.lambda_cls,
        lambda_gp=self.lambda_gp)

  def generator_loss(self, g_params, d_params, images: jax.Array,
                     labels: jax.Array, target_labels: jax.Array):
    """-D(G(x, c)) + lambda_cls * CE(D_cls(G(x, c)), c)
    + lambda_rec * L1(G(G(x, c), c_orig), x)
    [+ lambda_identity * L1(G(x, c_orig), x), when lambda_identity > 0].

    Returns:
      (total, parts) with parts named 'adversarial', 'classification',
      'reconstruction' (unweighted).
    """
    fakes = self._translate(g_params, images, target_labels)
    fake_scores, fake_logits = self._discriminate(d_params, fakes)
    reconstructions = self._translate(g_params, fakes, labels)
    same_domain = (self._translate(g_params, images, labels)
                   if self.lambda_identity else None)
    return losses.stargan_generator_loss(
        fake_src=fake_scores, fake_cls_logits=fake_logits,
        target_labels=target_labels, reconstruction=reconstructions,
        original=images, lambda_cls=self.lambda_cls,
        lambda_rec=self.lambda_rec, same_domain=same_domain,
        lambda_identity=self.lambda_identity)


def ema_decay_at(decay: float, step: jax.Array) -> jax.Array:
  """The EMA's decay after G update `step` (0-based): min(decay,
  (1 + step) / (10 + step)). A fixed 0.999 would still hold .999**1000 =
  37% of the random initial G after 1,000 updates (measured: neutral faces
  under coloured noise); the ramp forgets the start as fast as a plain
  average of the updates so far would."""
  step = jnp.asarray(step, jnp.float32)
  return jnp.minimum(decay, (1.0 + step) / (10.0 + step))


class StarGANTrainer:
  """Trains G and D on one integer label field (the expressions).

  One train step is one iteration of the release's outer schedule: the
  batch holds `n_critic` micro-batches of `batch_size` images; D is updated
  on each in turn, then G once, on the last micro-batch and its targets,
  against the updated D (the release's `(i + 1) % n_critic == 0` step). So
  every step does the same work, with no `lax.cond`: XLA:CPU keeps
  convolution gradients inside a conditional branch in a slow generic form
  (measured 11x slower for G's update), while the unrolled step costs only
  compile time, on any platform.

  Attributes:
    name: the stage's name ('neutralizer').
    num_steps: train steps = G updates; D is updated n_critic times as often.
    n_critic: D updates per G update.
    label_key: the label field (the domains).
    frozen: None (the step needs no frozen networks).
    generator: G.
    discriminator: D.
    objectives: D's and G's objectives.
  """

  def __init__(self, settings: ml_collections.ConfigDict,
               data_config: ml_collections.ConfigDict,
               source: pipeline.Source, *,
               class_names: Sequence[str] = synthfaces.EXPRESSIONS,
               name: str = 'neutralizer'):
    """Builds the networks and optimizers of a stage.

    Args:
      settings: config.neutralizer.
      data_config: config.data (image_size and pipeline fields).
      source: the training split, `builder.as_data_source(split)`.
      class_names: the domains (expressions), in label order.
      name: the stage's name.
    """
    self.name = name
    self.num_steps = int(settings.num_steps)
    self.label_key = str(settings.label_key)
    self.frozen = None  # no frozen networks
    self.n_critic = int(settings.n_critic)
    self.ema_decay = float(settings.ema_decay)
    if not 0 <= self.ema_decay < 1:
      raise ValueError(f'ema_decay must be in [0, 1), got {self.ema_decay}')
    if self.n_critic < 1:
      raise ValueError(f'n_critic must be >= 1, got {self.n_critic}')
    self.class_names = tuple(class_names)
    num_classes = len(self.class_names)
    self.generator = make_generator(settings, num_classes)
    self.discriminator = make_discriminator(settings, num_classes,
                                            int(data_config.image_size))
    self.objectives = StarGANObjectives(
        self.generator, self.discriminator,
        lambda_cls=float(settings.lambda_cls),
        lambda_rec=float(settings.lambda_rec),
        lambda_gp=float(settings.lambda_gp),
        lambda_identity=float(settings.lambda_identity))
    self._settings = settings
    self._data_config = data_config
    self._source = source
    # Made once: states share them, so their tree structures compare equal.
    b1, b2 = (float(b) for b in settings.betas)
    self._optimizers = {net: optax.adam(schedule, b1=b1, b2=b2)
                        for net, schedule in self.schedules().items()}

  @property
  def images_per_step(self) -> int:
    """Global batch of one step: n_critic micro-batches."""
    return self.n_critic * int(self._settings.batch_size)

  def batches(self):
    return pipeline.image_batches(self._source, self._data_config,
                                  self.images_per_step)

  def schedules(self) -> dict[str, optax.Schedule]:
    """Each net's learning rate as a function of its own update count."""
    settings = self._settings
    return {
        DISCRIMINATOR: decay_schedule(float(settings.d_learning_rate),
                                      self.num_steps * self.n_critic),
        GENERATOR: decay_schedule(float(settings.g_learning_rate),
                                  self.num_steps),
    }

  def optimizers(self) -> dict[str, optax.GradientTransformation]:
    """Adam(betas) under `schedules()`, one per net."""
    return dict(self._optimizers)

  def init(self, rng: jax.Array, batch: base.Batch) -> TrainState:
    images = pipeline.to_float(batch['image'])
    g_rng, d_rng = jax.random.split(rng)
    labels = jax.nn.one_hot(batch[self.label_key], self.generator.num_classes)
    variables = {GENERATOR: self.generator.init(g_rng, images, labels),
                 DISCRIMINATOR: self.discriminator.init(d_rng, images)}
    if self.ema_decay:
      variables[GENERATOR_EMA] = variables[GENERATOR]
    return TrainState.create(variables, self.optimizers())

  def target_labels(self, labels: jax.Array, rng: jax.Array) -> jax.Array:
    """A random permutation of the batch's labels (the release's targets)."""
    return jax.random.permutation(rng, labels)

  def micro_batches(self, batch: base.Batch) -> list[base.Batch]:
    """The step's n_critic micro-batches.

    Micro-batch k takes rows k, k + n, k + 2n, ... (n = n_critic), so that
    with the batch sharded over `data` each device holds its share of every
    micro-batch and the split moves no data.
    """
    def split(rows, k):
      if rows.shape[0] % self.n_critic:
        raise ValueError(f'A StarGAN step needs a multiple of n_critic='
                         f'{self.n_critic} images, got {rows.shape[0]}.')
      grouped = rows.reshape((-1, self.n_critic) + rows.shape[1:])
      return grouped[:, k]
    return [jax.tree.map(lambda rows, k=k: split(rows, k), batch)
            for k in range(self.n_critic)]

  def discriminator_step(self, state: TrainState, images: jax.Array,
                         labels: jax.Array, target_labels: jax.Array,
                         rng: jax.Array) -> tuple[TrainState, base.Metrics]:
    """One D update from D's objective alone (G is closed over)."""
    d_grads, (total, parts) = jax.grad(
        lambda p: _with_aux(self.objectives.discriminator_loss(
            p, state.params[GENERATOR], images, labels, target_labels, rng)),
        has_aux=True)(state.params[DISCRIMINATOR])
    metrics = base.loss_metrics('d', total, parts)
    metrics['d_grad_norm'] = optax.tree.norm(d_grads)
    return state.apply_gradients({DISCRIMINATOR: d_grads}), metrics

  def generator_step(self, state: TrainState, images: jax.Array,
                     labels: jax.Array,
                     target_labels: jax.Array) -> tuple[TrainState,
                                                        base.Metrics]:
    """One G update from G's objective alone (D is closed over)."""
    g_grads, (total, parts) = jax.grad(
        lambda p: _with_aux(self.objectives.generator_loss(
            p, state.params[DISCRIMINATOR], images, labels, target_labels)),
        has_aux=True)(state.params[GENERATOR])
    metrics = base.loss_metrics('g', total, parts)
    metrics['g_grad_norm'] = optax.tree.norm(g_grads)
    return state.apply_gradients({GENERATOR: g_grads}), metrics

  def train_step(self, state: TrainState, batch: base.Batch, rng: jax.Array,
                 frozen=None) -> tuple[TrainState, base.Metrics]:
    """n_critic D updates, then one G update (the loop advances `step`); D
    metrics are means over the D updates."""
    del frozen  # no frozen networks
    schedules = self.schedules()
    metrics = {
        'd_learning_rate': schedules[DISCRIMINATOR](
            state.step * self.n_critic),
        'g_learning_rate': schedules[GENERATOR](state.step),
    }
    d_metrics = []
    # Unrolled on purpose: a scan body is a nested computation too (slow
    # convolution gradients on CPU; see the class docstring).
    for micro, micro_rng in zip(self.micro_batches(batch),
                                jax.random.split(rng, self.n_critic)):
      images = pipeline.to_float(micro['image'])
      labels = micro[self.label_key]
      target_rng, penalty_rng = jax.random.split(micro_rng)
      targets = self.target_labels(labels, target_rng)
      state, step_metrics = self.discriminator_step(state, images, labels,
                                                    targets, penalty_rng)
      d_metrics.append(step_metrics)
    metrics |= jax.tree.map(lambda *values: jnp.mean(jnp.stack(values)),
                            *d_metrics)
    # The last micro-batch, as the release's G step reuses the batch and
    # targets of the D step just taken.
    state, g_metrics = self.generator_step(state, images, labels, targets)
    metrics |= g_metrics
    if self.ema_decay:
      decay = ema_decay_at(self.ema_decay, state.step)
      state = state.replace(params={**state.params, GENERATOR_EMA: jax.tree.map(
          lambda average, new: average + (1 - decay) * (new - average),
          state.params[GENERATOR_EMA], state.params[GENERATOR])})
    return state, {k: jnp.asarray(v, jnp.float32) for k, v in metrics.items()}

  def translations(self, generator_variables,
                   images: jax.Array) -> jax.Array:
    """(num_classes, B, H, W, 3): every image translated to every class."""
    return jnp.stack([
        translate(self.generator, generator_variables, images, label)
        for label in range(self.generator.num_classes)])

  def samples(self, state: TrainState,
              batch: base.Batch) -> dict[str, base.SampleGrid]:
    """A grid: the first inputs (top row), then one row per target class."""
    images = pipeline.to_float(batch['image'][:NUM_SAMPLES])
    rows = self._jitted_translations(
        {'params': generator_params(state.params)}, images)
    return {'translations': base.SampleGrid(
        jnp.concatenate([images[None], rows]),
        ('input', *self.class_names))}

  @functools.cached_property
  def _jitted_translations(self):
    return jax.jit(self.translations)


def _with_aux(loss_and_parts):
  """(total, parts) -> (total, (total, parts)) for `jax.grad(has_aux=True)`."""
  total, parts = loss_and_parts
  return total, (total, parts)

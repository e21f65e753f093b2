"""ExprGAN's training (Ding et al., AAAI 2018): its three incremental stages.

Networks (`leedjax.nets.exprgan`): the encoder G_enc, the generator G_dec,
the image discriminator D_img with the regularizer Q's heads on its trunk,
and the latent discriminator D_z. Per batch of faces x with labels y, a code
c = F_ctrl(y, z_y), z_y ~ U(-1, 1)^d (Eq. 3), and a prior draw z ~ U(-1, 1)^50:

  x_hat = G_dec(g, c), g = z (controller stage) or G_enc(x) (later stages)

  L_pixel = L1(x_hat, x)                                          (Eq. 6)
  L_id    = sum_l mean |phi_l(x_hat) - phi_l(x)|, phi = VGG16     (Eq. 7)
  L_Q     = sum_k mean (Q_k(x_hat, y) - c_k)^2                    (Eq. 5)
  L_img   = BCE(D_img(x, y), 1) + BCE(D_img(x_hat, y), 0)         (Eq. 9)
  L_z     = BCE(D_z(z), 1) + BCE(D_z(G_enc(x)), 0)                (Eq. 8)
  L_tv    = total variation of x_hat

and each network minimises its own objective (docs/design.md, ExprGAN):

  stage           G_enc and G_dec (one objective)         D_img and Q     D_z
  controller      BCE(D_img(x_hat), 1) + lambda_Q L_Q      L_img + L_Q     -
  reconstruction  L_pixel + lambda_id L_id + lambda_Q L_Q  L_img + L_Q     L_z
  refinement      the above + lambda_img BCE(D_img(x_hat), 1)
                  + lambda_z BCE(D_z(G_enc(x)), 1) + lambda_tv L_tv

The controller stage trains G_dec alone (G_enc is not used). As in the
authors' release, the discriminators keep training in the reconstruction
stage, where the generator's objective does not use them yet, so they are
ready when refinement adds their terms; every network takes its update from
the same parameters (one simultaneous update per step, as the release's one
`session.run` of all optimizers). L_Q sums per-class mean squares, the
release's scale for its weight 1; as in the release, D_img's trunk learns
L_Q from the generated faces too (Q shares it).
"""

import functools
from typing import Iterator, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import optax

from leedjax import losses
from leedjax.data import pipeline
from leedjax.data import synthfaces
from leedjax.nets import exprgan as exprgan_nets
from leedjax.nets import vgg
from leedjax.trainers import base
from leedjax.trainers.state import TrainState

ENCODER = 'encoder'
GENERATOR = 'generator'
IMAGE_DISCRIMINATOR = 'image_discriminator'
LATENT_DISCRIMINATOR = 'latent_discriminator'
NETS = (ENCODER, GENERATOR, IMAGE_DISCRIMINATOR, LATENT_DISCRIMINATOR)
STAGES = ('controller', 'reconstruction', 'refinement')
# The pipeline's names of the stages (`config.stages`), in training order.
STAGE_NAMES = tuple(f'exprgan_{stage}' for stage in STAGES)
# The nets each stage updates; the others keep their parameters.
TRAINED = {
    'controller': (GENERATOR, IMAGE_DISCRIMINATOR),
    'reconstruction': (ENCODER, GENERATOR, IMAGE_DISCRIMINATOR,
                       LATENT_DISCRIMINATOR),
    'refinement': (ENCODER, GENERATOR, IMAGE_DISCRIMINATOR,
                   LATENT_DISCRIMINATOR),
}
# Examples (columns) in the sample grid.
NUM_SAMPLES = 8


def last_listed_stage(stages) -> str | None:
  """The last of ExprGAN's stages in `stages` (a config's), whose networks
  are the trained ExprGAN; None if none is listed."""
  listed = [name for name in STAGE_NAMES if name in stages]
  return listed[-1] if listed else None


def make_networks(settings: ml_collections.ConfigDict, num_classes: int,
                  image_size: int) -> dict:
  """ExprGAN's four modules from a config section (`config.exprgan`)."""
  width = float(settings.width)
  return {
      ENCODER: exprgan_nets.Encoder(
          identity_dim=int(settings.identity_dim), width=width),
      GENERATOR: exprgan_nets.Generator(image_size=image_size, width=width),
      IMAGE_DISCRIMINATOR: exprgan_nets.ImageDiscriminator(
          num_classes=num_classes, code_dim=int(settings.code_dim),
          width=width),
      LATENT_DISCRIMINATOR: exprgan_nets.LatentDiscriminator(width=width),
  }


def _bce(logits: jax.Array, target: float) -> jax.Array:
  """Mean binary cross-entropy of (B,) logits against one target."""
  logits = logits[:, None]
  return losses.sigmoid_cross_entropy(
      logits=logits, labels=jnp.full_like(logits, target))


class ExprGANTrainer:
  """One stage of ExprGAN's training ('controller', 'reconstruction' or
  'refinement'); a later stage starts from the state of the one before.

  Attributes:
    name: the loop's stage name, 'exprgan_<stage>'.
    stage: the stage.
    num_steps: train steps of the stage.
    frozen: {'vgg': VGG16's parameters} (phi of the identity loss).
    nets: the four modules, by name.
  """

  def __init__(self, settings: ml_collections.ConfigDict,
               data_config: ml_collections.ConfigDict,
               source: pipeline.Source, vgg_params, *, stage: str,
               previous: TrainState | None = None,
               class_names: Sequence[str] = synthfaces.EXPRESSIONS):
    """Args:
      settings: config.exprgan (the networks and weights) with the stage's
        `num_steps` in `settings[stage].num_steps`.
      data_config: config.data.
      source: the training split.
      vgg_params: ImageNet VGG16 parameters for the identity loss.
      stage: one of `STAGES`.
      previous: the final state of the stage before, which this one starts
        from (`continue_from`); None starts from fresh networks.
      class_names: the expressions, in label order.
    """
    if stage not in STAGES:
      raise ValueError(f'Unknown ExprGAN stage {stage!r}: use one of '
                       f'{STAGES}.')
    self.stage = stage
    self.name = f'exprgan_{stage}'
    self.num_steps = int(settings[stage].num_steps)
    self.label_key = str(settings.label_key)
    self.class_names = tuple(class_names)
    self.num_classes = len(self.class_names)
    self.code_dim = int(settings.code_dim)
    self.identity_dim = int(settings.identity_dim)
    self.weights = {name: float(settings[name]) for name in (
        'lambda_identity', 'lambda_q', 'lambda_image_adversarial',
        'lambda_latent_adversarial', 'lambda_tv')}
    self.nets = make_networks(settings, self.num_classes,
                              int(data_config.image_size))
    self.phi = vgg.VGG16(output_layers=tuple(settings.identity_layers))
    self.frozen = {'vgg': vgg_params}
    self._previous = previous
    self._settings = settings
    self._data_config = data_config
    self._source = source
    b1, b2 = (float(b) for b in settings.betas)
    adam = optax.adam(float(settings.learning_rate), b1=b1, b2=b2)
    self._optimizers = {name: adam for name in TRAINED[stage]}

  def batches(self) -> Iterator[base.Batch]:
    return pipeline.image_batches(self._source, self._data_config,
                                  int(self._settings.batch_size))

  def optimizers(self) -> dict[str, optax.GradientTransformation]:
    return dict(self._optimizers)

  def initial_state(self) -> TrainState | None:
    """The previous stage's networks to start from (`continue_from`), or
    None to start from `init`."""
    if self._previous is None:
      return None
    return self.continue_from(self._previous)

  def init(self, rng: jax.Array, batch: base.Batch) -> TrainState:
    images = pipeline.to_float(batch['image'])
    batch_size = images.shape[0]
    onehot = jax.nn.one_hot(batch[self.label_key], self.num_classes)
    rngs = dict(zip(NETS, jax.random.split(rng, len(NETS))))
    identity = jnp.zeros((batch_size, self.identity_dim))
    codes = jnp.zeros((batch_size, self.num_classes * self.code_dim))
    variables = {
        ENCODER: self.nets[ENCODER].init(rngs[ENCODER], images),
        GENERATOR: self.nets[GENERATOR].init(rngs[GENERATOR], identity,
                                             codes),
        IMAGE_DISCRIMINATOR: self.nets[IMAGE_DISCRIMINATOR].init(
            rngs[IMAGE_DISCRIMINATOR], images, onehot, train=False),
        LATENT_DISCRIMINATOR: self.nets[LATENT_DISCRIMINATOR].init(
            rngs[LATENT_DISCRIMINATOR], identity, train=False),
    }
    return TrainState.create(variables, self.optimizers())

  def continue_from(self, previous: TrainState) -> TrainState:
    """This stage's first state from the previous stage's last: the same
    networks, fresh optimizers for the nets this stage trains."""
    return TrainState.create(
        {name: {'params': previous.params[name],
                'batch_stats': previous.batch_stats[name]}
         for name in NETS}, self.optimizers())

  # -------------------------------------------------------------- step ---
  def draws(self, rng: jax.Array, labels: jax.Array):
    """A step's randomness: the codes F_ctrl(y, z_y) and prior draws z."""
    code_rng, prior_rng = jax.random.split(rng)
    codes = losses.expression_code(rng=code_rng, labels=labels,
                                   num_classes=self.num_classes,
                                   code_dim=self.code_dim)
    prior = jax.random.uniform(prior_rng, (labels.shape[0],
                                           self.identity_dim),
                               minval=-1.0, maxval=1.0)
    return codes, prior

  def _discriminate(self, params, batch_stats, images, onehot):
    """D_img and Q in training mode: (logits, codes, new batch stats)."""
    (logits, predicted), updates = self.nets[IMAGE_DISCRIMINATOR].apply(
        {'params': params, 'batch_stats': batch_stats}, images, onehot,
        train=True, mutable=['batch_stats'])
    return logits, predicted, updates['batch_stats']

  def _latent_scores(self, params, batch_stats, identity):
    scores, updates = self.nets[LATENT_DISCRIMINATOR].apply(
        {'params': params, 'batch_stats': batch_stats}, identity,
        train=True, mutable=['batch_stats'])
    return scores, updates['batch_stats']

  def _q_loss(self, predicted, codes):
    """L_Q: the sum over classes of each class slot's mean square."""
    return self.num_classes * losses.exprgan_q_loss(predicted_code=predicted,
                                                    code=codes)

  def generate(self, params, images, codes, prior):
    """(x_hat, g): the generated faces and the identity they came from."""
    if self.stage == 'controller':
      identity = prior
    else:
      identity = self.nets[ENCODER].apply({'params': params[ENCODER]},
                                          images)
    faces = self.nets[GENERATOR].apply({'params': params[GENERATOR]},
                                       identity, codes)
    return faces, identity

  def generator_loss(self, trained, state: TrainState, images, onehot,
                     codes, prior, frozen):
    """G_enc's and G_dec's objective; `trained` holds their parameters.

    Returns:
      (total, (parts, faces, identity)): the generated faces and the
      identity they came from, which the discriminators' objectives take.
    """
    params = {**state.params, **trained}
    faces, identity = self.generate(params, images, codes, prior)
    logits, predicted, _ = self._discriminate(
        state.params[IMAGE_DISCRIMINATOR],
        state.batch_stats[IMAGE_DISCRIMINATOR], faces, onehot)
    parts = {'q': self._q_loss(predicted, codes)}
    w = self.weights
    if self.stage == 'controller':
      parts['image_adversarial'] = _bce(logits, 1.0)
      total = parts['image_adversarial'] + w['lambda_q'] * parts['q']
      return total, (parts, faces, identity)
    real, fake = (self.phi.apply({'params': frozen['vgg']}, x)
                  for x in (images, faces))
    parts['pixel'] = losses.l1_loss(prediction=faces, target=images)
    parts['identity'] = sum(losses.l1_loss(prediction=fake[layer],
                                           target=real[layer])
                            for layer in real)
    total = (parts['pixel'] + w['lambda_identity'] * parts['identity']
             + w['lambda_q'] * parts['q'])
    if self.stage == 'refinement':
      latent_scores, _ = self._latent_scores(
          state.params[LATENT_DISCRIMINATOR],
          state.batch_stats[LATENT_DISCRIMINATOR], identity)
      parts['image_adversarial'] = _bce(logits, 1.0)
      parts['latent_adversarial'] = _bce(latent_scores, 1.0)
      parts['tv'] = losses.total_variation(images=faces)
      total = (total + w['lambda_image_adversarial']
               * parts['image_adversarial']
               + w['lambda_latent_adversarial'] * parts['latent_adversarial']
               + w['lambda_tv'] * parts['tv'])
    return total, (parts, faces, identity)

  def image_discriminator_loss(self, d_params, state: TrainState, images,
                               onehot, faces, codes):
    """D_img's and Q's objective on real faces and (constant) fakes;
    returns (total, (parts, new batch stats))."""
    stats = state.batch_stats[IMAGE_DISCRIMINATOR]
    real_logits, _, stats = self._discriminate(d_params, stats, images,
                                               onehot)
    fake_logits, predicted, stats = self._discriminate(d_params, stats,
                                                       faces, onehot)
    parts = {'real': _bce(real_logits, 1.0), 'fake': _bce(fake_logits, 0.0),
             'q': self._q_loss(predicted, codes)}
    return parts['real'] + parts['fake'] + parts['q'], (parts, stats)

  def latent_discriminator_loss(self, dz_params, state: TrainState,
                                identity, prior):
    """D_z's objective: prior draws are real, G_enc's codes (constant) fake;
    returns (total, (parts, new batch stats))."""
    stats = state.batch_stats[LATENT_DISCRIMINATOR]
    prior_scores, stats = self._latent_scores(dz_params, stats, prior)
    encoded_scores, stats = self._latent_scores(dz_params, stats, identity)
    parts = {'prior': _bce(prior_scores, 1.0),
             'encoded': _bce(encoded_scores, 0.0)}
    return parts['prior'] + parts['encoded'], (parts, stats)

  def train_step(self, state: TrainState, batch: base.Batch, rng: jax.Array,
                 frozen) -> tuple[TrainState, base.Metrics]:
    """One simultaneous update of every net this stage trains, each from
    its own objective at the step's starting parameters."""
    images = pipeline.to_float(batch['image'])
    labels = batch[self.label_key]
    onehot = jax.nn.one_hot(labels, self.num_classes)
    codes, prior = self.draws(rng, labels)
    trained = TRAINED[self.stage]
    generator_nets = [name for name in (ENCODER, GENERATOR)
                      if name in trained]
    grads, metrics, new_stats = {}, {}, {}

    (g_total, (g_parts, faces, identity)), g_grads = jax.value_and_grad(
        self.generator_loss, has_aux=True)(
            {name: state.params[name] for name in generator_nets}, state,
            images, onehot, codes, prior, frozen)
    grads.update(g_grads)
    metrics.update(base.loss_metrics('g', g_total, g_parts))

    # The discriminators see the generator's outputs as constants.
    faces, identity = jax.lax.stop_gradient((faces, identity))
    (d_total, (d_parts, new_stats[IMAGE_DISCRIMINATOR])), d_grads = (
        jax.value_and_grad(self.image_discriminator_loss, has_aux=True)(
            state.params[IMAGE_DISCRIMINATOR], state, images, onehot, faces,
            codes))
    grads[IMAGE_DISCRIMINATOR] = d_grads
    metrics.update(base.loss_metrics('d_img', d_total, d_parts))

    if LATENT_DISCRIMINATOR in trained:
      (z_total, (z_parts, new_stats[LATENT_DISCRIMINATOR])), z_grads = (
          jax.value_and_grad(self.latent_discriminator_loss, has_aux=True)(
              state.params[LATENT_DISCRIMINATOR], state, identity, prior))
      grads[LATENT_DISCRIMINATOR] = z_grads
      metrics.update(base.loss_metrics('d_z', z_total, z_parts))

    state = state.apply_gradients(grads).with_batch_stats(new_stats)
    return state, {k: jnp.asarray(v, jnp.float32) for k, v in metrics.items()}

  # ----------------------------------------------------------- samples ---
  def sample_rows(self, params, images: jax.Array, rng: jax.Array):
    """(1 + K, B, H, W, 3): the inputs, then each face generated as every
    class at full intensity (|z_y| = 1; the controller stage from prior
    draws, later stages from each input's identity)."""
    prior = jax.random.uniform(rng, (images.shape[0], self.identity_dim),
                               minval=-1.0, maxval=1.0)
    rows = [images]
    for label in range(self.num_classes):
      onehot = jax.nn.one_hot(jnp.full(images.shape[:1], label),
                              self.num_classes)
      codes = exprgan_nets.expression_controller(
          onehot, jnp.ones((images.shape[0], self.code_dim)))
      rows.append(self.generate(params, images, codes, prior)[0])
    return jnp.stack(rows)

  def samples(self, state: TrainState,
              batch: base.Batch) -> dict[str, base.SampleGrid]:
    images = pipeline.to_float(batch['image'][:NUM_SAMPLES])
    rows = self._jitted_sample_rows(state.params, images,
                                    jax.random.key(0))
    return {'expressions': base.SampleGrid(rows,
                                           ('input', *self.class_names))}

  @functools.cached_property
  def _jitted_sample_rows(self):
    return jax.jit(self.sample_rows)

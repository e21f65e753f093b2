"""LEED's training: every objective of the paper, each updating its own net.

Per training pair (input I_A, reference R_B, their cached neutral faces I_N,
R_N and the cached Psi features F_RB of R_B), with alpha ~ U(0, 1):

  C_x = E(x) for x in I_A, I_N, R_B, R_N
  Delta_RB = X(C_RB, C_RN),  Delta_IA = X(C_IA, C_IN)          (Eq. 2)
  C_hat = I(C_IN, alpha Delta_RB),  I_B = Dec(C_hat)             (Eq. 6)

and the networks minimise (docs/design.md, LEED objectives):

  X:      L_exp + lambda_Q L_Q                                  (Eqs. 2-4)
  Q:      L_Q (Gaussian NLL of F_RB given Delta_RB)             (Eq. 3)
  I:      -D(C_hat) + |C_hat - (C_IN + alpha Delta_RB)|^2 + L_idt (Eqs. 6-8)
  critic: WGAN-GP on real codes E(x) vs C_hat                   (Eq. 12)
  E:      -D(C_hat) + lambda_recon L_recon + lambda_S L_S       (Eqs. 13-16)
  Dec:    |Phi(Dec(E(x))) - Phi(x)|^2                           (Eq. 14)
  S:      L_S = 1 - cos(S(R_B) - S(R_N), S(I_B) - S(I_N))       (Eqs. 9-11)

Each network's gradient comes from its own objective only. All objectives
are summed into one scalar in which every network but the owner of a term is
behind `stop_gradient`; one backward pass then gives each network exactly
its own objective's gradient, and XLA computes the shared forward work once.
S and E's siamese term take turns (S on odd steps, E's L_S on even steps);
with `siamese_alternate` off, both count on every step.
Squared norms are the equations' literal ones (a sum over each example's
elements, see `losses.squared_norm`), which the paper's weights balance.
"""

import functools
from typing import Iterator

import flax.linen as nn
import jax
import jax.numpy as jnp
import ml_collections
import optax

from leedjax import losses
from leedjax.data import pipeline
from leedjax.nets import leed as leed_nets
from leedjax.nets import vgg
from leedjax.trainers import base
from leedjax.trainers.state import TrainState

NETS = ('encoder', 'decoder', 'extractor', 'interpolator', 'critic',
        'regularizer', 'siamese')
# Smallest norm of a siamese transform vector (the cosine's eps).
SIAMESE_EPS = 1e-6


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _scale_gradient(x, scale: float):
  """Identity forward; multiplies the gradient flowing back by `scale`."""
  del scale
  return x


def _scale_gradient_forward(x, scale):
  del scale
  return x, None


def _scale_gradient_backward(scale, residuals, cotangent):
  del residuals
  return (cotangent * scale,)


_scale_gradient.defvjp(_scale_gradient_forward, _scale_gradient_backward)


def _constant_where_short(vectors: jax.Array, eps: float) -> jax.Array:
  """`vectors`, those of norm <= eps behind stop_gradient (per example).

  A reference that is its own neutral face (an exact neutral, as
  SynthFaces' renderer gives) has v_R = S(R_B) - S(R_N) = 0 for every S, so
  its cosine is a constant. The cosine's clamped norm would still send a
  1/eps cotangent into S's two branches, whose parameter gradients then
  cancel only up to rounding: noise as large as S's real gradient.
  """
  squared = jnp.sum(jnp.square(vectors), axis=tuple(range(1, vectors.ndim)))
  short = (squared <= eps**2).reshape((-1,) + (1,) * (vectors.ndim - 1))
  return jnp.where(short, jax.lax.stop_gradient(vectors), vectors)


def make_networks(config: ml_collections.ConfigDict, feature_dim: int,
                  dtype=jnp.float32) -> dict[str, nn.Module]:
  """LEED's modules from `config.leed`; `feature_dim` is Psi's width."""
  width = config.width
  return {
      'encoder': leed_nets.Encoder(width=width, code_stride=config.code_stride,
                                   blocks=layout(config.encoder_blocks),
                                   dtype=dtype),
      'decoder': leed_nets.Decoder(width=width, code_stride=config.code_stride,
                                   stages=layout(config.decoder_stages),
                                   dtype=dtype),
      'extractor': leed_nets.Extractor(width=width, dtype=dtype),
      'interpolator': leed_nets.Interpolator(width=width, dtype=dtype),
      'critic': leed_nets.LatentCritic(width=config.critic_width,
                                       dtype=dtype),
      'regularizer': leed_nets.Regularizer(feature_dim=feature_dim,
                                           width=config.regularizer_width,
                                           dtype=dtype),
      'siamese': leed_nets.SiameseNet(width=config.siamese_width, dtype=dtype),
  }


def layout(blocks) -> tuple:
  """A config's channel layout (lists from JSON, tuples in Python) as the
  nested tuples the networks take."""
  return tuple(tuple(int(channels) for channels in block) for block in blocks)


def learning_rate_schedule(config: ml_collections.ConfigDict):
  """Constant, then linear to 0 (the paper: 50 of 100 epochs each)."""
  decay_start = int(config.num_steps * config.decay_start_fraction)
  return optax.join_schedules([
      optax.constant_schedule(config.learning_rate),
      optax.linear_schedule(config.learning_rate, 0.0,
                            max(1, config.num_steps - decay_start)),
  ], [decay_start])


def edit_codes(nets, params, input_neutral_code, reference_code,
               reference_neutral_code, alpha):
  """C_hat = I(C_IN, alpha * X(C_RB, C_RN)): the edited code."""
  delta = nets['extractor'].apply({'params': params['extractor']},
                                  reference_code, reference_neutral_code)
  return nets['interpolator'].apply({'params': params['interpolator']},
                                    input_neutral_code, alpha * delta)


class LeedTrainer:
  """The `leed` stage: trains E, Dec, X, I, the critic, Q and S."""

  name = 'leed'

  def __init__(self, config: ml_collections.ConfigDict,
               batches_fn, feature_dim: int, vgg_params,
               sample_batch_fn=None):
    """Args:
      config: the run's config (reads `config.leed`).
      batches_fn: () -> iterator of batches of pairs: {'input': view,
        'reference': view}, each view with uint8 `image` and `neutral` and
        the cached Psi `features` (see stages/cache.py).
      feature_dim: width of the cached Psi features.
      vgg_params: ImageNet VGG16 parameters (Phi of the perceptual loss).
      sample_batch_fn: () -> a fixed batch for sample grids (its input view
        may hold `true_edit`, the exact answer); None: the first batch.
    """
    self.config = config.leed
    self.num_steps = self.config.num_steps
    self._batches_fn = batches_fn
    self._sample_batch_fn = sample_batch_fn
    self.nets = make_networks(self.config, feature_dim)
    self.phi = vgg.VGG16(output_layers=tuple(self.config.perceptual_layers))
    self.frozen = {'vgg': vgg_params}
    self._samples = jax.jit(self._sample_images)

  def batches(self) -> Iterator[base.Batch]:
    return self._batches_fn()

  def sample_batch(self) -> base.Batch:
    if self._sample_batch_fn is None:
      return next(self.batches())
    return self._sample_batch_fn()

  # ------------------------------------------------------------- state ---
  def optimizers(self) -> dict[str, optax.GradientTransformation]:
    schedule = learning_rate_schedule(self.config)
    adam = optax.adam(schedule, b1=self.config.b1, b2=self.config.b2)
    trained = [name for name in NETS
               if not (name == 'regularizer' and not self.config.use_q)
               and not (name == 'siamese' and not self.config.use_siamese)]
    return {name: adam for name in trained}

  def init(self, rng: jax.Array, batch: base.Batch) -> TrainState:
    images = pipeline.to_float(batch['input']['image'])
    rngs = dict(zip(NETS, jax.random.split(rng, len(NETS))))
    nets = self.nets
    variables = {'encoder': nets['encoder'].init(rngs['encoder'], images)}
    code = nets['encoder'].apply(variables['encoder'], images)
    variables['decoder'] = nets['decoder'].init(rngs['decoder'], code,
                                                train=False)
    variables['extractor'] = nets['extractor'].init(rngs['extractor'], code,
                                                    code)
    variables['interpolator'] = nets['interpolator'].init(
        rngs['interpolator'], code, code)
    variables['critic'] = nets['critic'].init(rngs['critic'], code)
    variables['regularizer'] = nets['regularizer'].init(
        rngs['regularizer'], code, train=False)
    variables['siamese'] = nets['siamese'].init(rngs['siamese'], images)
    return TrainState.create(variables, self.optimizers())

  # -------------------------------------------------------------- step ---
  def _features(self, frozen, images):
    """Phi(x): VGG16 features at the configured layers."""
    return self.phi.apply({'params': frozen['vgg']}, images)

  def step_draws(self, rng: jax.Array,
                 batch_size: int) -> tuple[jax.Array, jax.Array]:
    """A step's randomness: alpha ~ U(0, 1) per pair, shaped (B, 1, 1, 1)
    to scale codes, and the gradient penalty's key."""
    alpha_rng, gp_rng = jax.random.split(rng)
    return jax.random.uniform(alpha_rng, (batch_size, 1, 1, 1)), gp_rng

  def siamese_weights(self, step: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(S's weight on L_S, E's on lambda_S L_S) at train step `step`.

    The paper updates E and S "in an alternative manner": with
    `siamese_alternate`, S on odd steps and E's term on even steps;
    without, both on every step.
    """
    if not self.config.siamese_alternate:
      return jnp.float32(1.0), jnp.float32(1.0)
    s_turn = (step % 2).astype(jnp.float32)
    return s_turn, 1.0 - s_turn

  def _objectives(self, params, batch_stats, batch, frozen, alpha, gp_rng,
                  siamese_weights):
    """Sum of every net's objective, each behind stop_gradient elsewhere.

    Args:
      params, batch_stats: the state's, per net.
      batch: a batch of pairs.
      frozen: the frozen parameters (VGG16 for Phi).
      alpha, gp_rng: the step's draws (`step_draws`).
      siamese_weights: (S's, E's) weights on L_S (`siamese_weights`).

    Returns:
      (total, (metrics, new_batch_stats)).
    """
    cfg, nets = self.config, self.nets
    frozen_params = jax.tree.map(jax.lax.stop_gradient, params)

    def live(owner):
      """Parameters where only `owner` carries gradients."""
      return {**frozen_params, owner: params[owner]}

    def encode(p, images):
      return nets['encoder'].apply({'params': p['encoder']}, images)

    def decode(p, code, stats_name='decoder'):
      out, updates = nets['decoder'].apply(
          {'params': p['decoder'], 'batch_stats': batch_stats[stats_name]},
          code, train=True, mutable=['batch_stats'])
      return out, updates['batch_stats']

    def extract(p, code, neutral_code):
      return nets['extractor'].apply({'params': p['extractor']}, code,
                                     neutral_code)

    def interpolate(p, identity_code, delta):
      return nets['interpolator'].apply({'params': p['interpolator']},
                                        identity_code, delta)

    def critic(p, code):
      return nets['critic'].apply({'params': p['critic']}, code)

    def siamese(p, images):
      return nets['siamese'].apply({'params': p['siamese']}, images)

    sg = jax.lax.stop_gradient
    to_float = pipeline.to_float
    input_image = to_float(batch['input']['image'])
    input_neutral = to_float(batch['input']['neutral'])
    reference_image = to_float(batch['reference']['image'])
    reference_neutral = to_float(batch['reference']['neutral'])
    reference_features = batch['reference']['features'].astype(jnp.float32)
    real_images = jnp.concatenate([input_image, reference_image])
    metrics, terms = {}, {}

    def codes(p):
      """E's codes of I_A, I_N, R_B, R_N (one batched call)."""
      stacked = encode(p, jnp.concatenate(
          [input_image, input_neutral, reference_image, reference_neutral]))
      return jnp.split(stacked, 4)

    def edit(p, code_in, code_rb, code_rn):
      delta = extract(p, code_rb, code_rn)
      return interpolate(p, code_in, alpha * delta), delta

    # --- X: expression extraction (Eq. 2) and Q's mutual information (3).
    c_ia, c_in, c_rb, c_rn = codes(frozen_params)
    delta_rb = extract(live('extractor'), c_rb, c_rn)
    terms['exp'] = losses.squared_norm(prediction=delta_rb,
                                       target=c_rb - c_rn)
    if cfg.use_q:
      def q_nll(p_regularizer, delta):
        (mean, log_variance), updates = nets['regularizer'].apply(
            {'params': p_regularizer,
             'batch_stats': batch_stats['regularizer']},
            delta, train=True, mutable=['batch_stats'])
        nll = losses.gaussian_nll(mean=mean, log_variance=log_variance,
                                  target=reference_features)
        return nll, updates['batch_stats']
      # X sees Q's objective through a frozen Q; Q through a frozen X.
      terms['q_for_x'], _ = q_nll(frozen_params['regularizer'], delta_rb)
      terms['q'], regularizer_stats = q_nll(params['regularizer'],
                                            sg(delta_rb))
      metrics['q_nll'] = terms['q']
    metrics['exp'] = terms['exp']

    # --- I: interpolation (Eq. 6) and identity (Eq. 7).
    p_i = live('interpolator')
    delta_rb_frozen = sg(delta_rb)
    c_hat_i = interpolate(p_i, c_in, alpha * delta_rb_frozen)
    delta_ia = extract(frozen_params, c_ia, c_in)
    terms['interp_adv'] = losses.generator_adversarial_loss(
        fake_scores=critic(frozen_params, c_hat_i))
    terms['interp_linear'] = losses.squared_norm(
        prediction=c_hat_i, target=c_in + alpha * delta_rb_frozen)
    terms['idt'] = losses.squared_norm(
        prediction=interpolate(p_i, c_in, delta_ia), target=c_ia)
    metrics.update(interp_adv=terms['interp_adv'],
                   interp_linear=terms['interp_linear'], idt=terms['idt'])

    # --- Critic: WGAN-GP between real codes and interpolated ones (Eq. 12).
    real_codes = sg(jnp.concatenate([c_ia, c_rb]))
    fake_codes = sg(jnp.concatenate([c_hat_i, c_hat_i]))
    p_d = live('critic')
    critic_fn = functools.partial(critic, p_d)
    wasserstein = losses.critic_loss(real_scores=critic_fn(real_codes),
                                     fake_scores=critic_fn(fake_codes))
    penalty = losses.gradient_penalty(critic_fn=critic_fn, real=real_codes,
                                      fake=fake_codes, rng=gp_rng)
    terms['critic'] = wasserstein + cfg.lambda_gp * penalty
    metrics.update(critic_wasserstein=-wasserstein, critic_gp=penalty)

    # --- Dec (Eq. 14) and E (Eq. 15) share one reconstruction: Dec(E(x)).
    # Dec's objective is the perceptual loss, E's is lambda_recon times it,
    # so E's gradient is scaled on the way back; one pass through Phi serves
    # both (Phi dominates the step's cost).
    p_e = live('encoder')
    p_e_and_dec = {**p_e, 'decoder': params['decoder']}
    real_codes_e = _scale_gradient(encode(p_e, real_images), cfg.lambda_recon)
    reconstruction, decoder_stats = decode(p_e_and_dec, real_codes_e)
    terms['recon'] = self._reconstruction_loss(frozen, reconstruction,
                                               real_images)
    metrics['recon'] = terms['recon']

    # --- E: adversarial (Eq. 13) and siamese (Eq. 16) terms.
    e_ia, e_in, e_rb, e_rn = codes(p_e)
    c_hat_e, _ = edit(p_e, e_in, e_rb, e_rn)
    terms['encoder_adv'] = losses.generator_adversarial_loss(
        fake_scores=critic(p_e, c_hat_e))
    metrics['encoder_adv'] = terms['encoder_adv']

    if cfg.use_siamese:
      # I_B decoded from E's edit (E gets L_S through Dec, I and X).
      edited_e, _ = decode(p_e, c_hat_e)
      reference_pair = jnp.concatenate([reference_image, reference_neutral])

      def siamese_loss(p, edited):
        s_ref, s_ref_neutral = jnp.split(siamese(p, reference_pair), 2)
        s_edit, s_in_neutral = jnp.split(
            siamese(p, jnp.concatenate([edited, input_neutral])), 2)
        return losses.siamese_cosine_loss(
            reference_delta=_constant_where_short(s_ref - s_ref_neutral,
                                                  SIAMESE_EPS),
            edited_delta=s_edit - s_in_neutral, eps=SIAMESE_EPS)

      s_weight, e_weight = siamese_weights
      terms['siamese_for_e'] = e_weight * cfg.lambda_s * siamese_loss(
          frozen_params, edited_e)
      terms['siamese'] = s_weight * siamese_loss(live('siamese'),
                                                 sg(edited_e))
      metrics['siamese'] = siamese_loss(frozen_params, sg(edited_e))

    new_stats = {'decoder': decoder_stats}
    if cfg.use_q:
      new_stats['regularizer'] = regularizer_stats
    # Weighted as in the objectives above; each term reaches its own net.
    total = (terms['exp'] + cfg.lambda_q * terms.get('q_for_x', 0.0)
             + terms.get('q', 0.0)
             + terms['interp_adv'] + terms['interp_linear'] + terms['idt']
             + terms['critic']
             + terms['recon']
             + terms['encoder_adv']
             + terms.get('siamese_for_e', 0.0) + terms.get('siamese', 0.0))
    return total, (metrics, new_stats)

  def _reconstruction_loss(self, frozen, images, targets):
    """Perceptual distance (Eqs. 14-15), plus an optional pixel term."""
    target_features = jax.tree.map(jax.lax.stop_gradient,
                                   self._features(frozen, targets))
    perceptual, _ = losses.perceptual_loss(
        features_a=self._features(frozen, images),
        features_b=target_features, reduction='sum')
    if self.config.pixel_weight:
      perceptual += self.config.pixel_weight * losses.squared_norm(
          prediction=images, target=targets)
    return perceptual

  def train_step(self, state: TrainState, batch: base.Batch, rng: jax.Array,
                 frozen) -> tuple[TrainState, base.Metrics]:
    alpha, gp_rng = self.step_draws(rng, batch['input']['image'].shape[0])
    siamese_weights = self.siamese_weights(state.step)
    grads, (metrics, new_stats) = jax.grad(self._objectives, has_aux=True)(
        state.params, state.batch_stats, batch, frozen, alpha,
        gp_rng, siamese_weights)
    grads = {name: grads[name] for name in state.optimizers}
    new_state = state.apply_gradients(grads).with_batch_stats(new_stats)
    if self.config.use_siamese and self.config.siamese_alternate:
      # S moves on its turn only (Adam would move it on a zero gradient).
      keep = siamese_weights[0] < 0.5
      new_state = new_state.replace(
          params={**new_state.params, 'siamese': jax.tree.map(
              lambda old, new: jnp.where(keep, old, new),
              state.params['siamese'], new_state.params['siamese'])},
          opt_state={**new_state.opt_state, 'siamese': jax.tree.map(
              lambda old, new: jnp.where(keep, old, new),
              state.opt_state['siamese'], new_state.opt_state['siamese'])})
    metrics['grad_norm/encoder'] = optax.global_norm(grads['encoder'])
    metrics['grad_norm/decoder'] = optax.global_norm(grads['decoder'])
    metrics['param_norm/encoder'] = optax.global_norm(state.params['encoder'])
    return new_state, metrics

  # ----------------------------------------------------------- samples ---
  def _sample_images(self, state, batch, frozen):
    del frozen
    params, nets = state.params, self.nets
    to_float = pipeline.to_float
    labels = ['input', 'reference', 'input\nneutral', 'reference\nneutral']
    rows = [to_float(batch['input']['image']),
            to_float(batch['reference']['image']),
            to_float(batch['input']['neutral']),
            to_float(batch['reference']['neutral'])]
    encode = functools.partial(nets['encoder'].apply,
                               {'params': params['encoder']})
    c_in, c_rb, c_rn = encode(rows[2]), encode(rows[1]), encode(rows[3])
    decode = functools.partial(nets['decoder'].apply,
                               state.variables('decoder'), train=False)
    for alpha in (0.5, 1.0, 1.5):
      rows.append(decode(edit_codes(nets, params, c_in, c_rb, c_rn, alpha)))
      labels.append(f'alpha {alpha:g}')
    if 'true_edit' in batch['input']:
      rows.append(to_float(batch['input']['true_edit']))
      labels.append('true edit')
    return {'edits': base.SampleGrid(jnp.clip(jnp.stack(rows), -1.0, 1.0),
                                     tuple(labels))}

  def samples(self, state: TrainState,
              batch: base.Batch) -> dict[str, base.SampleGrid]:
    return self._samples(state, batch, self.frozen)

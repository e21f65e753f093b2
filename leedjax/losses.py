"""Loss terms of LEED, ExprGAN and the StarGAN neutralizer, as pure functions.

Every function takes arrays (or, for the gradient penalty, a callable) through
keyword-only arguments, is jit-able, and returns a scalar, or `(total, parts)`
where a term has parts. Parts are the unweighted terms, so logs show them on
their own scale and the weights stay visible in the config.

Reductions (read these before choosing loss weights):
- Batch: every loss is a mean over the batch (axis 0), so weights do not
  depend on the batch size.
- Squared and absolute norms of images, feature maps and latent codes:
  `l1_loss`, `l2_loss` and `perceptual_loss` take the mean over every element
  (the mean error per element), which matches the original StarGAN release
  (`torch.mean(torch.abs(...))`) and keeps a weight meaning the same at any
  resolution. `squared_norm` and `perceptual_loss(reduction='sum')` take the
  literal squared norm of each example (a sum over its elements), which is
  what LEED's weights are balanced for: with per-element means its
  lambda_recon 10 is too weak against the adversarial and siamese terms and
  the encoder collapses its codes (measured: all codes within 3% of one
  another after 200 steps).
- Log-likelihoods (`gaussian_nll`, `sigmoid_cross_entropy`): summed over the
  feature or label dimensions, because that sum is the log-likelihood of one
  example's vector; then a mean over the batch.
- Critic scores: a mean over every element, so patch critics (StarGAN's
  PatchGAN outputs B x h x w x 1) and one-score-per-example critics are
  treated alike.

Arithmetic is done in at least float32, whatever the input dtype (bfloat16
activations are promoted), so reductions do not lose precision.

Where each paper term lives:
- LEED eq. 2 (L_exp), eq. 6 second term, eq. 7 (L_idt): `squared_norm`.
- LEED eq. 3 (L_Q): `gaussian_nll`.
- LEED eqs. 9-11 (L_S): `siamese_cosine_loss`.
- LEED eqs. 12-13 (WGAN-GP on codes): `critic_loss`, `gradient_penalty`,
  `generator_adversarial_loss`.
- LEED eqs. 14-15 (L_D, L_recon): `perceptual_loss(reduction='sum')`.
- ExprGAN eq. 3 (controller): `expression_code`; eq. 5 (Q): `exprgan_q_loss`;
  eq. 6 (pixel L1): `l1_loss`; identity loss: `l1_loss` per feature map;
  TV regulariser: `total_variation`.
- StarGAN: `stargan_discriminator_loss`, `stargan_generator_loss`.
"""

import math
from typing import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp

Array = jax.Array
Parts = dict[str, Array]
FeatureMaps = Mapping[str, Array] | Sequence[Array]

_LOG_TWO_PI = math.log(2.0 * math.pi)


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _as_float(x) -> Array:
  """Promotes to at least float32 so reductions of bfloat16 stay accurate."""
  x = jnp.asarray(x)
  return x.astype(jnp.promote_types(x.dtype, jnp.float32))


def _sum_per_example(x: Array) -> Array:
  """Sums over every axis but the first (the batch), giving shape (B,)."""
  return jnp.sum(x, axis=tuple(range(1, x.ndim)))


def _safe_norm(squared_norm: Array) -> Array:
  """sqrt with a finite (zero) gradient at 0 and exact values elsewhere.

  The plain sqrt has an infinite derivative at 0, which turns into NaN when it
  meets a zero cotangent; the double `where` keeps that branch out of the
  gradient.
  """
  positive = squared_norm > 0
  safe_squared_norm = jnp.where(positive, squared_norm, 1.0)
  return jnp.where(positive, jnp.sqrt(safe_squared_norm), 0.0)


def _soft_bound(x: Array, *, low: float, high: float) -> Array:
  """Smoothly limits x to (low, high): the identity well inside, never flat.

  Unlike a hard clip, the gradient stays nonzero outside the bounds, so a value
  that has drifted out is still pulled back. Inside, the result differs from x
  by about exp(-distance to the nearer bound): below 5e-5 for |x| <= 10 with
  bounds +-20, and zero in float32 for |x| <= 3.
  """
  x = high - jax.nn.softplus(high - x)
  return low + jax.nn.softplus(x - low)


def _check_same_shape(a: Array, b: Array, what: str) -> None:
  # Broadcasting would silently average mismatched tensors.
  if jnp.shape(a) != jnp.shape(b):
    raise ValueError(f'{what}: shapes differ, {jnp.shape(a)} vs '
                     f'{jnp.shape(b)}.')


# ---------------------------------------------------------------------------
# Elementwise reconstruction losses
# ---------------------------------------------------------------------------


def l1_loss(*, prediction: Array, target: Array) -> Array:
  """Mean absolute error per element (and over the batch).

  Args:
    prediction: array of any shape.
    target: array of the same shape.

  Returns:
    Scalar mean of |prediction - target| over every element.
  """
  _check_same_shape(prediction, target, 'l1_loss')
  return jnp.mean(jnp.abs(_as_float(prediction) - _as_float(target)))


def l2_loss(*, prediction: Array, target: Array) -> Array:
  """Mean squared error per element (and over the batch).

  This is how the papers' ||a - b||^2 terms on latent codes are reduced (LEED
  eqs. 2, 6, 7): the per-element mean keeps a weight meaningful when the code
  size changes.

  Args:
    prediction: array of any shape.
    target: array of the same shape.

  Returns:
    Scalar mean of (prediction - target)^2 over every element.
  """
  _check_same_shape(prediction, target, 'l2_loss')
  return jnp.mean(jnp.square(_as_float(prediction) - _as_float(target)))


def squared_norm(*, prediction: Array, target: Array) -> Array:
  """||prediction - target||^2 of each example, averaged over the batch.

  LEED's ||.||^2 terms on codes (eqs. 2, 6, 7) taken literally: a sum over
  every non-batch element.

  Args:
    prediction: (B, ...) array.
    target: array of the same shape.

  Returns:
    Scalar mean over the batch of the per-example sum of squared errors.
  """
  _check_same_shape(prediction, target, 'squared_norm')
  squared = jnp.square(_as_float(prediction) - _as_float(target))
  return jnp.mean(_sum_per_example(squared))


def total_variation(*, images: Array) -> Array:
  """Anisotropic total variation (L1), normalised per neighbour pair.

  For each spatial axis, the mean of |difference| over all pairs of
  neighbouring pixels along that axis (and over batch and channels); the two
  means are added. A constant image scores 0; an image with alternating
  columns of 0 and 1 scores 1 (only horizontal pairs differ).

  Args:
    images: (..., H, W, C) array.

  Returns:
    Scalar mean vertical plus mean horizontal absolute difference.
  """
  images = _as_float(images)
  vertical = jnp.abs(images[..., 1:, :, :] - images[..., :-1, :, :])
  horizontal = jnp.abs(images[..., :, 1:, :] - images[..., :, :-1, :])
  return jnp.mean(vertical) + jnp.mean(horizontal)


def perceptual_loss(
    *,
    features_a: FeatureMaps,
    features_b: FeatureMaps,
    layer_weights: Mapping[str, float] | Sequence[float] | None = None,
    reduction: str = 'mean',
) -> tuple[Array, Parts]:
  """Weighted sum over layers of the squared feature difference.

  LEED eqs. 14-15: ||Phi(Dec(C)) - Phi(I)||^2 with Phi a set of VGG layers.
  With reduction 'mean' each layer's squared difference is a mean per element
  (layers of different sizes contribute comparably); with 'sum' it is each
  example's squared norm (`squared_norm`), the equations taken literally.

  Args:
    features_a: feature maps, a dict {layer name: array} or a list of arrays.
    features_b: the same structure and shapes as `features_a`.
    layer_weights: per-layer weights, a dict keyed like the features (for dict
      features) or a sequence in layer order; None weights every layer 1.
    reduction: 'mean' (per element) or 'sum' (per example, over elements).

  Returns:
    (total, parts): total is sum_l weight_l * loss_l; parts maps each layer's
    name (the dict key, or 'layer_{index}' for lists) to its unweighted loss.
  """
  per_layer = {'mean': l2_loss, 'sum': squared_norm}.get(reduction)
  if per_layer is None:
    raise ValueError(f"perceptual_loss: reduction must be 'mean' or 'sum', "
                     f'got {reduction!r}.')
  if isinstance(features_a, Mapping):
    if not isinstance(features_b, Mapping) or set(features_a) != set(
        features_b):
      raise ValueError('perceptual_loss: feature dicts name different layers: '
                       f'{sorted(features_a)} vs {sorted(features_b)}.')
    names = list(features_a)
    pairs = [(features_a[name], features_b[name]) for name in names]
  else:
    if isinstance(features_b, Mapping) or len(features_a) != len(features_b):
      raise ValueError('perceptual_loss: feature lists differ in length.')
    names = [f'layer_{index}' for index in range(len(features_a))]
    pairs = list(zip(features_a, features_b))

  if layer_weights is None:
    weights = [1.0] * len(names)
  elif isinstance(layer_weights, Mapping):
    missing = set(names) - set(layer_weights)
    if missing:
      raise ValueError(f'perceptual_loss: no weight for {sorted(missing)}.')
    weights = [layer_weights[name] for name in names]
  else:
    weights = list(layer_weights)
    if len(weights) != len(names):
      raise ValueError(f'perceptual_loss: {len(weights)} weights for '
                       f'{len(names)} layers.')

  parts = {}
  total = jnp.zeros((), jnp.float32)
  for name, (a, b), weight in zip(names, pairs, weights):
    _check_same_shape(a, b, f'perceptual_loss layer {name}')
    parts[name] = per_layer(prediction=a, target=b)
    total = total + weight * parts[name]
  return total, parts


# ---------------------------------------------------------------------------
# Likelihoods and classification
# ---------------------------------------------------------------------------


def gaussian_nll(
    *,
    mean: Array,
    log_variance: Array,
    target: Array,
    log_variance_bounds: tuple[float, float] = (-20.0, 20.0),
) -> Array:
  """Negative log-likelihood of target under a factored Gaussian.

  LEED eq. 3: L_Q = -E[log Q(F_RB | Delta_RB)], Q a diagonal Gaussian whose
  mean and log-variance are predicted from the expression code; this is the
  variational lower bound on mutual information used by InfoGAN. Per element:
    0.5 * (log(2 pi) + log_variance + (target - mean)^2 / variance),
  summed over the feature dimensions (the log-density of the whole feature
  vector), then averaged over the batch.

  Numerical safety: the log-variance is softly bounded to
  `log_variance_bounds` (see `_soft_bound`: the identity well inside the
  bounds, smooth, never a flat zero gradient outside). The default (-20, 20)
  keeps exp(-log_variance) <= 4.9e8, so (target - mean)^2 / variance stays
  finite in float32 for any |target - mean| < 1e14, and exp(20) never
  overflows; standard deviations from 4.5e-5 to 2.2e4 are representable.

  Args:
    mean: (B, ...) predicted means.
    log_variance: log-variances, broadcastable to `mean`.
    target: (B, ...) observed values (LEED: Psi's penultimate features of R_B).
    log_variance_bounds: (low, high) soft bounds on the log-variance.

  Returns:
    Scalar mean over the batch of the per-example negative log-likelihood.
  """
  _check_same_shape(mean, target, 'gaussian_nll')
  mean, target = _as_float(mean), _as_float(target)
  low, high = log_variance_bounds
  log_variance = _soft_bound(_as_float(log_variance), low=low, high=high)
  log_variance = jnp.broadcast_to(log_variance, mean.shape)
  squared_error = jnp.square(target - mean)
  per_element = 0.5 * (_LOG_TWO_PI + log_variance
                       + squared_error * jnp.exp(-log_variance))
  return jnp.mean(_sum_per_example(per_element))


def softmax_cross_entropy(
    *,
    logits: Array,
    labels: Array,
    label_smoothing: float = 0.0,
) -> Array:
  """Cross-entropy of integer class labels under softmax(logits).

  With label smoothing s the target distribution is (1 - s) * onehot + s / K.

  Args:
    logits: (..., K) unnormalised class scores.
    labels: (...) integer class indices in [0, K).
    label_smoothing: s in [0, 1); 0 gives the plain negative log-likelihood.

  Returns:
    Scalar mean over every leading position (the batch) of the cross-entropy.
  """
  logits = _as_float(logits)
  num_classes = logits.shape[-1]
  targets = jax.nn.one_hot(labels, num_classes, dtype=logits.dtype)
  targets = (1.0 - label_smoothing) * targets + label_smoothing / num_classes
  log_probabilities = jax.nn.log_softmax(logits, axis=-1)
  return jnp.mean(-jnp.sum(targets * log_probabilities, axis=-1))


def sigmoid_cross_entropy(*, logits: Array, labels: Array) -> Array:
  """Binary cross-entropy for multi-label targets, stable for large logits.

  Summed over the labels (the negative log-likelihood of an example's label
  vector) and averaged over the batch, as in the original StarGAN release
  (`binary_cross_entropy_with_logits(..., size_average=False) / batch`).

  Args:
    logits: (B, L) unnormalised scores.
    labels: (B, L) targets in [0, 1].

  Returns:
    Scalar mean over the batch of the summed binary cross-entropies.
  """
  _check_same_shape(logits, labels, 'sigmoid_cross_entropy')
  logits, labels = _as_float(logits), _as_float(labels)
  # -z log sigmoid(x) - (1 - z) log(1 - sigmoid(x)), without exp overflow.
  per_label = (jnp.maximum(logits, 0.0) - logits * labels
               + jnp.log1p(jnp.exp(-jnp.abs(logits))))
  return jnp.mean(_sum_per_example(per_label))


# ---------------------------------------------------------------------------
# LEED siamese loss
# ---------------------------------------------------------------------------


def siamese_cosine_loss(
    *,
    reference_delta: Array,
    edited_delta: Array,
    eps: float = 1e-8,
) -> Array:
  """1 - cos(v_R, v_I), LEED eqs. 9-11, averaged over the batch.

  v_R = S(R_B) - S(R_N) (eq. 9) and v_I = S(I_B) - S(I_N) (eq. 10) are the
  expression transform vectors; eq. 11 names cosine similarity as the distance.
  Each example's vectors are flattened over all non-batch axes.

  Zero vectors: each norm is bounded below by `eps` (computed on the squared
  norm, so no sqrt is differentiated at 0). A zero vector thus gives cos = 0,
  loss 1, and a finite gradient; below eps the cosine fades linearly to 0 and
  gradients are at most about 1 / eps.

  Args:
    reference_delta: (B, ...) v_R.
    edited_delta: (B, ...) v_I, same shape.
    eps: smallest norm used in the denominator.

  Returns:
    Scalar mean over the batch of 1 - cos, in [0, 2].
  """
  _check_same_shape(reference_delta, edited_delta, 'siamese_cosine_loss')
  reference = _as_float(reference_delta)
  edited = _as_float(edited_delta)
  dot = _sum_per_example(reference * edited)
  eps_squared = jnp.square(jnp.asarray(eps, reference.dtype))
  inverse_norms = (
      jax.lax.rsqrt(jnp.maximum(_sum_per_example(jnp.square(reference)),
                                eps_squared))
      * jax.lax.rsqrt(jnp.maximum(_sum_per_example(jnp.square(edited)),
                                  eps_squared)))
  return jnp.mean(1.0 - dot * inverse_norms)


# ---------------------------------------------------------------------------
# WGAN-GP
# ---------------------------------------------------------------------------


def critic_loss(*, real_scores: Array, fake_scores: Array) -> Array:
  """WGAN critic loss without the penalty: mean fake - mean real.

  LEED eq. 12, first two terms, with raw scores (the paper writes log D but
  uses WGAN-GP). Minimising it widens the gap real - fake, the critic's
  estimate of the Wasserstein distance.

  Args:
    real_scores: critic outputs on real samples, any shape.
    fake_scores: critic outputs on generated samples, any shape.

  Returns:
    Scalar mean(fake_scores) - mean(real_scores), means over all elements.
  """
  return jnp.mean(_as_float(fake_scores)) - jnp.mean(_as_float(real_scores))


def generator_adversarial_loss(*, fake_scores: Array) -> Array:
  """WGAN generator loss, -mean fake score (LEED eq. 13, raw scores).

  Args:
    fake_scores: critic outputs on generated samples, any shape.

  Returns:
    Scalar -mean(fake_scores) over all elements.
  """
  return -jnp.mean(_as_float(fake_scores))


def gradient_penalty(
    *,
    critic_fn: Callable[[Array], Array],
    real: Array,
    fake: Array,
    rng: Array,
) -> Array:
  """WGAN-GP penalty: mean over the batch of (||grad critic(x_hat)||_2 - 1)^2.

  LEED eq. 12, third term (without lambda_gp; the caller weights it). For each
  example, x_hat = eps * real + (1 - eps) * fake with
  eps = jax.random.uniform(rng, (B, 1, ..., 1)), one draw per example; the
  gradient norm is taken over all non-batch axes.

  Per-example gradients come from one gradient of the sum of all scores:
  d(sum_j f(x_j)) / dx_i = df(x_i) / dx_i only when examples do not interact
  inside the critic. A critic with BatchNorm in training mode (batch
  statistics) breaks this and makes the penalty wrong; use no normalisation,
  layer or instance normalisation in critics. Patch critics are fine: a
  per-example score map is summed, as in the original StarGAN release.

  The penalty is differentiable with respect to the critic's parameters (close
  over them in `critic_fn`); its gradient is finite even where the input
  gradient is exactly zero.

  Args:
    critic_fn: maps a batch shaped like `real` to scores, (B,) or (B, ...).
    real: (B, ...) real samples.
    fake: (B, ...) generated samples, same shape.
    rng: PRNG key for the interpolation weights.

  Returns:
    Scalar penalty.
  """
  _check_same_shape(real, fake, 'gradient_penalty')
  weight_shape = (real.shape[0],) + (1,) * (real.ndim - 1)
  eps = jax.random.uniform(rng, weight_shape, dtype=real.dtype)
  interpolates = eps * real + (1.0 - eps) * fake
  input_gradients = jax.grad(lambda x: jnp.sum(critic_fn(x)))(interpolates)
  squared_norms = _sum_per_example(jnp.square(_as_float(input_gradients)))
  return jnp.mean(jnp.square(_safe_norm(squared_norms) - 1.0))


# ---------------------------------------------------------------------------
# StarGAN (the original release's recipe)
# ---------------------------------------------------------------------------


def _classification_loss(*, logits: Array, labels: Array) -> Array:
  """Softmax cross-entropy for integer labels, sigmoid for multi-hot labels.

  Integer labels with one axis fewer than the logits (RaFD: one expression per
  image) take the softmax; labels shaped like the logits (CelebA attributes)
  take the per-label sigmoid, as in StarGAN's release.
  """
  labels = jnp.asarray(labels)
  if (jnp.issubdtype(labels.dtype, jnp.integer)
      and labels.ndim == jnp.ndim(logits) - 1):
    return softmax_cross_entropy(logits=logits, labels=labels)
  return sigmoid_cross_entropy(logits=logits, labels=labels)


def stargan_discriminator_loss(
    *,
    real_src: Array,
    fake_src: Array,
    real_cls_logits: Array,
    real_labels: Array,
    gradient_penalty: Array,
    lambda_cls: float = 1.0,
    lambda_gp: float = 10.0,
) -> tuple[Array, Parts]:
  """StarGAN discriminator objective (WGAN-GP version of the release).

  total = (-mean real_src + mean fake_src) + lambda_cls * CE(real) +
  lambda_gp * GP.

  Args:
    real_src: critic scores on real images, (B, ...) (patch maps allowed).
    fake_src: critic scores on translated images.
    real_cls_logits: (B, K) domain logits on real images.
    real_labels: (B,) integer domains (softmax) or (B, K) multi-hot (sigmoid).
    gradient_penalty: scalar from `gradient_penalty(...)` on the source head.
    lambda_cls: classification weight.
    lambda_gp: gradient penalty weight.

  Returns:
    (total, parts) with unweighted parts 'adversarial', 'classification',
    'gradient_penalty'.
  """
  parts = {
      'adversarial': critic_loss(real_scores=real_src, fake_scores=fake_src),
      'classification': _classification_loss(logits=real_cls_logits,
                                              labels=real_labels),
      'gradient_penalty': _as_float(gradient_penalty),
  }
  total = (parts['adversarial'] + lambda_cls * parts['classification']
           + lambda_gp * parts['gradient_penalty'])
  return total, parts


def stargan_generator_loss(
    *,
    fake_src: Array,
    fake_cls_logits: Array,
    target_labels: Array,
    reconstruction: Array,
    original: Array,
    lambda_cls: float = 1.0,
    lambda_rec: float = 10.0,
    same_domain: Array | None = None,
    lambda_identity: float = 0.0,
) -> tuple[Array, Parts]:
  """StarGAN generator objective.

  total = -mean fake_src + lambda_cls * CE(fake, target) +
  lambda_rec * L1(G(G(x, target), original domain), x), the L1 a mean per
  element.

  Args:
    fake_src: critic scores on translated images.
    fake_cls_logits: (B, K) domain logits on translated images.
    target_labels: (B,) integer target domains or (B, K) multi-hot.
    reconstruction: images translated back to their original domain.
    original: the input images, same shape.
    lambda_cls: classification weight.
    lambda_rec: cycle reconstruction weight.
    same_domain: G(x, original domain), for the identity-mapping term
      lambda_identity * L1(G(x, original domain), x) (CycleGAN's; not in
      StarGAN's release); needed when lambda_identity > 0.
    lambda_identity: its weight; 0 (the release) leaves it out.

  Returns:
    (total, parts) with unweighted parts 'adversarial', 'classification',
    'reconstruction', and 'identity' when lambda_identity > 0.
  """
  parts = {
      'adversarial': generator_adversarial_loss(fake_scores=fake_src),
      'classification': _classification_loss(logits=fake_cls_logits,
                                              labels=target_labels),
      'reconstruction': l1_loss(prediction=reconstruction, target=original),
  }
  total = (parts['adversarial'] + lambda_cls * parts['classification']
           + lambda_rec * parts['reconstruction'])
  if lambda_identity:
    if same_domain is None:
      raise ValueError('lambda_identity > 0 needs same_domain, G(x, c_x).')
    parts['identity'] = l1_loss(prediction=same_domain, target=original)
    total = total + lambda_identity * parts['identity']
  return total, parts


# ---------------------------------------------------------------------------
# ExprGAN
# ---------------------------------------------------------------------------


def expression_code(
    *,
    rng: Array,
    labels: Array,
    num_classes: int,
    code_dim: int,
    dtype=jnp.float32,
) -> Array:
  """The ExprGAN expression controller F_ctrl (ExprGAN eq. 3).

  c_i = |z| * (2 y_i - 1) with z ~ U(-1, 1)^d drawn once per example and
  shared by all K class slots: the target class's slot holds |z| (in [0, 1]),
  every other slot -|z| (in [-1, 0]). Slots are laid out class-major,
  c = [c_1, ..., c_K].

  Args:
    rng: PRNG key.
    labels: (B,) integer target classes.
    num_classes: K (static under jit).
    code_dim: d, code entries per class (static under jit).
    dtype: floating dtype of the code.

  Returns:
    (B, K * d) expression codes.
  """
  labels = jnp.asarray(labels)
  batch_size = labels.shape[0]
  magnitude = jnp.abs(jax.random.uniform(
      rng, (batch_size, code_dim), dtype=dtype, minval=-1.0, maxval=1.0))
  signs = 2.0 * jax.nn.one_hot(labels, num_classes, dtype=dtype) - 1.0
  code = signs[:, :, None] * magnitude[:, None, :]
  return code.reshape(batch_size, num_classes * code_dim)


def exprgan_q_loss(*, predicted_code: Array, code: Array) -> Array:
  """ExprGAN's regulariser Q (eq. 5): mean squared error per element.

  `predicted_code` is Q's output after its tanh (so in (-1, 1), the code's
  range). Eq. 5 maximises log Q(c | x_hat, y); with Q a Gaussian of fixed unit
  variance, -log Q = 0.5 * sum (c - c_hat)^2 + (n / 2) log(2 pi) for an n-entry
  code, so this MSE equals (2 / n) * (gaussian_nll with log_variance 0 -
  (n / 2) log(2 pi)): the same objective up to a constant and a scale.

  Args:
    predicted_code: (B, n) Q's tanh outputs.
    code: (B, n) the sampled codes from `expression_code`.

  Returns:
    Scalar mean of (predicted_code - code)^2.
  """
  return l2_loss(prediction=predicted_code, target=code)

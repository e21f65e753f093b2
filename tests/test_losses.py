"""Tests for leedjax.losses: hand-computed values, edge cases, jit, keywords.

Inputs are numpy arrays and every loss runs under jit (see `call`): eager jax
compiles each primitive separately, which is several times slower here.
"""

import functools
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from leedjax import losses

jax.config.update('jax_enable_x64', False)

# float32 tolerances.
RTOL = 1e-5
ATOL = 1e-6

LOG_TWO_PI = math.log(2.0 * math.pi)  # 1.8378771


def f32(x) -> np.ndarray:
  return np.asarray(x, np.float32)


def call(function, **kwargs):
  """Calls a loss under jit: one compile per call, not one per eager op.

  Callables and Python scalars are bound statically; arrays and containers of
  arrays are traced.
  """
  static = {name: value for name, value in kwargs.items()
            if callable(value) or isinstance(value, (int, float, tuple))}
  traced = {name: value for name, value in kwargs.items()
            if name not in static}
  return jax.jit(functools.partial(function, **static))(**traced)


def assert_close(actual, expected, rtol=RTOL, atol=ATOL):
  np.testing.assert_allclose(np.asarray(actual), expected, rtol=rtol,
                             atol=atol)


def assert_all_finite(tree):
  for leaf in jax.tree.leaves(tree):
    assert np.all(np.isfinite(np.asarray(leaf))), leaf


# ---------------------------------------------------------------------------
# Elementwise losses
# ---------------------------------------------------------------------------

PREDICTION = f32([[1, 2], [3, 4]])
TARGET = f32([[0, 2], [5, 1]])


def test_l1_loss_hand_value():
  # |diff| = 1, 0, 2, 3 -> mean 6 / 4.
  assert_close(call(losses.l1_loss, prediction=PREDICTION, target=TARGET),
               1.5)


def test_l2_loss_hand_value():
  # diff^2 = 1, 0, 4, 9 -> mean 14 / 4.
  assert_close(call(losses.l2_loss, prediction=PREDICTION, target=TARGET),
               3.5)


def test_elementwise_losses_reject_mismatched_shapes():
  with pytest.raises(ValueError):
    call(losses.l2_loss, prediction=np.zeros((2, 3)), target=np.zeros((2, 1)))


def test_l2_loss_is_independent_of_resolution():
  # A constant error of 0.5 gives 0.25 per element at any size.
  for size in (4, 16):
    error = np.full((2, size, size, 3), 0.5, np.float32)
    assert_close(call(losses.l2_loss, prediction=error, target=0 * error),
                 0.25)


def test_total_variation_hand_value():
  image = f32([[0, 1, 3],
               [1, 1, 1],
               [2, 0, 0]])[None, :, :, None]
  # Vertical |diffs|: row1 - row0 = 1, 0, 2; row2 - row1 = 1, 1, 1 -> 6 / 6.
  # Horizontal |diffs|: 1, 2; 0, 0; 2, 0 -> 5 / 6.
  assert_close(call(losses.total_variation, images=image), 1.0 + 5.0 / 6.0)


def test_total_variation_of_constant_and_stripes():
  assert_close(call(losses.total_variation, images=np.ones((2, 5, 5, 3))),
               0.0)
  stripes = np.tile(f32([0, 1]), (1, 4, 2))[..., None]  # (1, 4, 4, 1)
  # Only horizontal neighbours differ, each by 1.
  assert_close(call(losses.total_variation, images=stripes), 1.0)


def test_perceptual_loss_dict_hand_value():
  features_a = {'conv1': f32([1, 2, 3, 4]).reshape(1, 2, 2, 1),
                'conv2': f32([0, 0]).reshape(1, 1, 1, 2)}
  features_b = {'conv1': f32([1, 2, 3, 6]).reshape(1, 2, 2, 1),
                'conv2': f32([1, 3]).reshape(1, 1, 1, 2)}
  # conv1: diffs 0, 0, 0, 2 -> 4 / 4 = 1.  conv2: (1 + 9) / 2 = 5.
  total, parts = call(losses.perceptual_loss, features_a=features_a,
                      features_b=features_b,
                      layer_weights={'conv1': 1.0, 'conv2': 0.5})
  assert set(parts) == {'conv1', 'conv2'}
  assert_close(parts['conv1'], 1.0)
  assert_close(parts['conv2'], 5.0)
  assert_close(total, 1.0 + 0.5 * 5.0)


def test_perceptual_loss_list_default_and_explicit_weights():
  features_a = [f32([[1, 2]]), f32([[0]])]
  features_b = [f32([[2, 2]]), f32([[2]])]
  # layer_0: (1 + 0) / 2 = 0.5; layer_1: 4.
  total, parts = call(losses.perceptual_loss, features_a=features_a,
                      features_b=features_b)
  assert_close(parts['layer_0'], 0.5)
  assert_close(parts['layer_1'], 4.0)
  assert_close(total, 4.5)
  total, _ = call(losses.perceptual_loss, features_a=features_a,
                  features_b=features_b, layer_weights=[2.0, 0.25])
  assert_close(total, 2.0 * 0.5 + 0.25 * 4.0)


def test_perceptual_loss_rejects_mismatched_layers():
  with pytest.raises(ValueError):
    losses.perceptual_loss(features_a={'a': np.zeros(2)},
                           features_b={'b': np.zeros(2)})
  with pytest.raises(ValueError):
    losses.perceptual_loss(features_a={'a': np.zeros(2)},
                           features_b={'a': np.zeros(2)},
                           layer_weights={'c': 1.0})


# ---------------------------------------------------------------------------
# Gaussian negative log-likelihood (LEED eq. 3)
# ---------------------------------------------------------------------------


def test_gaussian_nll_hand_value():
  mean = f32([[0, 1], [0, 0]])
  log_variance = f32([[0, math.log(4.0)], [0, 0]])
  target = f32([[1, 3], [0, 0]])
  # Example 1: 0.5 (log2pi + 0 + 1) + 0.5 (log2pi + log 4 + 4 / 4)
  #          = log2pi + log 2 + 1 = 3.5310242.
  # Example 2: two dims, zero error, unit variance: log2pi = 1.8378771.
  expected = ((LOG_TWO_PI + math.log(2.0) + 1.0) + LOG_TWO_PI) / 2.0
  assert_close(call(losses.gaussian_nll, mean=mean,
                    log_variance=log_variance, target=target), expected)


def test_gaussian_nll_broadcasts_log_variance():
  # Scalar log-variance log 4 on (1, 3) features with errors 2, 0, 0:
  # 3 * 0.5 (log2pi + log 4) + 0.5 * 4 / 4.
  value = call(losses.gaussian_nll, mean=np.zeros((1, 3), np.float32),
               log_variance=f32(math.log(4.0)), target=f32([[2, 0, 0]]))
  assert_close(value, 1.5 * (LOG_TWO_PI + math.log(4.0)) + 0.5)


@jax.jit
def nll_value_and_grads(mean, log_variance, target):
  return jax.value_and_grad(
      lambda m, lv: losses.gaussian_nll(mean=m, log_variance=lv,
                                        target=target),
      argnums=(0, 1))(mean, log_variance)


@pytest.mark.parametrize('log_variance', [-1e4, -100.0, 100.0, 1e4])
def test_gaussian_nll_is_safe_for_large_log_variance(log_variance):
  mean = f32([[0, 1]])
  target = f32([[0, 3]])  # one exact match, one error of 2.
  value, grads = nll_value_and_grads(mean, np.full((1, 2), log_variance,
                                                   np.float32), target)
  assert_all_finite((value, grads))
  # Beyond the bounds the log-variance acts as +-20: per element
  # 0.5 (log2pi + bound + error^2 exp(-bound)), errors 0 and 2.
  bound = 20.0 if log_variance > 0 else -20.0
  expected = LOG_TWO_PI + bound + 0.5 * 4.0 * math.exp(-bound)
  assert_close(value, expected, rtol=1e-4)


def test_gaussian_nll_gradient_pulls_log_variance_back_inside_bounds():
  # Zero error: the loss grows with the log-variance. A hard clip at 20 would
  # give exactly zero gradient at 22.
  zeros = np.zeros((1, 1), np.float32)
  _, (_, grad) = nll_value_and_grads(zeros, f32([[22.0]]), zeros)
  assert grad[0, 0] > 0


# ---------------------------------------------------------------------------
# Classification
# ---------------------------------------------------------------------------

CLASS_LOGITS = f32([[0, 0, 0], [math.log(2.0), 0, 0]])
CLASS_LABELS = np.array([0, 0], np.int32)
# Example 1: uniform over 3 -> log 3.  Example 2: p = (1/2, 1/4, 1/4) -> log 2.
CLASS_CE = (math.log(3.0) + math.log(2.0)) / 2.0  # 0.8958797


def test_softmax_cross_entropy_hand_value():
  assert_close(call(losses.softmax_cross_entropy, logits=CLASS_LOGITS,
                    labels=CLASS_LABELS), CLASS_CE)


def test_softmax_cross_entropy_label_smoothing_hand_value():
  # s = 0.3, K = 3: target (0.8, 0.1, 0.1). Example 1: log 3. Example 2:
  # 0.8 log 2 + 0.1 log 4 + 0.1 log 4 = 1.2 log 2.
  expected = (math.log(3.0) + 1.2 * math.log(2.0)) / 2.0
  assert_close(call(losses.softmax_cross_entropy, logits=CLASS_LOGITS,
                    labels=CLASS_LABELS, label_smoothing=0.3), expected)


def test_sigmoid_cross_entropy_hand_value():
  logits = f32([[0, math.log(3.0)], [-math.log(3.0), 100]])
  labels = f32([[1, 0], [0, 1]])
  # Example 1: -log sigmoid(0) = log 2; -log(1 - 3/4) = log 4.
  # Example 2: -log(1 - 1/4) = log(4/3); -log sigmoid(100) ~ 0.
  expected = (math.log(2.0) + math.log(4.0) + math.log(4.0 / 3.0)) / 2.0
  assert_close(call(losses.sigmoid_cross_entropy, logits=logits,
                    labels=labels), expected)


def test_sigmoid_cross_entropy_is_stable_for_large_logits():
  value = call(losses.sigmoid_cross_entropy, logits=f32([[-1000, 1000]]),
               labels=f32([[1, 0]]))
  assert_close(value, 2000.0)


# ---------------------------------------------------------------------------
# Siamese loss (LEED eqs. 9-11)
# ---------------------------------------------------------------------------


def test_siamese_cosine_loss_hand_value():
  reference = f32([[3, 4], [1, 0]])
  edited = f32([[4, 3], [-2, 0]])
  # cos = 24 / 25 = 0.96 -> 0.04; opposite directions -> 2.
  assert_close(call(losses.siamese_cosine_loss, reference_delta=reference,
                    edited_delta=edited), (0.04 + 2.0) / 2.0)


def test_siamese_cosine_loss_flattens_feature_axes():
  reference = f32([[[1, 0], [0, 1]]])  # (1, 2, 2)
  edited = f32([[[1, 0], [0, 0]]])
  # cos = 1 / (sqrt 2 * 1).
  assert_close(call(losses.siamese_cosine_loss, reference_delta=reference,
                    edited_delta=edited), 1.0 - 1.0 / math.sqrt(2.0))


@jax.jit
def siamese_value_and_grads(reference, edited):
  return jax.value_and_grad(
      lambda r, e: losses.siamese_cosine_loss(reference_delta=r,
                                              edited_delta=e),
      argnums=(0, 1))(reference, edited)


@pytest.mark.parametrize('reference,edited', [
    ([[0, 0, 0]], [[0, 0, 0]]),
    ([[0, 0, 0]], [[1, 2, 2]]),
    ([[1, 2, 2]], [[0, 0, 0]]),
])
def test_siamese_cosine_loss_is_safe_at_zero_vectors(reference, edited):
  value, grads = siamese_value_and_grads(f32(reference), f32(edited))
  assert_all_finite((value, grads))
  assert_close(value, 1.0)  # cos of anything with a zero vector is 0.


# ---------------------------------------------------------------------------
# WGAN-GP
# ---------------------------------------------------------------------------


def test_critic_and_generator_losses_hand_values():
  real = f32([[1], [3]])      # mean 2
  fake = f32([[0.5], [2.5]])  # mean 1.5
  assert_close(call(losses.critic_loss, real_scores=real, fake_scores=fake),
               -0.5)
  assert_close(call(losses.generator_adversarial_loss, fake_scores=fake),
               -1.5)


def linear_critic(weights):
  # f(x) = <w, x> per example; grad_x f = w everywhere.
  return lambda x: jnp.sum(x * weights, axis=tuple(range(1, x.ndim)))


def quadratic_critic(x):
  # f(x) = 0.5 ||x||^2 per example; grad_x f = x.
  return 0.5 * jnp.sum(jnp.square(x), axis=1)


def test_gradient_penalty_linear_critic():
  # ||w|| = 5 -> (5 - 1)^2 = 16, whatever the interpolation.
  penalty = call(losses.gradient_penalty,
                 critic_fn=linear_critic(f32([3, 4])),
                 real=f32([[1, 2], [0, -1]]), fake=f32([[5, 0], [2, 2]]),
                 rng=jax.random.key(0))
  assert_close(penalty, 16.0)


def test_gradient_penalty_linear_critic_on_images():
  # The norm runs over all non-batch axes: w = 1 on (2, 2, 1) has norm 2 -> 1.
  penalty = call(losses.gradient_penalty,
                 critic_fn=linear_critic(np.ones((2, 2, 1), np.float32)),
                 real=np.ones((3, 2, 2, 1), np.float32),
                 fake=np.zeros((3, 2, 2, 1), np.float32),
                 rng=jax.random.key(1))
  assert_close(penalty, 1.0)


def test_gradient_penalty_quadratic_critic_real_equals_fake():
  # With real == fake, x_hat = real whatever eps: norms 5 and 0.5.
  # Penalty ((5 - 1)^2 + (0.5 - 1)^2) / 2 = (16 + 0.25) / 2. A gradient of
  # the mean of the scores instead of their sum would halve the norms.
  points = f32([[3, 4], [0, 0.5]])
  penalty = call(losses.gradient_penalty, critic_fn=quadratic_critic,
                 real=points, fake=points, rng=jax.random.key(2))
  assert_close(penalty, 8.125)


def test_gradient_penalty_quadratic_critic_fixed_eps():
  # eps is documented as jax.random.uniform(rng, (B, 1)). With fake = 0,
  # x_hat = eps * real, grad = eps * real, norm eps * ||real||.
  rng = jax.random.key(3)
  eps = np.asarray(jax.random.uniform(rng, (2, 1)))[:, 0]
  real = f32([[3, 4], [0, 2]])  # norms 5 and 2.
  expected = ((eps[0] * 5.0 - 1.0) ** 2 + (eps[1] * 2.0 - 1.0) ** 2) / 2.0
  penalty = call(losses.gradient_penalty, critic_fn=quadratic_critic,
                 real=real, fake=np.zeros_like(real), rng=rng)
  assert_close(penalty, expected)


@jax.jit
def penalty_value_and_grad(weights):
  return jax.value_and_grad(lambda w: losses.gradient_penalty(
      critic_fn=linear_critic(w), real=jnp.ones((2, 2)),
      fake=jnp.zeros((2, 2)), rng=jax.random.key(4)))(weights)


def test_gradient_penalty_parameter_gradient():
  # Zero input gradient: penalty 1 and a finite parameter gradient.
  value, grad = penalty_value_and_grad(np.zeros(2, np.float32))
  assert_close(value, 1.0)
  assert_all_finite(grad)
  # Elsewhere d/dw (||w|| - 1)^2 = 2 (||w|| - 1) w / ||w|| = 8 (0.6, 0.8).
  _, grad = penalty_value_and_grad(f32([3, 4]))
  assert_close(grad, [4.8, 6.4])


# ---------------------------------------------------------------------------
# StarGAN
# ---------------------------------------------------------------------------


def test_stargan_discriminator_loss_hand_value():
  real_src = f32([1, 3, 1, 3]).reshape(1, 2, 2, 1)            # patches, mean 2
  fake_src = f32([0.5, -0.5, 0.5, -0.5]).reshape(1, 2, 2, 1)  # mean 0
  inputs = dict(real_src=real_src, fake_src=fake_src,
                real_cls_logits=CLASS_LOGITS, real_labels=CLASS_LABELS,
                gradient_penalty=f32(0.25))
  # adversarial 0 - 2 = -2; classification CLASS_CE; penalty 0.25.
  total, parts = call(losses.stargan_discriminator_loss, **inputs)
  assert set(parts) == {'adversarial', 'classification', 'gradient_penalty'}
  assert_close(parts['adversarial'], -2.0)
  assert_close(parts['classification'], CLASS_CE)
  assert_close(parts['gradient_penalty'], 0.25)
  assert_close(total, -2.0 + CLASS_CE + 10.0 * 0.25)
  total, _ = call(losses.stargan_discriminator_loss, lambda_cls=2.0,
                  lambda_gp=1.0, **inputs)
  assert_close(total, -2.0 + 2.0 * CLASS_CE + 0.25)


def test_stargan_generator_loss_hand_value():
  total, parts = call(losses.stargan_generator_loss,
                      fake_src=f32([[1], [2]]),  # mean 1.5
                      fake_cls_logits=CLASS_LOGITS, target_labels=CLASS_LABELS,
                      reconstruction=f32([[0, 4]]),
                      original=f32([[1, 2]]))  # |diff| 1, 2 -> 1.5
  assert set(parts) == {'adversarial', 'classification', 'reconstruction'}
  assert_close(parts['adversarial'], -1.5)
  assert_close(parts['classification'], CLASS_CE)
  assert_close(parts['reconstruction'], 1.5)
  assert_close(total, -1.5 + CLASS_CE + 10.0 * 1.5)


def test_stargan_generator_identity_term_hand_value():
  common = dict(fake_src=f32([[1], [2]]), fake_cls_logits=CLASS_LOGITS,
                target_labels=CLASS_LABELS, reconstruction=f32([[0, 4]]),
                original=f32([[1, 2]]))
  total, parts = call(losses.stargan_generator_loss, **common,
                      same_domain=f32([[1, 5]]),  # |diff| 0, 3 -> 1.5
                      lambda_identity=2.0)
  assert_close(parts['identity'], 1.5)
  assert_close(total, -1.5 + CLASS_CE + 10.0 * 1.5 + 2.0 * 1.5)
  with pytest.raises(ValueError, match='same_domain'):
    call(losses.stargan_generator_loss, **common, lambda_identity=2.0)


def test_stargan_multi_label_uses_sigmoid():
  # Multi-hot labels shaped like the logits: log 2 + log 4, as in the
  # sigmoid test above.
  _, parts = call(losses.stargan_generator_loss,
                  fake_src=np.zeros((1, 1), np.float32),
                  fake_cls_logits=f32([[0, math.log(3.0)]]),
                  target_labels=f32([[1, 0]]),
                  reconstruction=np.zeros((1, 2), np.float32),
                  original=np.zeros((1, 2), np.float32))
  assert_close(parts['classification'], math.log(8.0))


# ---------------------------------------------------------------------------
# ExprGAN
# ---------------------------------------------------------------------------


def test_expression_code_sign_structure_and_ranges():
  num_classes, code_dim = 3, 4
  labels = np.array([0, 2, 1, 2], np.int32)
  code = call(losses.expression_code, rng=jax.random.key(5), labels=labels,
              num_classes=num_classes, code_dim=code_dim)
  assert code.shape == (4, num_classes * code_dim)
  assert code.dtype == jnp.float32
  slots = np.asarray(code).reshape(4, num_classes, code_dim)
  for example, label in enumerate(labels):
    for slot in range(num_classes):
      values = slots[example, slot]
      if slot == label:
        assert np.all((values >= 0) & (values <= 1))
      else:
        assert np.all((values <= 0) & (values >= -1))
      # ExprGAN eq. 3: one |z| per example, shared by every slot.
      np.testing.assert_array_equal(np.abs(values),
                                    np.abs(slots[example, label]))
  # Different examples draw different z.
  assert not np.allclose(np.abs(slots[0, 0]), np.abs(slots[1, 2]))


def test_expression_code_magnitude_is_uniform_on_unit_interval():
  code = np.asarray(call(losses.expression_code, rng=jax.random.key(6),
                         labels=np.zeros(4096, np.int32), num_classes=2,
                         code_dim=5))
  magnitude = code[:, :5]  # target slot: |z|, z ~ U(-1, 1).
  assert magnitude.min() >= 0.0 and magnitude.max() <= 1.0
  # |U(-1, 1)| is U(0, 1): mean 1/2, variance 1/12.
  assert abs(magnitude.mean() - 0.5) < 0.01
  assert abs(magnitude.var() - 1.0 / 12.0) < 0.005
  np.testing.assert_array_equal(code[:, 5:], -magnitude)


def test_exprgan_q_loss_hand_value_and_gaussian_equivalence():
  predicted = f32([[0.5, -0.5], [0, 1]])
  code = f32([[1, 0], [0, 0]])
  # diff^2 = 0.25, 0.25, 0, 1 -> mean 1.5 / 4.
  q_loss = call(losses.exprgan_q_loss, predicted_code=predicted, code=code)
  assert_close(q_loss, 0.375)
  # Unit-variance Gaussian NLL, n = 2 entries: per example
  # 0.5 sum diff^2 + log2pi, so the batch mean is (n / 2) * MSE + log2pi.
  nll = call(losses.gaussian_nll, mean=predicted,
             log_variance=np.zeros_like(code), target=code)
  assert_close(nll, 1.0 * q_loss + LOG_TWO_PI)


# ---------------------------------------------------------------------------
# jit against eager, dtypes, keyword-only calls
# ---------------------------------------------------------------------------

# Eager dispatch is slow (one compile per primitive), so only a sample.
EAGER_CASES = {
    'l2_loss': dict(prediction=PREDICTION, target=TARGET),
    'siamese_cosine_loss': dict(reference_delta=PREDICTION,
                                edited_delta=TARGET),
}


@pytest.mark.parametrize('name', sorted(EAGER_CASES))
def test_jit_matches_eager(name):
  function = getattr(losses, name)
  eager = function(**EAGER_CASES[name])
  jitted = call(function, **EAGER_CASES[name])
  jax.tree.map(assert_close, jitted, eager)


def test_bfloat16_inputs_are_reduced_in_float32():
  value = call(losses.l2_loss, prediction=PREDICTION.astype(jnp.bfloat16),
               target=TARGET.astype(jnp.bfloat16))
  assert value.dtype == jnp.float32
  assert_close(value, 3.5)


POSITIONAL_CASES = {
    'l1_loss': (PREDICTION, TARGET),
    'l2_loss': (PREDICTION, TARGET),
    'squared_norm': (PREDICTION, TARGET),
    'total_variation': (np.ones((1, 2, 2, 1)),),
    'perceptual_loss': ([PREDICTION], [TARGET]),
    'gaussian_nll': (PREDICTION, TARGET, TARGET),
    'softmax_cross_entropy': (CLASS_LOGITS, CLASS_LABELS),
    'sigmoid_cross_entropy': (PREDICTION, TARGET),
    'siamese_cosine_loss': (PREDICTION, TARGET),
    'critic_loss': (PREDICTION, TARGET),
    'generator_adversarial_loss': (TARGET,),
    'gradient_penalty': (quadratic_critic, PREDICTION, TARGET,
                         jax.random.key(0)),
    'stargan_discriminator_loss': (TARGET, TARGET, CLASS_LOGITS, CLASS_LABELS,
                                   f32(0)),
    'stargan_generator_loss': (TARGET, CLASS_LOGITS, CLASS_LABELS, TARGET,
                               TARGET),
    'expression_code': (jax.random.key(0), CLASS_LABELS, 3, 2),
    'exprgan_q_loss': (PREDICTION, TARGET),
}


@pytest.mark.parametrize('name', sorted(POSITIONAL_CASES))
def test_positional_arguments_are_rejected(name):
  with pytest.raises(TypeError):
    getattr(losses, name)(*POSITIONAL_CASES[name])


def test_every_public_function_is_in_the_keyword_test():
  public = {name for name, value in vars(losses).items()
            if not name.startswith('_') and callable(value)
            and getattr(value, '__module__', None) == losses.__name__}
  assert public == set(POSITIONAL_CASES)


def test_squared_norm_sums_each_example_and_averages_the_batch():
  prediction = jnp.array([[[1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [0.0, 1.0]]])
  target = jnp.zeros_like(prediction)
  # Example 0: 1 + 4 + 9 + 16 = 30; example 1: 1. Mean: 15.5.
  assert call(losses.squared_norm, prediction=prediction,
              target=target) == pytest.approx(15.5)


def test_perceptual_loss_sum_reduction_is_the_squared_norm_per_layer():
  a = {'x': jnp.ones((2, 2, 2, 1)), 'y': jnp.zeros((2, 1, 1, 3))}
  b = {'x': jnp.zeros((2, 2, 2, 1)), 'y': jnp.full((2, 1, 1, 3), 2.0)}
  total, parts = losses.perceptual_loss(features_a=a, features_b=b,
                                        reduction='sum',
                                        layer_weights={'x': 1.0, 'y': 0.5})
  # x: 4 ones per example -> 4; y: 3 elements of 2^2 -> 12; 4 + 0.5 * 12.
  assert float(parts['x']) == pytest.approx(4.0)
  assert float(parts['y']) == pytest.approx(12.0)
  assert float(total) == pytest.approx(10.0)
  with pytest.raises(ValueError, match='reduction'):
    losses.perceptual_loss(features_a=a, features_b=b, reduction='max')

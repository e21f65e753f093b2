"""leedjax.nets.lowering: the convolutions fast on XLA:CPU compute what
XLA's own ops compute, outputs, gradients and second derivatives (the
gradient penalties differentiate a gradient)."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from leedjax.nets import layers
from leedjax.nets import leed as leed_nets
from leedjax.nets import lowering
from leedjax.nets import stargan

# float32 sums in another order: relative to each array's largest value.
RTOL = 2e-5


def _assert_trees_close(a, b, rtol=RTOL):
  for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
    x, y = np.asarray(x), np.asarray(y)
    scale = max(float(np.max(np.abs(x))), 1e-30)
    np.testing.assert_allclose(y, x, rtol=0, atol=rtol * scale)


def _both(function, *args):
  """`function(*args)` jitted under the plain and the optimized lowering."""
  results = []
  for name in ('plain', 'optimized'):
    with lowering.use_lowering(name):
      results.append(jax.jit(function)(*args))
  return results


def _random(shape, seed=0):
  return jnp.asarray(np.random.default_rng(seed).normal(size=shape),
                     jnp.float32)


@pytest.mark.parametrize('size,kernel,stride,padding', [
    (2, 3, 1, 1),        # LEED's 2x2 codes at 32 px
    (1, 3, 1, 1),
    (4, 4, 2, 1),        # StarGAN D's last stride-2 convs
    (2, 4, 2, 1),
    (2, 3, 1, 'SAME'),
    (3, 3, 2, 'VALID'),
    (3, 3, 2, 'SAME'),
    (2, 2, 1, 0),        # Q's whole-code kernel
    (8, 3, 1, 1),        # a larger map: XLA's own convolution
])
def test_conv_has_flax_parameters_outputs_and_gradients(size, kernel,
                                                        stride, padding):
  x = _random((3, size, size, 5))
  ours = layers.Conv(7, (kernel, kernel), strides=stride, padding=padding)
  flax_conv = nn.Conv(7, (kernel, kernel), strides=stride, padding=padding)
  variables = flax_conv.init(jax.random.key(0), x)
  assert jax.tree.structure(ours.init(jax.random.key(0), x)) == (
      jax.tree.structure(variables))

  def loss(module):
    return lambda v, x: jnp.sum(jnp.sin(module.apply(v, x)))
  with lowering.use_lowering('optimized'):
    got = (ours.apply(variables, x),
           jax.grad(loss(ours), argnums=(0, 1))(variables, x))
  expected = (flax_conv.apply(variables, x),
              jax.grad(loss(flax_conv), argnums=(0, 1))(variables, x))
  _assert_trees_close(expected, got)


def test_tiny_maps_take_the_matmul_only_when_optimized():
  def ops(size, name):
    x = jnp.ones((2, size, size, 4))
    module = layers.Conv(4, (3, 3), padding=1)
    variables = module.init(jax.random.key(0), x)
    with lowering.use_lowering(name):
      return str(jax.make_jaxpr(module.apply)(variables, x))
  assert 'conv_general_dilated' not in ops(2, 'optimized')
  assert 'conv_general_dilated' in ops(4, 'optimized')
  assert 'conv_general_dilated' in ops(2, 'plain')


def test_grouped_convolutions_pass_through():
  x = jnp.ones((2, 2, 2, 4))
  module = layers.Conv(4, (3, 3), padding=1, feature_group_count=4)
  variables = module.init(jax.random.key(0), x)
  with lowering.use_lowering('optimized'):
    assert 'conv_general_dilated' in str(jax.make_jaxpr(module.apply)(
        variables, x))


@pytest.mark.parametrize('size', [1, 3, 8])
def test_sub_pixel_transposed_conv_equals_xla_to_second_order(size):
  x, kernel = _random((2, size, size, 6)), _random((4, 4, 5, 6), seed=1)

  def outputs_and_derivatives(x, kernel):
    def scalar(x, kernel):
      return jnp.sum(jnp.tanh(lowering.conv_transpose_4x4_stride_2(x,
                                                                   kernel)))
    # A gradient penalty's shape: the kernel's gradient of |d/dx|^2.
    def penalty(kernel, x):
      return jnp.sum(jax.grad(scalar)(x, kernel) ** 2)
    return (lowering.conv_transpose_4x4_stride_2(x, kernel),
            jax.grad(scalar, argnums=(0, 1))(x, kernel),
            jax.grad(penalty)(kernel, x))

  plain, optimized = _both(outputs_and_derivatives, x, kernel)
  assert plain[0].shape == (2, 2 * size, 2 * size, 5)
  _assert_trees_close(plain, optimized)


@pytest.mark.parametrize('size', [4, 6, 16])
def test_strided_conv_equals_xla_to_second_order(size):
  x = _random((2, size, size, 3))
  conv = layers.Conv(5, (4, 4), strides=2, padding=1)
  variables = conv.init(jax.random.key(0), x)

  def outputs_and_derivatives(variables, x):
    def critic(x, variables):
      return jnp.sum(jnp.tanh(conv.apply(variables, x)))
    def penalty(variables, x):  # WGAN-GP's form
      return jnp.sum(jax.grad(critic)(x, variables) ** 2)
    return (conv.apply(variables, x),
            jax.grad(critic, argnums=(0, 1))(x, variables),
            jax.grad(penalty)(variables, x))

  plain, optimized = _both(outputs_and_derivatives, variables, x)
  _assert_trees_close(plain, optimized)


def test_optimized_lowering_has_no_dilated_convolutions():
  x, kernel = _random((2, 8, 8, 6)), _random((4, 4, 5, 6), seed=1)
  down = layers.Conv(4, (4, 4), strides=2, padding=1)
  variables = down.init(jax.random.key(0), jnp.zeros((2, 16, 16, 5)))

  def penalty_gradients(x, kernel, variables):
    def critic(x, kernel, variables):
      up = lowering.conv_transpose_4x4_stride_2(x, kernel)
      return jnp.sum(jnp.tanh(down.apply(variables, up)))
    def penalty(kernel, variables):
      return jnp.sum(jax.grad(critic)(x, kernel, variables) ** 2)
    return jax.grad(penalty, argnums=(0, 1))(kernel, variables)
  for name, dilated in (('plain', True), ('optimized', False)):
    with lowering.use_lowering(name):
      text = jax.jit(penalty_gradients).lower(
          x, kernel, variables).compile().as_text()
    # XLA's HLO names a dilation only where there is one (lhs_dilate=2x2).
    assert ('lhs_dilate=' in text or 'rhs_dilate=' in text) == dilated, name


def test_auto_is_optimized_on_cpu_and_unknown_names_are_refused():
  with lowering.use_lowering('auto'):
    assert lowering.lowering() == ('optimized' if jax.default_backend()
                                   == 'cpu' else 'plain')
  with pytest.raises(ValueError, match='lowering'):
    with lowering.use_lowering('fast'):
      pass


@pytest.mark.parametrize('network', ['stargan', 'leed'])
def test_whole_networks_agree_in_both_lowerings(network):
  images = _random((2, 16, 16, 3))
  if network == 'stargan':
    generator = stargan.Generator(num_classes=3, conv_dim=4,
                                  num_residual_blocks=1)
    labels = jax.nn.one_hot(jnp.array([0, 2]), 3)
    variables = generator.init(jax.random.key(0), images, labels)

    def run(variables, images):
      def loss(variables, images):
        return jnp.sum(generator.apply(variables, images, labels) ** 2)
      return generator.apply(variables, images, labels), jax.grad(
          loss, argnums=(0, 1))(variables, images)
  else:
    encoder = leed_nets.Encoder(width=0.0625, code_stride=8)
    variables = encoder.init(jax.random.key(0), images)

    def run(variables, images):
      def loss(variables, images):
        return jnp.sum(encoder.apply(variables, images) ** 2)
      return encoder.apply(variables, images), jax.grad(
          loss, argnums=(0, 1))(variables, images)
  plain, optimized = _both(run, variables, images)
  _assert_trees_close(plain, optimized)


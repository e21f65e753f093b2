"""layers.Conv: flax's Conv, computing tiny output maps as one matmul."""

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from leedjax.nets import layers


@pytest.mark.parametrize('size,kernel,stride,padding', [
    (2, 3, 1, 1),        # LEED's 2x2 codes at 32 px
    (1, 3, 1, 1),
    (4, 4, 2, 1),        # StarGAN D's last stride-2 convs
    (2, 4, 2, 1),
    (2, 3, 1, 'SAME'),
    (3, 3, 2, 'VALID'),
    (2, 2, 1, 0),        # Q's whole-code kernel
    (8, 3, 1, 1),        # a larger map: XLA's own convolution
])
def test_same_parameters_outputs_and_gradients_as_flax_conv(size, kernel,
                                                            stride, padding):
  x = jnp.asarray(np.random.default_rng(0).normal(size=(3, size, size, 5)),
                  jnp.float32)
  ours = layers.Conv(7, (kernel, kernel), strides=stride, padding=padding)
  flax_conv = nn.Conv(7, (kernel, kernel), strides=stride, padding=padding)
  variables = flax_conv.init(jax.random.key(0), x)
  assert jax.tree.structure(ours.init(jax.random.key(0), x)) == (
      jax.tree.structure(variables))
  np.testing.assert_allclose(ours.apply(variables, x),
                             flax_conv.apply(variables, x), atol=2e-6)

  def loss(module):
    return lambda v, x: jnp.sum(jnp.sin(module.apply(v, x)))
  ours_grads = jax.grad(loss(ours), argnums=(0, 1))(variables, x)
  flax_grads = jax.grad(loss(flax_conv), argnums=(0, 1))(variables, x)
  for a, b in zip(jax.tree.leaves(ours_grads), jax.tree.leaves(flax_grads)):
    np.testing.assert_allclose(a, b, atol=2e-6)


def test_tiny_maps_take_the_matmul_and_others_xla_conv():
  def ops(size):
    x = jnp.ones((2, size, size, 4))
    module = layers.Conv(4, (3, 3), padding=1)
    variables = module.init(jax.random.key(0), x)
    return str(jax.make_jaxpr(module.apply)(variables, x))
  assert 'conv_general_dilated' not in ops(2)
  assert 'conv_general_dilated' in ops(4)


def test_grouped_convolutions_pass_through():
  x = jnp.ones((2, 2, 2, 4))
  module = layers.Conv(4, (3, 3), padding=1, feature_group_count=4)
  variables = module.init(jax.random.key(0), x)
  assert 'conv_general_dilated' in str(jax.make_jaxpr(module.apply)(
      variables, x))

"""StarGAN's networks: the release's parameter counts, shapes, sizes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import nets_testing
from leedjax.nets import layers
from leedjax.nets import lowering
from leedjax.nets import stargan


def _abstract_output_and_count(model, *args):
  out, variables = jax.eval_shape(model.init_with_output, jax.random.key(0),
                                  *args)
  assert set(variables) == {'params'}  # InstanceNorm keeps no statistics
  return jax.tree.map(lambda x: x.shape, out), layers.count_params(variables)


@pytest.mark.parametrize('num_classes,generator_params,discriminator_params', [
    (5, 8_430_528, 44_762_048),
    (8, 8_439_936, 44_786_624),
])
def test_parameter_counts_match_the_release_at_128px(
    num_classes, generator_params, discriminator_params):
  images = jax.ShapeDtypeStruct((2, 128, 128, 3), jnp.float32)
  labels = jax.ShapeDtypeStruct((2, num_classes), jnp.float32)
  out, count = _abstract_output_and_count(
      stargan.Generator(num_classes=num_classes), images, labels)
  assert (out, count) == ((2, 128, 128, 3), generator_params)
  out, count = _abstract_output_and_count(
      stargan.Discriminator(num_classes=num_classes), images)
  assert (out, count) == (((2, 2, 2, 1), (2, num_classes)),
                          discriminator_params)


@pytest.mark.parametrize('image_size,patch_side', [(16, 1), (32, 1), (64, 1),
                                                   (256, 4)])
def test_discriminator_adapts_to_image_size(image_size, patch_side):
  images = jax.ShapeDtypeStruct((2, image_size, image_size, 3), jnp.float32)
  model = stargan.Discriminator(image_size=image_size, num_classes=3,
                                conv_dim=4)
  out, _ = _abstract_output_and_count(model, images)
  assert out == ((2, patch_side, patch_side, 1), (2, 3))


def test_discriminator_rejects_sizes_it_was_not_built_for():
  with pytest.raises(ValueError, match='repeat_num=6'):
    stargan.Discriminator(image_size=32, repeat_num=6).num_stages()
  with pytest.raises(ValueError, match='48'):
    stargan.Discriminator(image_size=48).num_stages()
  with pytest.raises(ValueError, match='built for'):
    jax.eval_shape(stargan.Discriminator(image_size=64, conv_dim=4).init,
                   jax.random.key(0), jnp.zeros((1, 32, 32, 3)))


def test_generator_rejects_bad_inputs():
  model = stargan.Generator(num_classes=5, conv_dim=4, num_residual_blocks=1)
  with pytest.raises(ValueError, match='target_labels'):
    jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 32, 32, 3)),
                   jnp.zeros((1, 4)))
  with pytest.raises(ValueError, match='multiples of 4'):
    jax.eval_shape(model.init, jax.random.key(0), jnp.zeros((1, 30, 30, 3)),
                   jnp.zeros((1, 5)))


def test_small_networks_run_and_stay_in_range():
  rng = np.random.default_rng(0)
  images = rng.uniform(-1, 1, (2, 32, 32, 3)).astype(np.float32)
  labels = np.eye(4, dtype=np.float32)[[0, 3]]
  generator = stargan.Generator(num_classes=4, conv_dim=8,
                                num_residual_blocks=2)
  variables = nets_testing.numpy_variables(generator, images, labels)
  translated = jax.jit(generator.apply)(variables, images, labels)
  assert translated.shape == images.shape
  assert nets_testing.all_finite(translated)
  assert np.all(np.abs(translated) <= 1)
  discriminator = stargan.Discriminator(image_size=32, num_classes=4,
                                        conv_dim=8)
  variables = nets_testing.numpy_variables(discriminator, images)
  patch_scores, class_logits = jax.jit(discriminator.apply)(variables, images)
  assert patch_scores.shape == (2, 1, 1, 1)
  assert class_logits.shape == (2, 4)
  assert nets_testing.all_finite((patch_scores, class_logits))


@pytest.mark.parametrize('name', ['plain', 'optimized'])
def test_transposed_conv_matches_pytorch_semantics(name):
  """PyTorch's ConvTranspose2d(4, 2, 1): out[2i - 1 + k] += x[i] @ W[..., k],
  in both lowerings."""
  rng = np.random.default_rng(0)
  x = rng.standard_normal((1, 3, 3, 2)).astype(np.float32)
  layer = stargan.ConvTransposeLikeTorch(5)
  kernel = rng.standard_normal((4, 4, 5, 2)).astype(np.float32)
  with lowering.use_lowering(name):
    got = layer.apply({'params': {'kernel': kernel}}, x)[0]
  torch_weight = kernel.transpose(3, 2, 0, 1)  # (in, out, kh, kw)
  padded = np.zeros((3 * 2 + 2, 3 * 2 + 2, 5), np.float32)
  for i in range(3):
    for j in range(3):
      for ky in range(4):
        for kx in range(4):
          padded[2 * i + ky, 2 * j + kx] += (
              x[0, i, j] @ torch_weight[:, :, ky, kx])
  np.testing.assert_allclose(got, padded[1:-1, 1:-1], rtol=1e-5, atol=1e-5)


def test_generator_concatenates_labels_to_its_input():
  model = stargan.Generator(num_classes=5, conv_dim=4, num_residual_blocks=1)
  variables = nets_testing.abstract_variables(
      model, jnp.zeros((1, 16, 16, 3)), jnp.zeros((1, 5)))
  assert variables['params']['stem']['kernel'].shape == (7, 7, 3 + 5, 4)


def test_bfloat16_computation_keeps_float32_parameters():
  images = jax.ShapeDtypeStruct((2, 32, 32, 3), jnp.float32)
  labels = jax.ShapeDtypeStruct((2, 5), jnp.float32)
  for model, args in [
      (stargan.Generator(conv_dim=4, dtype=jnp.bfloat16), (images, labels)),
      (stargan.Discriminator(image_size=32, conv_dim=4, dtype=jnp.bfloat16),
       (images,))]:
    out, variables = jax.eval_shape(model.init_with_output, jax.random.key(0),
                                    *args)
    assert nets_testing.dtype_names(out) == {'bfloat16'}
    assert nets_testing.dtype_names(variables) == {'float32'}

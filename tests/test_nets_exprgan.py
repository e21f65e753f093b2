"""ExprGAN's networks: the paper's layout at 128 px, small sizes, ranges."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import nets_testing
from leedjax.nets import exprgan

K = 6  # Oulu-CASIA's expressions
CODE = K * exprgan.CODE_DIM_PER_CLASS


def _is_layer(module: nn.Module, method: str) -> bool:
  return isinstance(module, (nn.Conv, nn.Dense)) and method == '__call__'


def _abstract_run(model, *args, **kwargs):
  """Output shapes and {layer: output shape without batch}, no compute."""
  init = functools.partial(model.init_with_output,
                           capture_intermediates=_is_layer, **kwargs)
  out, variables = jax.eval_shape(init, jax.random.key(0), *args)
  shapes = {name: value['__call__'][0].shape[1:]
            for name, value in variables['intermediates'].items()
            if name != '__call__'}
  return jax.tree.map(lambda x: x.shape, out), shapes


def _spec(*shape):
  return jax.ShapeDtypeStruct(shape, jnp.float32)


def test_encoder_layout_at_128px():
  out, shapes = _abstract_run(exprgan.Encoder(), _spec(2, 128, 128, 3))
  assert out == (2, 50)
  assert shapes == {'down1': (64, 64, 64), 'down2': (32, 32, 128),
                    'down3': (16, 16, 256), 'down4': (8, 8, 512),
                    'down5': (4, 4, 1024), 'identity': (50,)}


def test_generator_layout_at_128px():
  out, shapes = _abstract_run(exprgan.Generator(image_size=128),
                              _spec(2, 50), _spec(2, CODE))
  assert out == (2, 128, 128, 3)
  # The paper's seven blocks: 512, 256, 128, 64, 32, 16, 3 channels.
  assert shapes == {'project': (4 * 4 * 1024,), 'up1': (8, 8, 512),
                    'up2': (16, 16, 256), 'up3': (32, 32, 128),
                    'up4': (64, 64, 64), 'up5': (128, 128, 32),
                    'refine': (128, 128, 16), 'to_image': (128, 128, 3)}


def test_generator_sees_the_code_at_every_layer():
  variables = nets_testing.abstract_variables(
      exprgan.Generator(image_size=128), _spec(1, 50), _spec(1, CODE))
  inputs = {name: layer['kernel'].shape[-2]
            for name, layer in variables['params'].items()}
  assert inputs == {'project': 50 + CODE, 'up1': 1024 + CODE,
                    'up2': 512 + CODE, 'up3': 256 + CODE, 'up4': 128 + CODE,
                    'up5': 64 + CODE, 'refine': 32 + CODE,
                    'to_image': 16 + CODE}


def test_discriminators_layout_at_128px():
  out, shapes = _abstract_run(exprgan.LatentDiscriminator(), _spec(2, 50),
                              train=True)
  assert out == (2,)
  assert shapes == {'fc1': (64,), 'fc2': (32,), 'fc3': (16,), 'logit': (1,)}
  out, shapes = _abstract_run(exprgan.ImageDiscriminator(num_classes=K),
                              _spec(2, 128, 128, 3), _spec(2, K), train=True)
  assert out == ((2,), (2, CODE))
  trunk = {'down1': (64, 64, 16), 'down2': (32, 32, 32),
           'down3': (16, 16, 64), 'down4': (8, 8, 128), 'shared': (1024,),
           'logit': (1,)}
  heads = {f'q{i}_hidden': (64,) for i in range(1, K + 1)}
  heads.update({f'q{i}_code': (5,) for i in range(1, K + 1)})
  assert shapes == {**trunk, **heads}


@pytest.mark.parametrize('image_size', [16, 64])
def test_other_image_sizes(image_size):
  images = _spec(2, image_size, image_size, 3)
  assert _abstract_run(exprgan.Encoder(width=0.25), images)[0] == (2, 50)
  generated, _ = _abstract_run(
      exprgan.Generator(image_size=image_size, width=0.25), _spec(2, 50),
      _spec(2, CODE))
  assert generated == images.shape
  scored, _ = _abstract_run(exprgan.ImageDiscriminator(K, width=0.25),
                            images, _spec(2, K), train=False)
  assert scored == ((2,), (2, CODE))


def test_rejects_unsupported_image_sizes():
  with pytest.raises(ValueError, match='48'):
    nets_testing.abstract_variables(exprgan.Encoder(width=1 / 16),
                                    jnp.zeros((1, 48, 48, 3)))
  with pytest.raises(ValueError, match='12'):
    nets_testing.abstract_variables(exprgan.Generator(image_size=12),
                                    jnp.zeros((1, 50)), jnp.zeros((1, CODE)))


def test_expression_controller_eq3():
  labels = np.array([[0, 1, 0], [1, 0, 0]], np.float32)
  intensity = np.array([[0.5, -0.25], [-1.0, 0.0]], np.float32)
  code = exprgan.expression_controller(labels, intensity)
  np.testing.assert_allclose(code, [[-0.5, -0.25, 0.5, 0.25, -0.5, -0.25],
                                    [1.0, 0.0, -1.0, -0.0, -1.0, -0.0]])


def _small_batch(image_size=32):
  rng = np.random.default_rng(0)
  images = rng.uniform(-1, 1, (4, image_size, image_size, 3)).astype(np.float32)
  labels = np.eye(K, dtype=np.float32)[[0, 2, 5, 1]]
  return images, labels


def test_small_networks_run_and_outputs_stay_in_range():
  images, labels = _small_batch()
  encoder = exprgan.Encoder(width=1 / 8)
  identity = jax.jit(encoder.apply)(
      nets_testing.numpy_variables(encoder, images), images)
  assert identity.shape == (4, 50)
  assert np.all(np.abs(identity) <= 1)
  code = exprgan.expression_controller(
      labels, np.random.default_rng(1).uniform(-1, 1, (4, 5)))
  generator = exprgan.Generator(image_size=32, width=1 / 8)
  faces = jax.jit(generator.apply)(
      nets_testing.numpy_variables(generator, identity, code), identity, code)
  assert faces.shape == images.shape
  assert nets_testing.all_finite(faces) and np.all(np.abs(faces) <= 1)


def test_q_heads_predict_codes_in_the_open_unit_interval():
  images, labels = _small_batch()
  model = exprgan.ImageDiscriminator(num_classes=K, width=1 / 8)
  variables = nets_testing.numpy_variables(model, images, labels, train=False)
  apply = jax.jit(functools.partial(model.apply, train=False))
  logits, code = apply(variables, images, labels)
  assert logits.shape == (4,) and code.shape == (4, CODE)
  assert nets_testing.all_finite((logits, code))
  assert np.all(np.abs(code) < 1)
  # tanh bounds the heads whatever the input's scale.
  _, code = apply(variables, 1e3 * images, labels)
  assert np.all(np.abs(code) <= 1)


@pytest.mark.parametrize('which', ['latent', 'image'])
def test_batch_norm_updates_statistics_only_in_train_mode(which):
  images, labels = _small_batch()
  if which == 'latent':
    model = exprgan.LatentDiscriminator(width=0.5)
    args = (np.random.default_rng(0).uniform(-1, 1, (4, 50)),)
  else:
    model = exprgan.ImageDiscriminator(num_classes=K, width=1 / 8)
    args = (images, labels)
  variables = nets_testing.numpy_variables(model, *args, train=False)
  apply = jax.jit(functools.partial(model.apply, mutable=['batch_stats']),
                  static_argnames='train')
  _, updated = apply(variables, *args, train=True)
  _, kept = apply(variables, *args, train=False)
  assert nets_testing.batch_stats_changed(variables['batch_stats'],
                                          updated['batch_stats'])
  assert not nets_testing.batch_stats_changed(variables['batch_stats'],
                                              kept['batch_stats'])


def test_bfloat16_computation_keeps_float32_parameters():
  images, identity, code = _spec(2, 32, 32, 3), _spec(2, 50), _spec(2, CODE)
  common = {'width': 1 / 8, 'dtype': jnp.bfloat16}
  cases = [(exprgan.Encoder(**common), (images,), {}),
           (exprgan.Generator(image_size=32, **common), (identity, code), {}),
           (exprgan.LatentDiscriminator(**common), (identity,),
            {'train': True}),
           (exprgan.ImageDiscriminator(K, **common), (images, _spec(2, K)),
            {'train': True})]
  for model, args, kwargs in cases:
    init = functools.partial(model.init_with_output, **kwargs)
    out, variables = jax.eval_shape(init, jax.random.key(0), *args)
    assert nets_testing.dtype_names(out) == {'bfloat16'}
    assert nets_testing.dtype_names(variables) == {'float32'}

"""LEED's networks against supplementary Tables 4-9, and at small sizes."""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import nets_testing
from leedjax.nets import layers
from leedjax.nets import leed

B = 2
IMAGES_128 = jax.ShapeDtypeStruct((B, 128, 128, 3), jnp.float32)
CODES_8 = jax.ShapeDtypeStruct((B, 8, 8, 512), jnp.float32)


def _is_layer(module: nn.Module, method: str) -> bool:
  return isinstance(module, (nn.Conv, nn.Dense)) and method == '__call__'


def _abstract_init(model, *args, **kwargs):
  """Output shapes, {layer name: output shape} and variables, by eval_shape."""
  init = functools.partial(model.init_with_output,
                           capture_intermediates=_is_layer, **kwargs)
  out, variables = jax.eval_shape(init, jax.random.key(0), *args)
  shapes = {name: value['__call__'][0].shape[1:]
            for name, value in variables['intermediates'].items()
            if name != '__call__'}
  return jax.tree.map(lambda x: x.shape, out), shapes, variables


def test_encoder_matches_table6():
  out, shapes, variables = _abstract_init(leed.Encoder(), IMAGES_128)
  assert out == (B, 8, 8, 512)
  assert shapes == {
      'conv1_1': (128, 128, 64), 'conv1_2': (128, 128, 64),
      'conv2_1': (64, 64, 128), 'conv2_2': (64, 64, 128),
      'conv3_1': (32, 32, 256), 'conv3_2': (32, 32, 256),
      'conv3_3': (32, 32, 256), 'conv3_4': (32, 32, 256),
      'conv4_1': (16, 16, 512), 'conv4_2': (16, 16, 512),
      'conv4_3': (16, 16, 512), 'conv4_4': (16, 16, 512),
      'conv5_1': (8, 8, 512)}
  # VGG19's convs up to conv5_1.
  assert layers.count_params(variables) == 12_944_960


def test_decoder_matches_table7():
  out, shapes, variables = _abstract_init(leed.Decoder(), CODES_8, train=False)
  assert out == (B, 128, 128, 3)
  expected = [(8, 512)] + [(16, 256)] * 4 + [(32, 128)] * 4 + [(64, 64)] * 2
  expected += [(128, 64), (128, 3)]
  names = ['stage1_conv1'] + [f'stage2_conv{i}' for i in range(1, 5)]
  names += [f'stage3_conv{i}' for i in range(1, 5)]
  names += ['stage4_conv1', 'stage4_conv2', 'stage5_conv1', 'to_image']
  assert shapes == {name: (size, size, channels)
                    for name, (size, channels) in zip(names, expected)}
  assert 'batch_stats' in variables


@pytest.mark.parametrize('module', [leed.Extractor, leed.Interpolator])
def test_extractor_and_interpolator_match_table4(module):
  out, shapes, variables = _abstract_init(module(), CODES_8, CODES_8)
  assert out == (B, 8, 8, 512)
  assert shapes == {f'conv{i}': (8, 8, 512) for i in (1, 2, 3)}
  weights = 9 * 1024 * 512 + 9 * 512 * 512 * 2
  assert layers.count_params(variables) == weights + 3 * 512


def test_critic_matches_table5_and_scores_each_example():
  out, shapes, _ = _abstract_init(leed.LatentCritic(), CODES_8)
  assert out == (B,)
  assert shapes == {'conv1': (8, 8, 256), 'down1': (4, 4, 512),
                    'down2': (2, 2, 1024), 'conv_last': (1, 1, 1024),
                    'score': (1,)}


@pytest.mark.parametrize('feature_dim', [512, 37])
def test_regularizer_matches_table8_with_gaussian_head(feature_dim):
  out, shapes, _ = _abstract_init(leed.Regularizer(feature_dim=feature_dim),
                                  CODES_8, train=True)
  assert out == ((B, feature_dim), (B, feature_dim))
  assert shapes == {'conv': (1, 1, 512), 'fc': (128,),
                    'gaussian': (2 * feature_dim,)}


def test_siamese_matches_table9():
  out, shapes, _ = _abstract_init(leed.SiameseNet(), IMAGES_128)
  assert out == (B, 1024)
  assert shapes == {'down1': (64, 64, 64), 'down2': (32, 32, 128),
                    'down3': (16, 16, 256), 'down4': (8, 8, 512),
                    'down5': (4, 4, 1024), 'down6': (2, 2, 2048),
                    'embedding': (1024,)}


@pytest.mark.parametrize('size,width,stride', [
    (16, 1 / 16, 16), (32, 1 / 16, 16), (64, 1 / 8, 16), (256, 1 / 16, 16),
    (32, 1 / 16, 4), (64, 1 / 16, 8), (16, 1 / 16, 2)])
def test_every_module_adapts_to_size_and_width(size, width, stride):
  images = jax.ShapeDtypeStruct((B, size, size, 3), jnp.float32)
  code_side, channels = size // stride, leed.code_channels(width)
  assert leed.code_size(size, stride) == code_side
  codes = jax.ShapeDtypeStruct((B, code_side, code_side, channels),
                               jnp.float32)
  encoder = leed.Encoder(width=width, code_stride=stride)
  decoder = leed.Decoder(width=width, code_stride=stride)
  assert _abstract_init(encoder, images)[0] == codes.shape
  assert _abstract_init(decoder, codes, train=True)[0] == images.shape
  for module in (leed.Extractor, leed.Interpolator):
    assert _abstract_init(module(width=width), codes, codes)[0] == codes.shape
  assert _abstract_init(leed.LatentCritic(width=width), codes)[0] == (B,)
  q = leed.Regularizer(feature_dim=24, width=width)
  assert _abstract_init(q, codes, train=True)[0] == ((B, 24), (B, 24))
  siamese_out, siamese_layers, _ = _abstract_init(
      leed.SiameseNet(width=width), images)
  assert siamese_out == (B, layers.scaled_channels(1024, width))
  last_stage = siamese_layers[f'down{int(np.log2(size)) - 1}']
  assert last_stage[:2] == (2, 2)


def test_code_stride_keeps_the_tables_layers():
  # A smaller stride drops pools and upsamplings, never a layer: the same
  # parameters serve every stride.
  images = jax.ShapeDtypeStruct((B, 32, 32, 3), jnp.float32)
  shapes = {stride: jax.tree.map(np.shape, _abstract_init(
      leed.Encoder(width=1 / 16, code_stride=stride), images)[2]['params'])
            for stride in (16, 4)}
  assert shapes[16] == shapes[4]
  with pytest.raises(ValueError, match='code_stride must be one of'):
    leed.code_size(32, 3)


@pytest.mark.parametrize('size', [48, 8, 512])
def test_rejects_unsupported_image_sizes(size):
  images = jnp.zeros((1, size, size, 3))
  for model in (leed.Encoder(width=1 / 64), leed.SiameseNet(width=1 / 64)):
    with pytest.raises(ValueError, match=str(size)):
      jax.eval_shape(model.init, jax.random.key(0), images)


def test_rejects_non_square_images_and_mismatched_codes():
  with pytest.raises(ValueError, match='square'):
    jax.eval_shape(leed.Encoder(width=1 / 64).init, jax.random.key(0),
                   jnp.zeros((1, 32, 64, 3)))
  with pytest.raises(ValueError, match='one shape'):
    jax.eval_shape(leed.Extractor(width=1 / 64).init, jax.random.key(0),
                   jnp.zeros((1, 2, 2, 8)), jnp.zeros((1, 2, 2, 4)))


def test_gradients_reach_every_parameter_of_e_x_i_dec():
  """One tiny LEED forward (Eqs. 2, 6, 7 and the decoder): no dead params."""
  width = 1 / 8
  modules = {'encoder': leed.Encoder(width=width),
             'extractor': leed.Extractor(width=width),
             'interpolator': leed.Interpolator(width=width),
             'decoder': leed.Decoder(width=width)}
  rng = np.random.default_rng(0)
  # Input I_A, reference R_B and their neutral faces I_N, R_N, in one batch.
  faces = rng.uniform(-1, 1, (4 * 2, 16, 16, 3)).astype(np.float32)
  codes = np.zeros((2, 1, 1, leed.code_channels(width)), np.float32)
  variables = {
      'encoder': nets_testing.numpy_variables(modules['encoder'], faces),
      'extractor': nets_testing.numpy_variables(modules['extractor'], codes,
                                                codes),
      'interpolator': nets_testing.numpy_variables(modules['interpolator'],
                                                   codes, codes),
      'decoder': nets_testing.numpy_variables(modules['decoder'], codes,
                                              train=False)}
  params = {name: v['params'] for name, v in variables.items()}
  projection = rng.standard_normal((2, 16, 16, 3)).astype(np.float32)

  def loss(params):
    def apply(name, *args, **kwargs):
      return modules[name].apply({**variables[name], 'params': params[name]},
                                 *args, **kwargs)
    input_a, reference_b, input_n, reference_n = jnp.split(
        apply('encoder', faces), 4)
    reference_delta = apply('extractor', reference_b, reference_n)
    input_delta = apply('extractor', input_a, input_n)
    edited = apply('interpolator', input_n, 0.5 * reference_delta)
    recovered = apply('interpolator', input_n, input_delta)
    decoded, _ = apply('decoder', edited, train=True, mutable=['batch_stats'])
    return jnp.sum(decoded * projection) + jnp.sum(recovered**2)

  grads = jax.jit(jax.grad(loss))(params)
  norms = jax.tree.leaves_with_path(
      jax.tree.map(lambda g: float(jnp.linalg.norm(g)), grads))
  dead = [jax.tree_util.keystr(path) for path, norm in norms
          if not norm > 0 or not np.isfinite(norm)]
  assert not dead


def _forward(model, *args, **kwargs):
  variables = nets_testing.numpy_variables(model, *args, **kwargs)
  return jax.jit(functools.partial(model.apply, **kwargs))(variables, *args)


@pytest.mark.parametrize('make,inputs', [
    (lambda w: leed.Encoder(width=w), 'images'),
    (lambda w: leed.Decoder(width=w), 'codes'),
    (lambda w: leed.Extractor(width=w), 'code_pair'),
    (lambda w: leed.Interpolator(width=w), 'code_pair'),
    (lambda w: leed.LatentCritic(width=w), 'codes'),
    (lambda w: leed.LatentCritic(width=w), 'codes_2x2'),
    (lambda w: leed.Regularizer(feature_dim=8, width=w), 'codes_2x2'),
    (lambda w: leed.SiameseNet(width=w), 'images'),
])
def test_forward_passes_are_finite(make, inputs):
  width = 1 / 16
  rng = np.random.default_rng(0)
  channels = leed.code_channels(width)
  normal = lambda *shape: rng.standard_normal(shape).astype(np.float32)
  codes = normal(2, 1, 1, channels)
  args = {'images': (np.tanh(normal(2, 16, 16, 3)),),
          'codes': (codes,), 'code_pair': (codes, codes),
          'codes_2x2': (normal(2, 2, 2, channels),)}[inputs]
  model = make(width)
  kwargs = {'train': False} if isinstance(
      model, (leed.Decoder, leed.Regularizer)) else {}
  assert nets_testing.all_finite(_forward(model, *args, **kwargs))


@pytest.mark.parametrize('module,codes', [
    (leed.Decoder(width=1 / 16), np.ones((2, 1, 1, 32), np.float32)),
    (leed.Regularizer(feature_dim=8, width=1 / 16),
     np.arange(2 * 2 * 2 * 32, dtype=np.float32).reshape(2, 2, 2, 32) / 100),
])
def test_batch_norm_updates_statistics_only_in_train_mode(module, codes):
  variables = nets_testing.numpy_variables(module, codes, train=False)
  apply = jax.jit(functools.partial(module.apply, mutable=['batch_stats']),
                  static_argnames='train')
  _, updated = apply(variables, codes, train=True)
  _, kept = apply(variables, codes, train=False)
  assert nets_testing.batch_stats_changed(variables['batch_stats'],
                                          updated['batch_stats'])
  assert not nets_testing.batch_stats_changed(variables['batch_stats'],
                                              kept['batch_stats'])


def test_bfloat16_computation_keeps_float32_parameters():
  images = jax.ShapeDtypeStruct((2, 32, 32, 3), jnp.float32)
  codes = jax.ShapeDtypeStruct((2, 2, 2, 32), jnp.float32)
  common = {'width': 1 / 16, 'dtype': jnp.bfloat16}
  cases = [(leed.Encoder(**common), (images,), {}),
           (leed.Decoder(**common), (codes,), {'train': True}),
           (leed.Extractor(**common), (codes, codes), {}),
           (leed.Interpolator(**common), (codes, codes), {}),
           (leed.LatentCritic(**common), (codes,), {}),
           (leed.Regularizer(feature_dim=8, **common), (codes,),
            {'train': True}),
           (leed.SiameseNet(**common), (images,), {})]
  for model, args, kwargs in cases:
    init = functools.partial(model.init_with_output, **kwargs)
    out, variables = jax.eval_shape(init, jax.random.key(0), *args)
    name = type(model).__name__
    assert nets_testing.dtype_names(out) == {'bfloat16'}, name
    assert nets_testing.dtype_names(variables) == {'float32'}, name


def test_small_image_layouts_set_depth_and_keep_the_code_shape():
  blocks = ((64,), (128, 128), (256, 256), (512,))
  stages = ((256, 256), (128, 128), (64, 64))
  images = jax.ShapeDtypeStruct((B, 32, 32, 3), jnp.float32)
  encoder = leed.Encoder(width=0.25, code_stride=4, blocks=blocks)
  code, shapes, _ = _abstract_init(encoder, images)
  assert code == (B, 8, 8, 128)
  assert shapes == {'conv1_1': (32, 32, 16), 'conv2_1': (16, 16, 32),
                    'conv2_2': (16, 16, 32), 'conv3_1': (8, 8, 64),
                    'conv3_2': (8, 8, 64), 'conv4_1': (8, 8, 128)}
  decoder = leed.Decoder(width=0.25, code_stride=4, stages=stages)
  out, shapes, _ = _abstract_init(
      decoder, jax.ShapeDtypeStruct(code, jnp.float32), train=False)
  assert out == (B, 32, 32, 3)
  assert shapes['stage1_conv2'] == (8, 8, 64)
  assert shapes['stage2_conv1'] == (16, 16, 32)
  assert shapes['stage3_conv2'] == (32, 32, 16)


def test_the_code_conv_is_linear_in_any_layout():
  encoder = leed.Encoder(width=0.125, code_stride=4,
                         blocks=((64,), (128,), (512,)))
  images = jnp.asarray(np.random.default_rng(0).normal(size=(2, 16, 16, 3)),
                       jnp.float32)
  variables = encoder.init(jax.random.key(0), images)
  code = encoder.apply(variables, images)
  assert float(jnp.min(code)) < 0  # no ReLU after the last conv


@pytest.mark.parametrize('module,argument', [
    (leed.Encoder, 'blocks'), (leed.Decoder, 'stages')])
def test_layouts_too_short_for_the_stride_are_refused(module, argument):
  model = module(code_stride=4, **{argument: ((64,), (64,))})
  inputs = ((jnp.zeros((1, 16, 16, 3)),) if module is leed.Encoder
            else (jnp.zeros((1, 4, 4, 8)),))
  kwargs = {} if module is leed.Encoder else {'train': False}
  with pytest.raises(ValueError, match='at least 3'):
    nets_testing.abstract_variables(model, *inputs, **kwargs)

"""The expression classifier Psi (ResNet-18 style)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import nets_testing
from leedjax.nets import classifier
from leedjax.nets import layers


@pytest.mark.parametrize('image_size', [32, 128])
def test_logits_and_512_wide_features_at_width_1(image_size):
  model = classifier.ExpressionClassifier(num_classes=7)
  images = jax.ShapeDtypeStruct((2, image_size, image_size, 3), jnp.float32)
  (logits, features), variables = jax.eval_shape(
      functools.partial(model.init_with_output, train=False),
      jax.random.key(0), images)
  assert logits.shape == (2, 7)
  assert features.shape == (2, 512) == (2, classifier.feature_dim(1.0))
  # ResNet-18 without its 1000-way head, plus a 7-way one.
  assert layers.count_params(variables) == 11_176_512 + 512 * 7 + 7
  assert 'batch_stats' in variables


def test_feature_width_follows_the_width_multiplier():
  model = classifier.ExpressionClassifier(num_classes=3, width=0.25)
  images = jax.ShapeDtypeStruct((1, 64, 64, 3), jnp.float32)
  (_, features), _ = jax.eval_shape(
      functools.partial(model.init_with_output, train=True),
      jax.random.key(0), images)
  assert features.shape == (1, 128) == (1, classifier.feature_dim(0.25))


def test_rejects_images_smaller_than_32px():
  model = classifier.ExpressionClassifier(num_classes=3, width=1 / 16)
  with pytest.raises(ValueError, match='16'):
    nets_testing.abstract_variables(model, jnp.zeros((1, 16, 16, 3)),
                                    train=False)


def test_train_mode_updates_batch_stats_and_eval_mode_does_not():
  model = classifier.ExpressionClassifier(num_classes=3, width=1 / 8)
  images = np.random.default_rng(0).uniform(
      -1, 1, (4, 32, 32, 3)).astype(np.float32)
  variables = nets_testing.numpy_variables(model, images, train=False)
  apply = jax.jit(functools.partial(model.apply, mutable=['batch_stats']),
                  static_argnames='train')
  (logits, features), updated = apply(variables, images, train=True)
  assert logits.shape == (4, 3)
  assert features.shape == (4, classifier.feature_dim(1 / 8))
  assert nets_testing.batch_stats_changed(variables['batch_stats'],
                                          updated['batch_stats'])
  outputs, kept = apply(variables, images, train=False)
  assert not nets_testing.batch_stats_changed(variables['batch_stats'],
                                              kept['batch_stats'])
  assert nets_testing.all_finite(outputs)
  # Features are pooled ReLU outputs.
  assert np.all(np.asarray(outputs[1]) >= 0)


def test_bfloat16_computation_keeps_float32_parameters():
  model = classifier.ExpressionClassifier(num_classes=3, width=1 / 8,
                                          dtype=jnp.bfloat16)
  images = jax.ShapeDtypeStruct((1, 32, 32, 3), jnp.float32)
  out, variables = jax.eval_shape(
      functools.partial(model.init_with_output, train=True),
      jax.random.key(0), images)
  assert nets_testing.dtype_names(out) == {'bfloat16'}
  assert nets_testing.dtype_names(variables) == {'float32'}


def _stage_sizes(model, image_size):
  def is_block(module, method):
    return isinstance(module, classifier.BasicBlock) and method == '__call__'
  images = jax.ShapeDtypeStruct((1, image_size, image_size, 3), jnp.float32)
  _, variables = jax.eval_shape(
      functools.partial(model.init_with_output, train=False,
                        capture_intermediates=is_block),
      jax.random.key(0), images)
  return {name: value['__call__'][0].shape[1]
          for name, value in variables['intermediates'].items()
          if name.endswith('block2')}


@pytest.mark.parametrize('stem_stride,first_stage', [(4, 8), (2, 16),
                                                      (1, 32)])
def test_stem_stride_sets_the_first_stages_resolution(stem_stride,
                                                      first_stage):
  model = classifier.ExpressionClassifier(num_classes=3, width=1 / 8,
                                          stem_stride=stem_stride)
  assert _stage_sizes(model, 32) == {
      'stage1_block2': first_stage, 'stage2_block2': first_stage // 2,
      'stage3_block2': first_stage // 4, 'stage4_block2': first_stage // 8}


def test_unknown_stem_stride_is_refused():
  model = classifier.ExpressionClassifier(num_classes=3, width=1 / 8,
                                          stem_stride=3)
  with pytest.raises(ValueError, match='stem_stride'):
    nets_testing.abstract_variables(model, jnp.zeros((1, 32, 32, 3)),
                                    train=False)

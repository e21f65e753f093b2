"""StarGAN (Choi et al., CVPR 2018), the neutralizer LEED builds on.

The layout is the original release's (yunjey/stargan), so its parameter
counts are reproduced exactly: at 128 px with 5 classes G has 8,430,528
parameters and D 44,762,048. The choices that pin those numbers: G's convs
have no bias (each feeds an affine InstanceNorm, or tanh at the end); D's
trunk convs have biases, its two heads do not.

The release's InstanceNorm tracks running statistics that training never
uses; here InstanceNorm always normalises with the instance's own
statistics, so neither network has `batch_stats` or a `train` flag.
"""

import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from leedjax.nets import layers
from leedjax.nets import lowering

LEAKY_SLOPE = 0.01
DEFAULT_DISCRIMINATOR_STAGES = 6


class ConvTransposeLikeTorch(nn.Module):
  """PyTorch's ConvTranspose2d(kernel 4, stride 2, padding 1), no bias.

  The output is exactly twice the input. The kernel is stored as flax's
  `ConvTranspose(transpose_kernel=True)` stores it, (4, 4, features, in),
  so a PyTorch weight (in, out, kh, kw) maps to it by a transpose. It is
  computed by `lowering.conv_transpose_4x4_stride_2` (on a CPU, a sub-pixel
  convolution whose gradients avoid XLA's slow dilated convolutions).

  Attributes:
    features: output channels.
    dtype: computation dtype.
    param_dtype: parameter dtype.
  """
  features: int
  dtype: layers.Dtype = jnp.float32
  param_dtype: layers.Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    kernel = self.param('kernel', nn.initializers.lecun_normal(),
                        (4, 4, self.features, x.shape[-1]), self.param_dtype)
    return lowering.conv_transpose_4x4_stride_2(x.astype(self.dtype),
                                                kernel.astype(self.dtype))


class ResidualBlock(nn.Module):
  """x + (conv3x3 -> IN -> ReLU -> conv3x3 -> IN)(x), channels unchanged."""
  dtype: layers.Dtype = jnp.float32
  param_dtype: layers.Dtype = jnp.float32

  @nn.compact
  def __call__(self, x: jax.Array) -> jax.Array:
    channels = x.shape[-1]
    y = x
    for index in (1, 2):
      y = layers.Conv(channels, (3, 3), padding=1, use_bias=False,
                  dtype=self.dtype, param_dtype=self.param_dtype,
                  name=f'conv{index}')(y)
      y = layers.instance_norm(dtype=self.dtype, param_dtype=self.param_dtype,
                               name=f'conv{index}_in')(y)
      if index == 1:
        y = nn.relu(y)
    return x + y


class Generator(nn.Module):
  """StarGAN's G: translates a face to the expression of a target label.

  7x7 conv, two 4x4 stride-2 convs down, residual blocks, two 4x4 stride-2
  transposed convs up, 7x7 conv to RGB and tanh; every inner conv is
  followed by an affine InstanceNorm and ReLU. The target label is
  broadcast over the image and concatenated to its channels.

  Attributes:
    num_classes: length of the one-hot target label.
    conv_dim: channels of the first conv (64 in the release).
    num_residual_blocks: residual blocks at 1/4 resolution (6 in the
      release).
    dtype: computation dtype.
    param_dtype: parameter dtype.
  """
  num_classes: int = 5
  conv_dim: int = 64
  num_residual_blocks: int = 6
  dtype: layers.Dtype = jnp.float32
  param_dtype: layers.Dtype = jnp.float32

  def _norm_relu(self, x: jax.Array, name: str) -> jax.Array:
    x = layers.instance_norm(dtype=self.dtype, param_dtype=self.param_dtype,
                             name=name)(x)
    return nn.relu(x)

  @nn.compact
  def __call__(self, images: jax.Array, target_labels: jax.Array) -> jax.Array:
    """Translates images.

    Args:
      images: (B, H, W, 3) in [-1, 1], H and W multiples of 4.
      target_labels: (B, num_classes), one-hot (or soft) target labels.

    Returns:
      Translated images, (B, H, W, 3) in [-1, 1].
    """
    if images.ndim != 4 or images.shape[1] % 4 or images.shape[2] % 4:
      raise ValueError('StarGAN Generator needs NHWC images with sides that '
                       f'are multiples of 4, got shape {tuple(images.shape)}')
    if target_labels.shape != (images.shape[0], self.num_classes):
      raise ValueError(f'target_labels must be (B, {self.num_classes}), got '
                       f'{tuple(target_labels.shape)}')
    common = dict(use_bias=False, dtype=self.dtype,
                  param_dtype=self.param_dtype)
    x = layers.concat_labels(images.astype(self.dtype), target_labels)
    x = layers.Conv(self.conv_dim, (7, 7), padding=3, name='stem', **common)(x)
    x = self._norm_relu(x, 'stem_in')
    channels = self.conv_dim
    for index in (1, 2):
      channels *= 2
      x = layers.Conv(channels, (4, 4), strides=2, padding=1,
                  name=f'down{index}', **common)(x)
      x = self._norm_relu(x, f'down{index}_in')
    for index in range(self.num_residual_blocks):
      x = ResidualBlock(dtype=self.dtype, param_dtype=self.param_dtype,
                        name=f'residual{index + 1}')(x)
    for index in (1, 2):
      channels //= 2
      x = ConvTransposeLikeTorch(channels, dtype=self.dtype,
                                 param_dtype=self.param_dtype,
                                 name=f'up{index}')(x)
      x = self._norm_relu(x, f'up{index}_in')
    x = layers.Conv(3, (7, 7), padding=3, name='to_image', **common)(x)
    return jnp.tanh(x)


class Discriminator(nn.Module):
  """StarGAN's D (PatchGAN critic with an auxiliary classifier).

  `repeat_num` 4x4 stride-2 convs with LeakyReLU(0.01), from `conv_dim`
  channels doubling; then a 3x3 conv to one channel (real/fake per patch)
  and a conv whose kernel covers the whole last map to the class logits.

  Attributes:
    image_size: side of the square input images (a power of two).
    num_classes: number of expression classes.
    conv_dim: channels of the first conv (64 in the release).
    repeat_num: stride-2 convs; None means 6 (the release), or fewer for
      images smaller than 64 px so that the last map is at least 1x1
      (5 at 32 px, 4 at 16 px).
    dtype: computation dtype.
    param_dtype: parameter dtype.
  """
  image_size: int = 128
  num_classes: int = 5
  conv_dim: int = 64
  repeat_num: int | None = None
  dtype: layers.Dtype = jnp.float32
  param_dtype: layers.Dtype = jnp.float32

  def num_stages(self) -> int:
    """The number of stride-2 convs, checked against `image_size`."""
    layers.check_power_of_two(self.image_size, what='StarGAN image size',
                              minimum=2, maximum=2**16)
    max_stages = int(math.log2(self.image_size))
    if self.repeat_num is None:
      return min(DEFAULT_DISCRIMINATOR_STAGES, max_stages)
    if not 1 <= self.repeat_num <= max_stages:
      raise ValueError(f'repeat_num={self.repeat_num} does not fit image size '
                       f'{self.image_size}: it must be 1..{max_stages}')
    return self.repeat_num

  @nn.compact
  def __call__(self, images: jax.Array) -> tuple[jax.Array, jax.Array]:
    """Scores images and classifies their expression.

    Args:
      images: (B, image_size, image_size, 3) in [-1, 1].

    Returns:
      (patch_scores (B, s, s, 1) with s = image_size / 2**repeat_num,
       class_logits (B, num_classes)).
    """
    stages = self.num_stages()
    expected = (self.image_size, self.image_size, 3)
    if images.ndim != 4 or tuple(images.shape[1:]) != expected:
      raise ValueError(f'StarGAN Discriminator built for {expected} images, '
                       f'got shape {tuple(images.shape)}')
    common = dict(dtype=self.dtype, param_dtype=self.param_dtype)
    x = images.astype(self.dtype)
    for index in range(stages):
      x = layers.Conv(self.conv_dim * 2**index, (4, 4), strides=2, padding=1,
                  name=f'down{index + 1}', **common)(x)
      x = nn.leaky_relu(x, negative_slope=LEAKY_SLOPE)
    patch_scores = layers.Conv(1, (3, 3), padding=1, use_bias=False,
                           name='patch_score', **common)(x)
    kernel = self.image_size // 2**stages
    class_logits = layers.Conv(self.num_classes, (kernel, kernel), padding=0,
                           use_bias=False, name='classify', **common)(x)
    return patch_scores, class_logits.reshape(x.shape[0], self.num_classes)

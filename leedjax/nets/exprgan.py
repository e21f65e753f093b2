"""ExprGAN (Ding, Sricharan and Chellappa, AAAI 2018): its networks.

From the paper's "Implementation Details":
  * Encoder G_enc: 5x5 stride-2 convs (64, 128, 256, 512, 1024 at 128 px)
    with ReLU, an FC to the 50-d identity g(x), tanh.
  * Generator G_dec: FC from [g(x), c] to 4x4x1024, then upsampling blocks
    (nearest 2x + 3x3 conv + ReLU) with 512, 256, 128, 64, 32 channels to
    full size, a 3x3 conv with 16 channels at full size, and a 3x3 conv to
    RGB with tanh (the paper's seven blocks 512..3). The expression code c is
    concatenated, spatially broadcast, to the input of every layer.
  * D_z: FC 64, 32, 16 with BatchNorm and LeakyReLU, FC to one logit.
  * D_img and Q share a trunk: four 5x5 stride-2 convs (16, 32, 64, 128)
    and an FC to 1024, with BatchNorm and LeakyReLU; the one-hot label is
    concatenated to the input of every layer. D_img's head is an FC to one
    logit; Q has one head per class (FC 64 with BatchNorm and LeakyReLU, FC
    to d, tanh) predicting that class's slot c_i of the code.
Other image sizes (powers of two, 16..256) keep the 4x4 bottleneck: the
encoder and generator have log2(S) - 2 resolution changes, channels halving
from 1024 (encoder: doubling from 64).
"""

import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from leedjax.nets import layers

IDENTITY_DIM = 50
CODE_DIM_PER_CLASS = 5
LEAKY_SLOPE = 0.2
MIN_IMAGE_SIZE = 16
MAX_IMAGE_SIZE = 256
# Side of the encoder's last map and the generator's first.
BOTTLENECK_SIZE = 4
_GENERATOR_CHANNELS = 1024
_DISCRIMINATOR_CHANNELS = (16, 32, 64, 128)
_DISCRIMINATOR_FEATURES = 1024
_LATENT_DISCRIMINATOR_FEATURES = (64, 32, 16)
_Q_HIDDEN = 64


def _num_resolution_changes(image_size: int) -> int:
  layers.check_power_of_two(image_size, what='ExprGAN image size',
                            minimum=MIN_IMAGE_SIZE, maximum=MAX_IMAGE_SIZE)
  return int(math.log2(image_size // BOTTLENECK_SIZE))


def _leaky_relu(x: jax.Array) -> jax.Array:
  return nn.leaky_relu(x, negative_slope=LEAKY_SLOPE)


def expression_controller(labels: jax.Array, intensity: jax.Array) -> jax.Array:
  """The expression controller F_ctrl (Eq. 3): c_i = |z_y| * (2 y_i - 1).

  Args:
    labels: (B, K) one-hot expression labels.
    intensity: (B, d) z_y, drawn from U(-1, 1) in training.

  Returns:
    Codes (B, K*d), class-major: slot i (entries i*d .. i*d + d - 1) is
    |z_y| for the labelled class and -|z_y| for every other class.
  """
  signs = 2.0 * labels - 1.0
  code = signs[:, :, None] * jnp.abs(intensity)[:, None, :]
  return code.reshape(labels.shape[0], -1)


class Encoder(nn.Module):
  """G_enc: a face to its identity representation g(x) in (-1, 1)^50.

  Attributes:
    identity_dim: size of g(x) (50 in the paper).
    width: channel multiplier.
    dtype: computation dtype.
    param_dtype: parameter dtype.
  """
  identity_dim: int = IDENTITY_DIM
  width: float = 1.0
  dtype: layers.Dtype = jnp.float32
  param_dtype: layers.Dtype = jnp.float32

  @nn.compact
  def __call__(self, images: jax.Array) -> jax.Array:
    """Encodes faces.

    Args:
      images: (B, S, S, 3) in [-1, 1], S a power of two in [16, 256].

    Returns:
      g(x), (B, identity_dim).
    """
    size = layers.square_size(images, what='ExprGAN Encoder input')
    x = images.astype(self.dtype)
    for index in range(_num_resolution_changes(size)):
      x = layers.Conv(layers.scaled_channels(64 * 2**index, self.width), (5, 5),
                  strides=2, padding='SAME', dtype=self.dtype,
                  param_dtype=self.param_dtype, name=f'down{index + 1}')(x)
      x = nn.relu(x)
    x = x.reshape(x.shape[0], -1)
    x = nn.Dense(self.identity_dim, dtype=self.dtype,
                 param_dtype=self.param_dtype, name='identity')(x)
    return jnp.tanh(x)


class Generator(nn.Module):
  """G_dec: identity and expression code to a face.

  Attributes:
    image_size: side of the generated images (a power of two, 16..256).
    width: channel multiplier.
    dtype: computation dtype.
    param_dtype: parameter dtype.
  """
  image_size: int = 128
  width: float = 1.0
  dtype: layers.Dtype = jnp.float32
  param_dtype: layers.Dtype = jnp.float32

  @nn.compact
  def __call__(self, identity: jax.Array,
               expression_code: jax.Array) -> jax.Array:
    """Generates faces.

    Args:
      identity: (B, identity_dim), g(x) or a prior draw.
      expression_code: (B, K*d), the controller's code.

    Returns:
      Faces, (B, image_size, image_size, 3) in (-1, 1).
    """
    num_up = _num_resolution_changes(self.image_size)
    conv = functools.partial(layers.Conv, kernel_size=(3, 3), padding=1,
                             dtype=self.dtype, param_dtype=self.param_dtype)
    # 1024 at 4x4, halving at every layer after it (1024, 512, ..., 16).
    channels = [layers.scaled_channels(_GENERATOR_CHANNELS // 2**index,
                                       self.width)
                for index in range(num_up + 2)]
    code = expression_code.astype(self.dtype)
    x = layers.concat_labels(identity.astype(self.dtype), code)
    x = nn.Dense(BOTTLENECK_SIZE**2 * channels[0], dtype=self.dtype,
                 param_dtype=self.param_dtype, name='project')(x)
    x = x.reshape(x.shape[0], BOTTLENECK_SIZE, BOTTLENECK_SIZE, channels[0])
    x = layers.concat_labels(nn.relu(x), code)
    for index in range(1, num_up + 1):
      x = layers.upsample_nearest(x)
      x = nn.relu(conv(channels[index], name=f'up{index}')(x))
      x = layers.concat_labels(x, code)
    x = nn.relu(conv(channels[num_up + 1], name='refine')(x))
    x = layers.concat_labels(x, code)
    return jnp.tanh(conv(3, name='to_image')(x))


class LatentDiscriminator(nn.Module):
  """D_z: tells g(x) from draws of the uniform prior on (-1, 1)^50.

  Attributes:
    width: multiplier of the hidden widths (64, 32, 16).
    dtype: computation dtype.
    param_dtype: parameter dtype.
  """
  width: float = 1.0
  dtype: layers.Dtype = jnp.float32
  param_dtype: layers.Dtype = jnp.float32

  @nn.compact
  def __call__(self, identity: jax.Array, train: bool) -> jax.Array:
    """Scores identity representations.

    Args:
      identity: (B, identity_dim).
      train: use batch statistics and update `batch_stats`.

    Returns:
      Logits (B,) of "drawn from the prior".
    """
    x = identity.astype(self.dtype)
    for index, base in enumerate(_LATENT_DISCRIMINATOR_FEATURES, start=1):
      x = nn.Dense(layers.scaled_channels(base, self.width), use_bias=False,
                   dtype=self.dtype, param_dtype=self.param_dtype,
                   name=f'fc{index}')(x)
      x = layers.batch_norm(train, dtype=self.dtype,
                            param_dtype=self.param_dtype,
                            name=f'fc{index}_bn')(x)
      x = _leaky_relu(x)
    return nn.Dense(1, dtype=self.dtype, param_dtype=self.param_dtype,
                    name='logit')(x)[:, 0]


class ImageDiscriminator(nn.Module):
  """D_img with the regularizer Q on its shared trunk.

  Attributes:
    num_classes: K, the number of expression classes.
    code_dim: d, the code entries per class (5).
    width: channel multiplier of the trunk and the Q heads.
    dtype: computation dtype.
    param_dtype: parameter dtype.
  """
  num_classes: int
  code_dim: int = CODE_DIM_PER_CLASS
  width: float = 1.0
  dtype: layers.Dtype = jnp.float32
  param_dtype: layers.Dtype = jnp.float32

  @nn.compact
  def __call__(self, images: jax.Array, labels: jax.Array,
               train: bool) -> tuple[jax.Array, jax.Array]:
    """Scores faces given their labels and predicts their expression code.

    Args:
      images: (B, S, S, 3) in [-1, 1], S a power of two in [16, 256].
      labels: (B, K) one-hot expression labels.
      train: use batch statistics and update `batch_stats`.

    Returns:
      (logits (B,) of "real", code_prediction (B, K*d) in (-1, 1),
       class-major like `expression_controller`).
    """
    size = layers.square_size(images, what='ExprGAN ImageDiscriminator input')
    _num_resolution_changes(size)
    if labels.shape != (images.shape[0], self.num_classes):
      raise ValueError(f'labels must be (B, {self.num_classes}), got '
                       f'{tuple(labels.shape)}')
    norm = functools.partial(layers.batch_norm, train, dtype=self.dtype,
                             param_dtype=self.param_dtype)
    dense = functools.partial(nn.Dense, dtype=self.dtype,
                              param_dtype=self.param_dtype)
    x = layers.concat_labels(images.astype(self.dtype), labels)
    for index, base in enumerate(_DISCRIMINATOR_CHANNELS, start=1):
      x = layers.Conv(layers.scaled_channels(base, self.width), (5, 5), strides=2,
                  padding='SAME', use_bias=False, dtype=self.dtype,
                  param_dtype=self.param_dtype, name=f'down{index}')(x)
      x = _leaky_relu(norm(name=f'down{index}_bn')(x))
      x = layers.concat_labels(x, labels)
    x = x.reshape(x.shape[0], -1)
    x = dense(layers.scaled_channels(_DISCRIMINATOR_FEATURES, self.width),
              use_bias=False, name='shared')(x)
    shared = layers.concat_labels(_leaky_relu(norm(name='shared_bn')(x)),
                                  labels)
    logits = dense(1, name='logit')(shared)[:, 0]
    slots = []
    for index in range(self.num_classes):
      y = dense(layers.scaled_channels(_Q_HIDDEN, self.width), use_bias=False,
                name=f'q{index + 1}_hidden')(shared)
      y = _leaky_relu(norm(name=f'q{index + 1}_hidden_bn')(y))
      slots.append(jnp.tanh(dense(self.code_dim, name=f'q{index + 1}_code')(y)))
    return logits, jnp.concatenate(slots, axis=-1)

"""LEED's trainable networks (supplementary Tables 4-9 of the ECCV 2020 paper).

At 128x128 with `width=1` every layer has exactly the tables' output shape,
except where a table cannot be taken literally (the critic's score, Q's head,
S's last conv; each says why below). Other resolutions (powers of two from
16 to 256) adapt as follows:
  * Encoder E pools four times, as in the tables: the code is (S/16, S/16,
    512*width). `code_stride` 8, 4 or 2 drops the last pools (and the
    decoder's first upsamplings) for a larger code: small images keep the
    paper's 8x8 code this way (32 px with stride 4), where stride 16 leaves
    a 2x2 code (512 numbers at width 0.25 for a 3,072-number image).
  * Decoder, Extractor X and Interpolator I are fully convolutional.
  * LatentCritic runs its stride-2 stages until the map is 2x2.
  * Regularizer Q's first conv covers the whole code (kernel = code size).
  * SiameseNet runs its stride-2 stages until the map is 2x2.
The tables do not give LeakyReLU's slope; it is `LEAKY_SLOPE`. "IN" and
"BN" layers carry a per-channel scale and shift, and the conv before them
no bias (see `layers`).
"""

import functools
import math

import flax.linen as nn
import jax
import jax.numpy as jnp

from leedjax.nets import layers

LEAKY_SLOPE = 0.2
MIN_IMAGE_SIZE = 16
MAX_IMAGE_SIZE = 256
# E's four 2x2 max-pools (Table 6); fewer pools are allowed for small images.
CODE_STRIDE = 16
CODE_STRIDES = (2, 4, 8, 16)
MIN_CODE_SIZE = MIN_IMAGE_SIZE // max(CODE_STRIDES)
MAX_CODE_SIZE = MAX_IMAGE_SIZE // min(CODE_STRIDES)

# Table 6: VGG19's conv blocks up to conv5_1; a max-pool precedes blocks 2-5.
# (Channels at width 1; each inner tuple is one block's convs.)
ENCODER_BLOCKS = ((64, 64), (128, 128), (256,) * 4, (512,) * 4, (512,))
# Table 7: channels per resolution; a 2x nearest upsampling precedes the
# last stages, and a linear 3-channel conv ends the last.
DECODER_STAGES = ((512,), (256,) * 4, (128,) * 4, (64,) * 2, (64,))


def _check_layout(layout, *, what: str, resamplings: int) -> tuple:
  layout = tuple(tuple(int(c) for c in block) for block in layout)
  if len(layout) < resamplings + 1 or not all(layout):
    raise ValueError(
        f'LEED {what} needs at least {resamplings + 1} non-empty blocks of '
        f'channels for {resamplings} resamplings, got {layout}')
  return layout


def code_channels(width: float = 1.0) -> int:
  """Channels of E's code (and of X's and I's outputs) at `width`."""
  return layers.scaled_channels(512, width)


def num_resamplings(code_stride: int) -> int:
  """E's max-pools (and Dec's upsamplings) for a code stride."""
  if code_stride not in CODE_STRIDES:
    raise ValueError(f'LEED code_stride must be one of {CODE_STRIDES} (16 is '
                     f'the paper\'s), got {code_stride!r}')
  return int(math.log2(code_stride))


def code_size(image_size: int, code_stride: int = CODE_STRIDE) -> int:
  """Side of E's code for square images of side `image_size`."""
  layers.check_power_of_two(image_size, what='LEED image size',
                            minimum=MIN_IMAGE_SIZE, maximum=MAX_IMAGE_SIZE)
  num_resamplings(code_stride)
  return image_size // code_stride


def _leaky_relu(x: jax.Array) -> jax.Array:
  return nn.leaky_relu(x, negative_slope=LEAKY_SLOPE)


def _check_code(code: jax.Array, *, what: str) -> int:
  """Side of a square code batch, checked against the sizes E produces."""
  size = layers.square_size(code, what=what)
  layers.check_power_of_two(size, what=f'{what} spatial size',
                            minimum=MIN_CODE_SIZE, maximum=MAX_CODE_SIZE)
  return size


class Encoder(nn.Module):
  """E (Table 6): VGG19 up to conv5_1; conv5_1 is linear.

  Layer names follow VGG (`conv{block}_{index}`), as in `leedjax.nets.vgg`,
  so VGG16's ImageNet weights transfer by name where VGG19 has the same
  layer (all but conv3_4 and conv4_4). Inputs are not ImageNet-standardised.

  Attributes:
    width: channel multiplier.
    code_stride: 16 (the table: a pool before blocks 2-5), or 8, 4, 2 (the
      pools before the last blocks dropped).
    blocks: channels of each block's convs at width 1 (the table's VGG19
      layout by default); a max-pool precedes blocks 2 .. log2(stride) + 1.
      Small images may use fewer, shallower blocks (docs/design.md).
    dtype: computation dtype.
    param_dtype: parameter dtype.
  """
  width: float = 1.0
  code_stride: int = CODE_STRIDE
  blocks: tuple = ENCODER_BLOCKS
  dtype: layers.Dtype = jnp.float32
  param_dtype: layers.Dtype = jnp.float32

  @nn.compact
  def __call__(self, images: jax.Array) -> jax.Array:
    """Encodes images.

    Args:
      images: (B, S, S, 3) in [-1, 1], S a power of two in [16, 256].

    Returns:
      The code, (B, S/stride, S/stride, 512*width).
    """
    code_size(layers.square_size(images, what='Encoder input'),
              self.code_stride)
    pools = num_resamplings(self.code_stride)
    blocks = _check_layout(self.blocks, what='Encoder', resamplings=pools)
    conv = functools.partial(layers.Conv, kernel_size=(3, 3), padding=1,
                             dtype=self.dtype, param_dtype=self.param_dtype)
    x = images.astype(self.dtype)
    for block, channels in enumerate(blocks, start=1):
      if 1 < block <= pools + 1:
        x = nn.max_pool(x, (2, 2), strides=(2, 2))
      for index, base in enumerate(channels, start=1):
        last = block == len(blocks) and index == len(channels)
        # He initialisation keeps the signal's scale through 13 ReLU convs
        # with no normalisation (the default LeCun one shrinks it ~4000x,
        # leaving codes nearly independent of the image at the start).
        x = conv(layers.scaled_channels(base, self.width),
                 kernel_init=(nn.initializers.lecun_normal() if last else
                              nn.initializers.kaiming_normal()),
                 name=f'conv{block}_{index}')(x)
        # The code's conv (conv5_1) stays linear so the code is not
        # clipped at zero.
        if not last:
          x = nn.relu(x)
    return x


class Decoder(nn.Module):
  """Dec (Table 7): convs with BatchNorm and ReLU, nearest upsampling.

  The output conv is linear, as in the table (no tanh): the perceptual loss
  compares it with images in [-1, 1].

  Attributes:
    width: channel multiplier (the output keeps 3 channels).
    code_stride: the encoder's; below 16 the first upsamplings are dropped
      (the last stages, at the image's resolution, stay).
    stages: channels of each stage's convs at width 1 (the table's layout by
      default); an upsampling precedes the last log2(stride) stages.
    dtype: computation dtype.
    param_dtype: parameter dtype.
  """
  width: float = 1.0
  code_stride: int = CODE_STRIDE
  stages: tuple = DECODER_STAGES
  dtype: layers.Dtype = jnp.float32
  param_dtype: layers.Dtype = jnp.float32

  @nn.compact
  def __call__(self, code: jax.Array, train: bool) -> jax.Array:
    """Decodes codes to images.

    Args:
      code: (B, c, c, C), c a power of two in [1, 128].
      train: use batch statistics and update `batch_stats`.

    Returns:
      Images, (B, stride*c, stride*c, 3).
    """
    _check_code(code, what='Decoder input')
    upsamplings = num_resamplings(self.code_stride)
    stages = _check_layout(self.stages, what='Decoder',
                           resamplings=upsamplings)
    first_upsampled = len(stages) - upsamplings
    conv = functools.partial(layers.Conv, kernel_size=(3, 3), padding=1,
                             dtype=self.dtype, param_dtype=self.param_dtype)
    x = code.astype(self.dtype)
    for stage, channels in enumerate(stages, start=1):
      if stage > first_upsampled:
        x = layers.upsample_nearest(x)
      for index, base in enumerate(channels, start=1):
        name = f'stage{stage}_conv{index}'
        x = conv(layers.scaled_channels(base, self.width), use_bias=False,
                 name=name)(x)
        x = layers.batch_norm(train, dtype=self.dtype,
                              param_dtype=self.param_dtype,
                              name=f'{name}_bn')(x)
        x = nn.relu(x)
    return conv(3, name='to_image')(x)


class _CodePairNet(nn.Module):
  """Table 4: three 3x3 convs over two codes concatenated on channels.

  X and I share this layout. The hidden convs have 512*width channels; the
  last conv has the codes' own channel count, so the output is a code.
  """
  width: float = 1.0
  dtype: layers.Dtype = jnp.float32
  param_dtype: layers.Dtype = jnp.float32

  def _fuse(self, first: jax.Array, second: jax.Array) -> jax.Array:
    if first.shape != second.shape:
      raise ValueError(f'{type(self).__name__} takes two codes of one shape, '
                       f'got {tuple(first.shape)} and {tuple(second.shape)}')
    _check_code(first, what=f'{type(self).__name__} input')
    conv = functools.partial(layers.Conv, kernel_size=(3, 3), padding=1,
                             dtype=self.dtype, param_dtype=self.param_dtype)
    hidden = layers.scaled_channels(512, self.width)
    x = jnp.concatenate([first, second], axis=-1).astype(self.dtype)
    x = _leaky_relu(conv(hidden, name='conv1')(x))
    x = _leaky_relu(conv(hidden, name='conv2')(x))
    return conv(first.shape[-1], name='conv3')(x)


class Extractor(_CodePairNet):
  """X (Table 4): the expression attribute of a face, from its two codes.

  Attributes:
    width: multiplier of the hidden channels (512 at width 1).
    dtype: computation dtype.
    param_dtype: parameter dtype.
  """

  @nn.compact
  def __call__(self, expressive_code: jax.Array,
               neutral_code: jax.Array) -> jax.Array:
    """Extracts the expression delta (Eq. 2: Delta = X(C_RB, C_RN)).

    Args:
      expressive_code: (B, c, c, C), the code of the expressive face.
      neutral_code: (B, c, c, C), the code of its neutral face.

    Returns:
      The expression delta, (B, c, c, C).
    """
    return self._fuse(expressive_code, neutral_code)


class Interpolator(_CodePairNet):
  """I (Table 4): fuses an identity code with an expression delta.

  Attributes:
    width: multiplier of the hidden channels (512 at width 1).
    dtype: computation dtype.
    param_dtype: parameter dtype.
  """

  @nn.compact
  def __call__(self, identity_code: jax.Array,
               expression_delta: jax.Array) -> jax.Array:
    """Interpolates a code (Eq. 6: C_hat = I(C_IN, alpha * Delta_RB)).

    Args:
      identity_code: (B, c, c, C), the code of the neutral input face.
      expression_delta: (B, c, c, C), an (already scaled) expression delta.

    Returns:
      The interpolated code, (B, c, c, C).
    """
    return self._fuse(identity_code, expression_delta)


class LatentCritic(nn.Module):
  """The WGAN-GP critic D on codes (Table 5, InstanceNorm).

  At 128 px (8x8 codes): 1x1 conv to 256, two 4x4 stride-2 convs (512,
  1024) to 2x2, and a 2x2 stride-2 conv to 1x1x1024, as in the table. That
  last conv is linear and 1024 wide, which cannot be a critic score, so a
  linear layer maps it to one score per example.

  Other code sizes: the stride-2 stages run until the map is 2x2 (widths
  512, 1024, 1024, ...); a 1x1 code (16 px images) has none, and its final
  conv is 1x1. InstanceNorm is skipped on a 1x1 map, where it would zero
  every feature.

  Attributes:
    width: channel multiplier.
    dtype: computation dtype.
    param_dtype: parameter dtype.
  """
  width: float = 1.0
  dtype: layers.Dtype = jnp.float32
  param_dtype: layers.Dtype = jnp.float32

  def _conv_norm_act(self, x: jax.Array, base: int, kernel: int, stride: int,
                     padding: int, name: str) -> jax.Array:
    normalize = x.shape[1] // stride > 1
    x = layers.Conv(layers.scaled_channels(base, self.width), (kernel, kernel),
                strides=stride, padding=padding, use_bias=not normalize,
                dtype=self.dtype, param_dtype=self.param_dtype, name=name)(x)
    if normalize:
      x = layers.instance_norm(dtype=self.dtype, param_dtype=self.param_dtype,
                               name=f'{name}_in')(x)
    return _leaky_relu(x)

  @nn.compact
  def __call__(self, code: jax.Array) -> jax.Array:
    """Scores codes (higher: more like E's codes of real images).

    Args:
      code: (B, c, c, C), c a power of two in [1, 128].

    Returns:
      Raw critic scores, (B,).
    """
    size = _check_code(code, what='LatentCritic input')
    x = self._conv_norm_act(code.astype(self.dtype), 256, 1, 1, 0, 'conv1')
    for stage in range(max(0, int(math.log2(size)) - 1)):
      x = self._conv_norm_act(x, min(512 * 2**stage, 1024), 4, 2, 1,
                              f'down{stage + 1}')
    kernel = x.shape[1]  # 2, or 1 for 1x1 codes
    x = layers.Conv(layers.scaled_channels(1024, self.width), (kernel, kernel),
                strides=2, padding=0, dtype=self.dtype,
                param_dtype=self.param_dtype, name='conv_last')(x)
    x = x.reshape(x.shape[0], -1)
    return nn.Dense(1, dtype=self.dtype, param_dtype=self.param_dtype,
                    name='score')(x)[:, 0]


class Regularizer(nn.Module):
  """Q (Table 8): a factored Gaussian over Psi's features, given a delta.

  Q(Delta) gives the mean and log-variance of a diagonal Gaussian over
  F_RB, the classifier Psi's penultimate features of the reference face;
  L_Q (Eq. 3) is its negative log-likelihood. The table's last FC has 16
  outputs, which does not follow from the text: here the head has
  2 * `feature_dim` outputs (a mean and a log-variance per feature), with
  `feature_dim` = Psi's feature width (512 for ResNet-18 at width 1).

  The first conv's kernel is the code's spatial size (8 at 128 px), so it
  reduces any code to 1x1.

  Attributes:
    feature_dim: width of Psi's penultimate features.
    width: multiplier of the hidden widths (512 and 128 at width 1).
    dtype: computation dtype.
    param_dtype: parameter dtype.
  """
  feature_dim: int
  width: float = 1.0
  dtype: layers.Dtype = jnp.float32
  param_dtype: layers.Dtype = jnp.float32

  @nn.compact
  def __call__(self, expression_delta: jax.Array,
               train: bool) -> tuple[jax.Array, jax.Array]:
    """Predicts the Gaussian over Psi's features.

    Args:
      expression_delta: (B, c, c, C), X's output.
      train: use batch statistics and update `batch_stats`.

    Returns:
      (mean, log_variance), each (B, feature_dim).
    """
    size = _check_code(expression_delta, what='Regularizer input')
    norm = functools.partial(layers.batch_norm, train, dtype=self.dtype,
                             param_dtype=self.param_dtype)
    x = layers.Conv(layers.scaled_channels(512, self.width), (size, size),
                padding=0, use_bias=False, dtype=self.dtype,
                param_dtype=self.param_dtype,
                name='conv')(expression_delta.astype(self.dtype))
    x = _leaky_relu(norm(name='conv_bn')(x))
    x = x.reshape(x.shape[0], -1)
    x = nn.Dense(layers.scaled_channels(128, self.width), use_bias=False,
                 dtype=self.dtype, param_dtype=self.param_dtype,
                 name='fc')(x)
    x = _leaky_relu(norm(name='fc_bn')(x))
    stats = nn.Dense(2 * self.feature_dim, dtype=self.dtype,
                     param_dtype=self.param_dtype, name='gaussian')(x)
    mean, log_variance = jnp.split(stats, 2, axis=-1)
    return mean, log_variance


class SiameseNet(nn.Module):
  """S (Table 9, InstanceNorm): faces to vectors whose differences compare.

  Table 9's last conv row says 2048x2x2 output but 1024 channels; this
  follows the output size and the doubling pattern: 2048 channels. At 128
  px that is six 4x4 stride-2 convs (64..2048) to 2x2, then a linear FC to
  1024. Other sizes run log2(S) - 1 stride-2 convs, always ending at 2x2
  (widths 64 * 2**i, capped at 2048).

  Attributes:
    width: channel multiplier (the embedding is 1024*width wide).
    dtype: computation dtype.
    param_dtype: parameter dtype.
  """
  width: float = 1.0
  dtype: layers.Dtype = jnp.float32
  param_dtype: layers.Dtype = jnp.float32

  @nn.compact
  def __call__(self, images: jax.Array) -> jax.Array:
    """Embeds faces.

    Args:
      images: (B, S, S, 3) in [-1, 1], S a power of two in [16, 256].

    Returns:
      Embeddings, (B, 1024*width).
    """
    size = layers.square_size(images, what='SiameseNet input')
    code_size(size)  # validates the size
    x = images.astype(self.dtype)
    for stage in range(int(math.log2(size)) - 1):
      x = layers.Conv(layers.scaled_channels(min(64 * 2**stage, 2048), self.width),
                  (4, 4), strides=2, padding=1, use_bias=False,
                  dtype=self.dtype, param_dtype=self.param_dtype,
                  name=f'down{stage + 1}')(x)
      x = layers.instance_norm(dtype=self.dtype, param_dtype=self.param_dtype,
                               name=f'down{stage + 1}_in')(x)
      x = _leaky_relu(x)
    x = x.reshape(x.shape[0], -1)
    return nn.Dense(layers.scaled_channels(1024, self.width), dtype=self.dtype,
                    param_dtype=self.param_dtype, name='embedding')(x)

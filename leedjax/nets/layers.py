"""Small pieces shared by every network family in `leedjax.nets`.

Conventions (every module in `leedjax.nets` follows them):
  * Images are NHWC float arrays in [-1, 1]; labels are one-hot (B, K).
  * `dtype` is the computation dtype (jnp.bfloat16 on GPUs and TPUs);
    parameters are stored in `param_dtype` (float32). Outputs come back in
    `dtype`; losses cast to float32 themselves.
  * Modules with BatchNorm take `train: bool` and keep running statistics
    in the `batch_stats` collection (PyTorch semantics: momentum 0.1,
    epsilon 1e-5). Under `jax.jit` over a data mesh the batch statistics are
    global-batch statistics.
  * A convolution followed by a normalisation has no bias: the
    normalisation would remove it, and a parameter with no gradient only
    confuses optimisers and tests.
  * `width` scales every channel count (see `scaled_channels`); the papers'
    layouts are `width=1`.
  * Modules hold no training logic.
  * Convolutions are `Conv` (flax's, with `small_map_conv` inside).
"""

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

Dtype = Any

# Output maps at most this many pixels go through `small_map_conv`'s matmul.
SMALL_MAP_PIXELS = 4

# PyTorch's BatchNorm2d and InstanceNorm2d defaults (momentum 0.1 there is
# 0.9 here: flax weighs the old running value).
BATCH_NORM_MOMENTUM = 0.9
NORM_EPSILON = 1e-5


def small_map_conv(lhs, rhs, window_strides, padding, lhs_dilation=None,
                   rhs_dilation=None, dimension_numbers=None,
                   feature_group_count=1, precision=None, **kwargs):
  """`lax.conv_general_dilated`, as one matmul over gathered patches where
  the output map is tiny.

  XLA's CPU convolution runs a 3x3 conv to a 2x2 map at ~2 GFLOP/s where
  the same work as a matmul runs at ~160 (measured on this project's 2-core
  machine); LEED's codes are 2x2 at 32 px. Same parameters, same result up
  to float summation order; any other case is passed through unchanged.
  """
  def passthrough():
    return jax.lax.conv_general_dilated(
        lhs, rhs, window_strides, padding, lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation, dimension_numbers=dimension_numbers,
        feature_group_count=feature_group_count, precision=precision,
        **kwargs)

  nhwc = jax.lax.conv_dimension_numbers(lhs.shape, rhs.shape,
                                        ('NHWC', 'HWIO', 'NHWC'))
  plain = (lhs.ndim == 4
           and all(d in (None, 1) for d in (*(lhs_dilation or ()),
                                            *(rhs_dilation or ())))
           and feature_group_count == 1 and not kwargs
           and jax.lax.conv_dimension_numbers(
               lhs.shape, rhs.shape, dimension_numbers) == nhwc)
  if not plain:
    return passthrough()
  kernel_h, kernel_w = rhs.shape[:2]
  if isinstance(padding, str):
    padding = jax.lax.padtype_to_pads(lhs.shape[1:3], (kernel_h, kernel_w),
                                      (1, 1), padding)
  padded = jnp.pad(lhs, ((0, 0), *padding, (0, 0)))
  stride_h, stride_w = window_strides
  out_h = (padded.shape[1] - kernel_h) // stride_h + 1
  out_w = (padded.shape[2] - kernel_w) // stride_w + 1
  if out_h * out_w > SMALL_MAP_PIXELS or out_h < 1 or out_w < 1:
    return passthrough()
  patches = jnp.concatenate(
      [padded[:, i:i + stride_h * (out_h - 1) + 1:stride_h,
              j:j + stride_w * (out_w - 1) + 1:stride_w, :]
       for i in range(kernel_h) for j in range(kernel_w)], axis=-1)
  return jnp.matmul(patches, rhs.reshape(-1, rhs.shape[-1]),
                    precision=precision)


class Conv(nn.Conv):
  """flax's Conv (same parameters and names) computing tiny output maps
  with `small_map_conv`."""
  conv_general_dilated: Any = small_map_conv


def scaled_channels(base: int, width: float) -> int:
  """A layer's channel count at a width multiplier: round(base*width), >= 1."""
  return max(1, int(round(base * width)))


def check_power_of_two(size: int, *, what: str, minimum: int,
                       maximum: int) -> int:
  """Returns `size` if it is a power of two in [minimum, maximum].

  Raises:
    ValueError: naming `what` and the offending size otherwise.
  """
  if size < 1 or size & (size - 1) or not minimum <= size <= maximum:
    raise ValueError(
        f'{what} must be a power of two from {minimum} to {maximum}, '
        f'got {size}')
  return size


def square_size(x: jax.Array, *, what: str) -> int:
  """The side of a square NHWC batch; ValueError for anything else."""
  if x.ndim != 4 or x.shape[1] != x.shape[2]:
    raise ValueError(f'{what} must be a square NHWC batch, got shape '
                     f'{tuple(x.shape)}')
  return x.shape[1]


def batch_norm(train: bool, *, dtype: Dtype, param_dtype: Dtype,
               name: str | None = None) -> nn.BatchNorm:
  """BatchNorm with PyTorch's momentum and epsilon.

  Call inside a compact method; in eval mode it uses the running statistics.
  """
  return nn.BatchNorm(use_running_average=not train,
                      momentum=BATCH_NORM_MOMENTUM, epsilon=NORM_EPSILON,
                      dtype=dtype, param_dtype=param_dtype, name=name)


def instance_norm(*, dtype: Dtype, param_dtype: Dtype,
                  name: str | None = None) -> nn.InstanceNorm:
  """InstanceNorm with a per-channel scale and shift, epsilon 1e-5.

  Statistics are always the instance's own (no running averages), so it
  needs no `train` flag and no `batch_stats`.
  """
  return nn.InstanceNorm(epsilon=NORM_EPSILON, dtype=dtype,
                         param_dtype=param_dtype, name=name)


def upsample_nearest(x: jax.Array, factor: int = 2) -> jax.Array:
  """Nearest-neighbour upsampling: (B, H, W, C) -> (B, fH, fW, C)."""
  return jnp.repeat(jnp.repeat(x, factor, axis=1), factor, axis=2)


def concat_labels(x: jax.Array, labels: jax.Array) -> jax.Array:
  """Appends a per-example vector to every position of a feature map.

  Args:
    x: (B, H, W, C) feature map, or (B, C) features.
    labels: (B, L) label or code vectors.

  Returns:
    (B, H, W, C + L), or (B, C + L) for flat features.
  """
  labels = labels.astype(x.dtype)
  if x.ndim == 2:
    return jnp.concatenate([x, labels], axis=-1)
  tiled = jnp.broadcast_to(labels[:, None, None, :],
                           x.shape[:3] + labels.shape[-1:])
  return jnp.concatenate([x, tiled], axis=-1)


def count_params(variables_or_params: Any) -> int:
  """Number of scalars in a parameter tree.

  Args:
    variables_or_params: the `params` tree, or a variables dict holding one
      (then only `params` counts, not `batch_stats`). Leaves may be arrays or
      `jax.ShapeDtypeStruct`s from `jax.eval_shape`.

  Returns:
    The total number of parameters.
  """
  tree = variables_or_params
  if hasattr(tree, 'keys') and 'params' in tree:
    tree = tree['params']
  return sum(math.prod(leaf.shape) for leaf in jax.tree.leaves(tree))

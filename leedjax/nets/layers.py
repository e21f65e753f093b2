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
  * Convolutions are `Conv` (flax's, computed by `lowering`).
"""

import math
from typing import Any

import flax.linen as nn
import jax
import jax.numpy as jnp

from leedjax.nets import lowering

Dtype = Any

# PyTorch's BatchNorm2d and InstanceNorm2d defaults (momentum 0.1 there is
# 0.9 here: flax weighs the old running value).
BATCH_NORM_MOMENTUM = 0.9
NORM_EPSILON = 1e-5


class Conv(nn.Conv):
  """flax's Conv (same parameters and names) whose convolution is computed
  by `leedjax.nets.lowering` (fast forms on XLA:CPU)."""
  conv_general_dilated: Any = lowering.conv_general_dilated


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

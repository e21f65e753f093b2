"""How convolutions are computed: XLA's own ops, or forms fast on XLA:CPU.

Every network computes its convolutions through this module. The
'optimized' lowering replaces the forms that XLA:CPU runs on a slow generic
path by the same arithmetic in forms it runs fast; the 'plain' lowering is
XLA's own op, as `flax.linen.Conv` and `ConvTranspose` emit them. Both give
the same result up to float summation order (tests/test_lowering.py checks
outputs and gradients, second derivatives included). Measured on a 2-core
Sapphire Rapids (docs/status.md, "Step times"):

* Tiny output maps (<= 4 pixels, e.g. LEED's 2x2 codes): XLA's convolution
  runs at 2-18 GFLOP/s; one matmul over the gathered patches at 43-160.
* Stride-2 transposed convolutions (StarGAN's upsampling): XLA computes
  their kernel gradient as a convolution with a dilated right-hand side,
  ~30x slower than the forward pass (1.8 s for one 64 px layer of a
  16-image batch). The sub-pixel form, a stride-1 3x3 convolution to four
  output phases followed by depth-to-space, has only stride-1 gradients.
* Stride-2 4x4 convolutions (StarGAN's and LEED's critics, G's
  downsampling): their input gradient is that transposed convolution, and
  a gradient penalty differentiates it again. `conv_4x4_stride_2` keeps
  XLA's forward pass and kernel gradient and computes the input gradient
  in the sub-pixel form, so no derivative of any order is dilated.

`lowering()` picks 'optimized' on a CPU backend and 'plain' elsewhere
(cuDNN and TPU convolutions are best left to XLA); `use_lowering(name)`
overrides it while a function is traced, e.g. to time both side by side
(`python -m leedjax.bench --compare=plain`).
"""

import contextlib
from typing import Iterator

import jax
import jax.numpy as jnp

LOWERINGS = ('auto', 'optimized', 'plain')
# Output maps at most this many pixels go through one matmul.
SMALL_MAP_PIXELS = 4
_NHWC = ('NHWC', 'HWIO', 'NHWC')

# A jit-cache key: a function traced under one lowering is traced again
# under another, not served from the cache.
_lowering = jax.make_user_context(default_value='auto')


@contextlib.contextmanager
def use_lowering(name: str) -> Iterator[None]:
  """Traces convolutions with lowering `name` ('auto', 'optimized' or
  'plain') inside the block."""
  if name not in LOWERINGS:
    raise ValueError(f'Unknown convolution lowering {name!r}: use one of '
                     f'{LOWERINGS}.')
  with _lowering(name):
    yield


def lowering() -> str:
  """'optimized' or 'plain': the lowering convolutions traced now use."""
  name = _lowering.value
  if name == 'auto':
    return 'optimized' if jax.default_backend() == 'cpu' else 'plain'
  return name


def conv_general_dilated(lhs, rhs, window_strides, padding, lhs_dilation=None,
                         rhs_dilation=None, dimension_numbers=None,
                         feature_group_count=1, precision=None, **kwargs):
  """`lax.conv_general_dilated` (flax.linen.Conv's hook), computing tiny
  output maps as one matmul over gathered patches when optimized."""
  def passthrough():
    return jax.lax.conv_general_dilated(
        lhs, rhs, window_strides, padding, lhs_dilation=lhs_dilation,
        rhs_dilation=rhs_dilation, dimension_numbers=dimension_numbers,
        feature_group_count=feature_group_count, precision=precision,
        **kwargs)

  if lowering() == 'plain':
    return passthrough()
  nhwc = jax.lax.conv_dimension_numbers(lhs.shape, rhs.shape, _NHWC)
  simple = (lhs.ndim == 4
            and all(d in (None, 1) for d in (*(lhs_dilation or ()),
                                             *(rhs_dilation or ())))
            and feature_group_count == 1 and not kwargs
            and jax.lax.conv_dimension_numbers(
                lhs.shape, rhs.shape, dimension_numbers) == nhwc)
  if not simple:
    return passthrough()
  kernel_h, kernel_w = rhs.shape[:2]
  if isinstance(padding, str):
    padding = jax.lax.padtype_to_pads(lhs.shape[1:3], (kernel_h, kernel_w),
                                      window_strides, padding)
  padding = tuple(tuple(pair) for pair in padding)
  padded = jnp.pad(lhs, ((0, 0), *padding, (0, 0)))
  stride_h, stride_w = window_strides
  out_h = (padded.shape[1] - kernel_h) // stride_h + 1
  out_w = (padded.shape[2] - kernel_w) // stride_w + 1
  if out_h < 1 or out_w < 1:
    return passthrough()
  if out_h * out_w > SMALL_MAP_PIXELS:
    if ((kernel_h, kernel_w) == (4, 4) and tuple(window_strides) == (2, 2)
        and padding == ((1, 1), (1, 1)) and precision is None):
      return conv_4x4_stride_2(lhs, rhs)
    return passthrough()
  patches = jnp.concatenate(
      [padded[:, i:i + stride_h * (out_h - 1) + 1:stride_h,
              j:j + stride_w * (out_w - 1) + 1:stride_w, :]
       for i in range(kernel_h) for j in range(kernel_w)], axis=-1)
  return jnp.matmul(patches, rhs.reshape(-1, rhs.shape[-1]),
                    precision=precision)


def _plain_conv_4x4_stride_2(x, kernel):
  return jax.lax.conv_general_dilated(x, kernel, (2, 2), ((1, 1), (1, 1)),
                                      dimension_numbers=_NHWC)


def _space_to_depth_conv_4x4_stride_2(x, kernel):
  """The same convolution as a 2x2 stride-1 one over 2x2 pixel blocks
  (space-to-depth), whose derivatives are all stride-1."""
  padded = jnp.pad(x, ((0, 0), (1, 1), (1, 1), (0, 0)))
  batch, height, width, channels = padded.shape
  blocks = padded.reshape(batch, height // 2, 2, width // 2, 2, channels)
  blocks = blocks.transpose(0, 1, 3, 2, 4, 5).reshape(
      batch, height // 2, width // 2, 4 * channels)
  features = kernel.shape[-1]
  block_kernel = kernel.reshape(2, 2, 2, 2, channels, features).transpose(
      0, 2, 1, 3, 4, 5).reshape(2, 2, 4 * channels, features)
  return jax.lax.conv_general_dilated(blocks, block_kernel, (1, 1), 'VALID',
                                      dimension_numbers=_NHWC)


@jax.custom_vjp
def conv_4x4_stride_2(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """A 4x4 stride-2 convolution with padding 1 (B, 2H, 2W, C) -> (B, H, W,
  F), kernel (4, 4, C, F), whose input gradient is the sub-pixel
  transposed convolution (see the module docstring)."""
  return _plain_conv_4x4_stride_2(x, kernel)


def _conv_4x4_stride_2_forward(x, kernel):
  # Through the custom-VJP function itself, so that a second derivative
  # (which differentiates this forward rule) uses these rules again.
  return conv_4x4_stride_2(x, kernel), (x, kernel)


def _conv_4x4_stride_2_backward(residuals, output_gradient):
  x, kernel = residuals
  # The adjoint of this convolution is PyTorch's transposed convolution
  # with the same kernel.
  with use_lowering('optimized'):
    input_gradient = conv_transpose_4x4_stride_2(output_gradient, kernel)
  # The kernel gradient of the space-to-depth form: what a gradient
  # penalty differentiates again stays stride-1.
  _, kernel_vjp = jax.vjp(lambda k: _space_to_depth_conv_4x4_stride_2(x, k),
                          kernel)
  return input_gradient, kernel_vjp(output_gradient)[0]


conv_4x4_stride_2.defvjp(_conv_4x4_stride_2_forward,
                         _conv_4x4_stride_2_backward)


def conv_transpose_4x4_stride_2(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """PyTorch's ConvTranspose2d(kernel 4, stride 2, padding 1): (B, H, W, C)
  -> (B, 2H, 2W, F), with `kernel` (4, 4, F, C) as flax's ConvTranspose
  stores it with `transpose_kernel=True`.

  Optimized: output pixel 2m + a (a = 0, 1 per axis) is a 2x2 correlation
  of input pixels m - 1 + a .. m + a, so all four phases are one stride-1
  3x3 convolution to 4F channels (each phase's kernel zero outside its own
  2x2 taps), rearranged depth-to-space.
  """
  if lowering() == 'plain':
    return jax.lax.conv_transpose(x, kernel, (2, 2), ((2, 2), (2, 2)),
                                  dimension_numbers=_NHWC,
                                  transpose_kernel=True)
  # The regular-convolution kernel over the stride-dilated input.
  dilated_kernel = jnp.flip(kernel, (0, 1)).transpose(0, 1, 3, 2)
  zero = jnp.zeros_like(dilated_kernel[0, 0])

  def tap(phase_row, row, phase_col, col):
    # Input offset u in {0, 1, 2} (pixel m - 1 + u) meets kernel tap
    # 2u - phase of the dilated correlation, if that tap exists.
    t_row, t_col = 2 * row - phase_row, 2 * col - phase_col
    if 0 <= t_row < 4 and 0 <= t_col < 4:
      return dilated_kernel[t_row, t_col]
    return zero

  phases = [jnp.stack([jnp.stack([tap(a, u, b, v) for v in range(3)])
                       for u in range(3)])
            for a in (0, 1) for b in (0, 1)]            # 4 x (3, 3, C, F)
  channels_in, features = dilated_kernel.shape[2:]
  combined = jnp.stack(phases, axis=-1).reshape(3, 3, channels_in,
                                                features * 4)
  y = jax.lax.conv_general_dilated(x, combined, (1, 1), ((1, 1), (1, 1)),
                                   dimension_numbers=_NHWC)
  batch, height, width, _ = y.shape
  y = y.reshape(batch, height, width, features, 2, 2)
  return y.transpose(0, 1, 4, 2, 5, 3).reshape(batch, 2 * height, 2 * width,
                                               features)

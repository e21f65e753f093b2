"""Degradations a classifier of real photos sees, applied inside the step.

Psi in the LEED paper was trained on in-the-wild photos (RAF-DB), so it
judges expression through blur, noise, colour casts and framing. The judges
here are trained on renders; `degrade` gives their training images those
nuisances, so that they judge what a face shows, not how sharp it is
(docs/design.md, "Psi and the identity judge"). Sharpness is measured by
FID, SSIM and LPIPS.

Every function is pure JAX on float images in [-1, 1], (B, H, W, 3), with
each example drawing its own parameters from `rng`, so it runs in the
jitted train step (no host work per step).
"""

import jax
import jax.numpy as jnp
import ml_collections

# Taps of the Gaussian blur kernel: enough for sigma up to ~2 px.
BLUR_TAPS = 9


def _per_example(rng, shape_tail, batch, low, high):
  return jax.random.uniform(rng, (batch,) + shape_tail, minval=low,
                            maxval=high)


def gaussian_blur(images: jax.Array, sigma: jax.Array) -> jax.Array:
  """Separable Gaussian blur with a per-example sigma (pixels; 0: none).

  Edges are extended (edge padding), so borders do not darken.
  """
  offsets = jnp.arange(BLUR_TAPS, dtype=jnp.float32) - BLUR_TAPS // 2
  safe = jnp.maximum(sigma, 1e-3)[:, None]
  weights = jnp.exp(-0.5 * (offsets[None] / safe) ** 2)
  weights = weights / weights.sum(axis=1, keepdims=True)  # (B, taps)
  half = BLUR_TAPS // 2
  height, width = images.shape[1:3]

  def along(x, axis, size):
    pad = [(0, 0)] * 4
    pad[axis] = (half, half)
    padded = jnp.pad(x, pad, mode='edge')
    taps = [jax.lax.slice_in_dim(padded, k, k + size, axis=axis)
            for k in range(BLUR_TAPS)]
    return sum(weights[:, k, None, None, None] * tap
               for k, tap in enumerate(taps))

  return along(along(images, 1, height), 2, width)


def shift(images: jax.Array, offsets: jax.Array, max_shift: int) -> jax.Array:
  """Translates each image by integer (dy, dx) pixels, |dy|, |dx| <=
  max_shift, edges extended."""
  pad = max_shift

  def one(image, offset):
    padded = jnp.pad(image, ((pad, pad), (pad, pad), (0, 0)), mode='edge')
    start = (pad - offset[0], pad - offset[1], 0)
    return jax.lax.dynamic_slice(padded, start, image.shape)

  return jax.vmap(one)(images, offsets)


def adjust_colour(images: jax.Array, brightness: jax.Array,
                  contrast: jax.Array, saturation: jax.Array) -> jax.Array:
  """Per-example brightness offset, contrast and saturation factors."""
  gray = jnp.mean(images, axis=-1, keepdims=True)
  images = gray + saturation[:, None, None, None] * (images - gray)
  mean = jnp.mean(images, axis=(1, 2, 3), keepdims=True)
  images = mean + contrast[:, None, None, None] * (images - mean)
  return images + brightness[:, None, None, None]


def degrade(images: jax.Array, rng: jax.Array,
            settings: ml_collections.ConfigDict) -> jax.Array:
  """Random blur, shift, colour change and noise, each example its own.

  Args:
    images: (B, H, W, 3) floats in [-1, 1].
    rng: a key; every draw comes from it.
    settings: a classifier section's `augment` (see configs/default.py):
      blur_probability, max_blur_sigma (px at 32 px, scaled with the image
      side), max_shift_fraction, brightness, contrast, saturation,
      max_noise_std.

  Returns:
    Degraded images of the same shape, clipped to [-1, 1].
  """
  batch, height = images.shape[0], images.shape[1]
  keys = jax.random.split(rng, 8)
  scale = height / 32.0
  blurred = jax.random.bernoulli(keys[0], settings.blur_probability, (batch,))
  sigma = blurred * _per_example(keys[1], (), batch, 0.0,
                                 settings.max_blur_sigma * scale)
  images = gaussian_blur(images, sigma)
  max_shift = int(round(settings.max_shift_fraction * height))
  if max_shift:
    offsets = jax.random.randint(keys[2], (batch, 2), -max_shift,
                                 max_shift + 1)
    images = shift(images, offsets, max_shift)
  images = adjust_colour(
      images,
      brightness=_per_example(keys[3], (), batch, -settings.brightness,
                              settings.brightness),
      contrast=_per_example(keys[4], (), batch, 1 - settings.contrast,
                            1 + settings.contrast),
      saturation=_per_example(keys[5], (), batch, 1 - settings.saturation,
                              1 + settings.saturation))
  noise_std = _per_example(keys[6], (), batch, 0.0, settings.max_noise_std)
  images = images + noise_std[:, None, None, None] * jax.random.normal(
      keys[7], images.shape)
  return jnp.clip(images, -1.0, 1.0)

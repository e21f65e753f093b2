"""LPIPS (Zhang et al., CVPR 2018), VGG16 variant, version 0.1.

For images x, y in [-1, 1]:

  LPIPS(x, y) = sum_l mean_{h,w} sum_c w_lc (f_l(x) - f_l(y))_{hwc}^2

where f_l are the VGG16 feature maps at relu1_2, relu2_2, relu3_3, relu4_3,
relu5_3 (see `nets.vgg`, which also applies LPIPS's input scaling), each
unit-normalised over channels (f / (||f||_2 + 1e-10)), and w_l are the
learned non-negative linear weights of LPIPS v0.1. This is the reference
`lpips.LPIPS(net='vgg', version='0.1')` forward pass with `spatial=False`
(its dropout is inactive in eval mode).

Weights: `leedjax.weights.vgg16.load_lpips_params()`.
"""

import jax
import jax.numpy as jnp

from leedjax.nets import vgg

# The reference's `normalize_tensor` epsilon.
_NORM_EPSILON = 1e-10


def _unit_normalize(features: jax.Array) -> jax.Array:
  norm = jnp.sqrt(jnp.sum(jnp.square(features), axis=-1, keepdims=True))
  return features / (norm + _NORM_EPSILON)


@jax.jit
def lpips(params: dict, images_a: jax.Array, images_b: jax.Array
          ) -> jax.Array:
  """Per-example LPIPS distance between two batches of images.

  Args:
    params: from `leedjax.weights.vgg16.load_lpips_params()`:
      {'vgg16': VGG16 params, 'linear': {layer: (channels,) weights}}.
    images_a: (B, H, W, 3) RGB in [-1, 1].
    images_b: the same shape as `images_a`.

  Returns:
    (B,) float32 distances; 0 for identical images, larger for less similar.
  """
  if images_a.shape != images_b.shape:
    raise ValueError(f'lpips: image batches differ in shape: '
                     f'{images_a.shape} vs {images_b.shape}')
  batch = images_a.shape[0]
  # One forward pass over both batches.
  features = vgg.VGG16(output_layers=vgg.LPIPS_LAYERS).apply(
      {'params': params['vgg16']},
      jnp.concatenate([images_a, images_b]).astype(jnp.float32))
  distance = jnp.zeros((batch,), jnp.float32)
  for layer in vgg.LPIPS_LAYERS:
    normalized = _unit_normalize(features[layer].astype(jnp.float32))
    squared_difference = jnp.square(normalized[:batch] - normalized[batch:])
    # A 1x1 conv to one channel; elementwise so TPUs keep float32 precision.
    weighted = jnp.sum(squared_difference * params['linear'][layer], axis=-1)
    distance = distance + jnp.mean(weighted, axis=(1, 2))
  return distance

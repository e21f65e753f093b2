"""Faces and their eyes in photographs, found with dlib.

dlib's HOG frontal face detector (five filters: a face seen from the front,
turned left, turned right, tilted left and tilted right, so a face turned or
tilted by up to about 30 degrees is found) and dlib's 5-point landmark model
(the corners of each eye and the base of the nose) from the package
`face-recognition-models`, sha256-pinned in `leedjax.weights.face_landmarks`.
dlib comes from the package `dlib-bin` (prebuilt wheels) or `dlib`.

The detector's window is 80 pixels: `detect_faces` runs it on the image and
on the image upsampled once, which finds faces down to 40 pixels and also
faces that one of the two samplings scores just below dlib's threshold.
"""

import dataclasses
import functools
import math

import numpy as np

from leedjax.weights import face_landmarks

INSTALL_HINT = ('python -m pip install "dlib-bin>=19.24" (prebuilt; or '
                '"dlib", which compiles), or from a checkout: '
                'pip install -e \'.[assets]\'')
# Detections scoring below this (dlib's SVM margin; its threshold is 0) are
# doubtful. Measured: the mission patch on skimage's astronaut scores up to
# 0.62 when the photo is turned, the faces of skimage's LFW subset 1.2
# (median), yet a face partly covered can score under 0.1.
SURE_SCORE = 0.5
# Two detections of one face, from the two samplings, overlap this much
# (intersection over union) or more; different faces overlap far less.
SAME_FACE_OVERLAP = 0.5


@dataclasses.dataclass(frozen=True)
class Face:
  """A face found in an image, in its pixel coordinates.

  Attributes:
    box: (x, y, width, height) of the face, brows to chin.
    score: the detector's confidence (above 0; `SURE_SCORE` or more: sure).
    left_eye, right_eye: (x, y) centres of the eyes on the image's left and
      on its right.
  """
  box: tuple[int, int, int, int]
  score: float
  left_eye: tuple[float, float]
  right_eye: tuple[float, float]

  @property
  def eye_angle(self) -> float:
    """The eye line's slope in degrees: positive if the right eye is lower.

    Image rows point down, so this is the angle by which the face is turned
    clockwise on the screen.
    """
    (left_x, left_y), (right_x, right_y) = self.left_eye, self.right_eye
    return math.degrees(math.atan2(right_y - left_y, right_x - left_x))

  def scaled(self, factor: float) -> 'Face':
    """The same face in an image `factor` times as large."""
    return Face(box=tuple(round(v * factor) for v in self.box),
                score=self.score,
                left_eye=tuple(v * factor for v in self.left_eye),
                right_eye=tuple(v * factor for v in self.right_eye))


@functools.cache
def _models():
  """(detector, landmark predictor), loaded once."""
  try:
    import dlib  # pylint: disable=g-import-not-at-top
  except ImportError as error:
    raise ImportError(f'Face detection needs dlib: {INSTALL_HINT}') from error
  predictor = dlib.shape_predictor(
      str(face_landmarks.five_point_model_path()))
  return dlib.get_frontal_face_detector(), predictor


def _overlap(box, other) -> float:
  """Intersection over union of two (x, y, width, height) boxes."""
  x, y, width, height = box
  other_x, other_y, other_width, other_height = other
  across = min(x + width, other_x + other_width) - max(x, other_x)
  down = min(y + height, other_y + other_height) - max(y, other_y)
  common = max(across, 0) * max(down, 0)
  return common / (width * height + other_width * other_height - common)


def _eye_centres(shape) -> tuple[tuple[float, float], tuple[float, float]]:
  # dlib's 5 points: the image-right eye's two corners, the image-left eye's
  # two corners, the base of the nose.
  points = [(point.x, point.y) for point in shape.parts()]
  right = tuple(float(v) for v in np.mean(points[0:2], axis=0))
  left = tuple(float(v) for v in np.mean(points[2:4], axis=0))
  return left, right


def detect_faces(image: np.ndarray) -> list[Face]:
  """Faces in a photograph: sure ones largest first, then doubtful ones.

  Args:
    image: (H, W, 3) uint8 RGB, or (H, W) uint8 grayscale.

  Returns:
    The faces scoring above dlib's threshold: first those scoring at least
    `SURE_SCORE`, largest first, then the doubtful ones, highest score
    first. Empty if none.

  Raises:
    ImportError: dlib is not installed (the message says how to install it).
    leedjax.weights.assets.MissingWeightsError, CorruptWeightsError: the
      landmark model is not installed, or not the pinned file.
  """
  image = np.asarray(image)
  if image.dtype != np.uint8 or image.ndim not in (2, 3) or (
      image.ndim == 3 and image.shape[-1] != 3):
    raise ValueError(f'detect_faces expects a uint8 (H, W, 3) RGB or (H, W) '
                     f'image, got {image.dtype} {image.shape}')
  image = np.ascontiguousarray(image)
  detector, predictor = _models()
  found = []  # (score, rectangle) from both samplings
  for upsample in (0, 1):
    rectangles, scores, _ = detector.run(image, upsample, 0.0)
    found.extend(zip(scores, rectangles))
  kept = []
  for score, rectangle in sorted(found, key=lambda pair: -pair[0]):
    box = (rectangle.left(), rectangle.top(), rectangle.width(),
           rectangle.height())
    if all(_overlap(box, face.box) < SAME_FACE_OVERLAP for face in kept):
      left_eye, right_eye = _eye_centres(predictor(image, rectangle))
      kept.append(Face(box, float(score), left_eye, right_eye))
  return sorted(kept, key=_order)


def _order(face: Face) -> tuple[bool, float]:
  # Sure faces largest first (in a group photo the nearest, or the one the
  # photo is of); then doubtful ones, likeliest first, as their size says
  # little.
  if face.score >= SURE_SCORE:
    return False, -face.box[2] * face.box[3]
  return True, -face.score

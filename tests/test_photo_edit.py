"""`python -m leedjax.edit` and its photo helpers (leedjax/photos.py): face
detection on a real photo (harder cases in test_dlib_faces.py), crop and
feathered paste, file conversions, and every bad input failing with exit 2,
a message and no file."""

import os
import struct
import subprocess
import sys
import zlib

import numpy as np
from PIL import Image
import pytest
import skimage.data

from leedjax import api
from leedjax import photo_edit
from leedjax import photos

from conftest import REPO

# The astronaut's face, as dlib's detector finds it: (x, y, width, height).
ASTRONAUT_FACE = (179, 83, 88, 88)


@pytest.fixture(scope='module')
def cli():
  """The command's module (`python -m leedjax.edit` runs it)."""
  return photo_edit


@pytest.fixture(scope='module')
def astronaut_png(tmp_path_factory):
  path = tmp_path_factory.mktemp('photos') / 'astronaut.png'
  Image.fromarray(skimage.data.astronaut()).save(path)
  return path


def _gradient(height, width):
  rows, cols = np.mgrid[0:height, 0:width]
  return np.stack([rows * 255 // max(height - 1, 1),
                   cols * 255 // max(width - 1, 1),
                   (rows + cols) * 255 // (height + width)],
                  axis=-1).astype(np.uint8)


def _png_header(width, height):
  """A PNG that declares width x height pixels but holds none."""
  def chunk(kind, data):
    return (struct.pack('>I', len(data)) + kind + data +
            struct.pack('>I', zlib.crc32(kind + data)))
  return (b'\x89PNG\r\n\x1a\n' +
          chunk(b'IHDR', struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 0))
          + chunk(b'IDAT', zlib.compress(b'\0')) + chunk(b'IEND', b''))


# ---------------------------------------------------------------- detection


def _assert_near(box, expected, scale=1.0, offset=0):
  """Same centre and size within 10% of the face's size.

  dlib's boxes move by a few pixels with the scale it finds a face at.
  """
  x, y, width, height = box
  ex, ey, ewidth, eheight = (scale * v for v in expected)
  assert abs(x + width / 2 - (ex + ewidth / 2 + offset)) < 0.1 * ewidth
  assert abs(y + height / 2 - (ey + eheight / 2)) < 0.1 * eheight
  assert abs(width - ewidth) < 0.1 * ewidth, (box, expected, scale)


def test_finds_the_astronauts_face_and_orders_faces_largest_first():
  astronaut = skimage.data.astronaut()
  face = photos.detect_faces(astronaut)[0]  # then the patch on her suit
  _assert_near(face.box, ASTRONAUT_FACE)
  # Two faces, the smaller (44 pixels: found in the photo upsampled once) on
  # the right; index 0 is the larger.
  two = np.full((512, 768, 3), 255, np.uint8)
  two[:, :512], two[:256, 512:] = astronaut, photos.resize(astronaut,
                                                            (256, 256))
  big, little = photos.detect_faces(two)[:2]
  _assert_near(big.box, ASTRONAUT_FACE)
  _assert_near(little.box, ASTRONAUT_FACE, scale=0.5, offset=512)
  # A photo larger than DETECT_SIDE is searched downscaled; the box and the
  # eyes are in the photo's pixels.
  face_4x = photos.detect_faces(photos.resize(astronaut, (2048, 2048)))[0]
  _assert_near(face_4x.box, ASTRONAUT_FACE, scale=4.0)
  np.testing.assert_allclose(face_4x.left_eye, np.multiply(face.left_eye, 4),
                             atol=8)
  assert photos.detect_faces(_gradient(300, 300)) == []


# -------------------------------------------------------- crop and paste


def test_square_crop_box_is_centred_and_padded_past_the_border():
  assert photos.square_crop_box((10, 20, 40, 20), margin=0.25) == (0, 0, 60)
  assert photos.center_square_box((30, 50, 3)) == (10, 0, 30)
  photo = _gradient(40, 50)
  box = (-10, -5, 30)  # 10 columns left of, 5 rows above the photo
  face = photos.crop_face(photo, box, size=30)  # no resize: the raw crop
  np.testing.assert_array_equal(face[5:, 10:], photo[:25, :20])
  # Outside the photo: its edge pixels, repeated.
  np.testing.assert_array_equal(face[5:, 3], photo[:25, 0])
  np.testing.assert_array_equal(face[0, 10:], photo[0, :20])
  np.testing.assert_array_equal(face[0, 0], photo[0, 0])


def test_feather_mask_is_one_inside_zero_on_the_border_and_monotone():
  mask = photos.feather_mask(40, 0.2)
  assert mask[20, 20] == 1.0 and mask[12:28, 12:28].min() == 1.0
  for border in (mask[0], mask[-1], mask[:, 0], mask[:, -1]):
    assert np.all(border == 0.0)
  # Non-increasing outwards from the centre, along a row and the diagonal.
  for line in (mask[20, 20:], mask[20, 20::-1], np.diag(mask)[20:]):
    assert np.all(np.diff(line) <= 0) and line[-1] == 0.0
  assert 0.0 < mask[20, 3] < mask[20, 5] < 1.0
  np.testing.assert_array_equal(mask, mask.T)
  np.testing.assert_array_equal(photos.feather_mask(9, 0.0), np.ones((9, 9)))
  with pytest.raises(ValueError, match='feather'):
    photos.feather_mask(9, 0.6)


def test_paste_of_the_crop_leaves_the_photo_and_the_outside_unchanged():
  photo = _gradient(120, 160)
  box = (70, -10, 60)  # reaches past the top border
  # At the box's own size, crop then paste is exact.
  same = photos.crop_face(photo, box, size=60)
  np.testing.assert_array_equal(photos.paste_face(photo, same, box, 0.2),
                                photo)
  # Through the editor's 32 pixels, only resampling error, and only inside.
  small = photos.crop_face(photo, box, size=32)
  round_trip = photos.paste_face(photo, small, box, 0.2).astype(int)
  assert np.abs(round_trip - photo).max() <= 6
  # A black face: the middle becomes black, the box's border and every pixel
  # outside the box stay exactly as they were.
  pasted = photos.paste_face(photo, np.zeros((32, 32, 3), np.uint8), box, 0.2)
  assert np.all(pasted[20, 100] == 0)
  outside = np.ones(photo.shape[:2], bool)
  outside[0:49, 71:129] = False  # the box less its one-pixel border
  np.testing.assert_array_equal(pasted[outside], photo[outside])
  assert np.any(pasted[~outside] != photo[~outside])


def test_pasting_the_change_keeps_the_photos_detail():
  photo = _gradient(120, 160) // 2
  photo[::2, ::2] = 200  # detail finer than the editor's 32 pixels
  box = (70, -10, 60)
  face = photos.crop_face(photo, box, size=32)
  # No change: the photo, exactly (its fine detail included).
  np.testing.assert_array_equal(
      photos.paste_change(photo, face, face, box, 0.2), photo)
  # A uniform brightening by 20: +20 in the middle, detail kept, nothing
  # outside the box touched.
  assert face.max() < 235  # so +20 is never clipped
  changed = photos.paste_change(photo, face, face + 20, box, 0.2).astype(int)
  middle = (slice(10, 30), slice(90, 110))
  np.testing.assert_array_equal(changed[middle],
                                photo[middle].astype(int) + 20)
  np.testing.assert_array_equal(changed[60:], photo[60:].astype(int))


def test_strip_and_writers(tmp_path):
  left, right = _gradient(20, 30), np.zeros((20, 10, 3), np.uint8)
  assert photos.strip([left, right]).shape == (20, 40, 3)
  png = photos.write_image(photos.strip([left, right]), tmp_path / 'a.png')
  np.testing.assert_array_equal(np.asarray(Image.open(png))[:, :30], left)
  gif = photos.write_gif([left, left[::-1], left], tmp_path / 'a.gif')
  with Image.open(gif) as image:
    assert image.n_frames == 3 and image.size == (30, 20)
  assert sorted(os.listdir(tmp_path)) == ['a.gif', 'a.png']
  with pytest.raises(photos.PhotoError, match='at most 65535 pixels'):
    photos.check_output(tmp_path / 'b.jpg', 100, 70000)
  photos.check_output(tmp_path / 'b.png', 100, 70000)


def test_a_failed_write_leaves_no_file(tmp_path, monkeypatch):
  def broken_save(*args, **kwargs):
    raise OSError('disk full')
  monkeypatch.setattr(Image.Image, 'save', broken_save)
  with pytest.raises(OSError, match='disk full'):
    photos.write_image(_gradient(8, 8), tmp_path / 'a.png')
  assert os.listdir(tmp_path) == []


# ---------------------------------------------------------------- reading


def test_grayscale_rgba_palette_16_bit_and_exif_become_8_bit_rgb(tmp_path):
  gray = tmp_path / 'gray.png'
  Image.fromarray(np.full((6, 8), 77, np.uint8)).save(gray)
  np.testing.assert_array_equal(photos.read_photo(gray),
                                np.full((6, 8, 3), 77))

  deep = tmp_path / 'deep.png'
  values = np.array([[0, 25700, 65535]], np.uint16)
  Image.fromarray(values).save(deep)
  assert Image.open(deep).mode.startswith('I')  # a 16-bit grayscale PNG
  np.testing.assert_array_equal(photos.read_photo(deep)[0, :, 0],
                                [0, 100, 255])

  rgba = np.zeros((1, 3, 4), np.uint8)
  rgba[0] = [[255, 0, 0, 0], [0, 0, 255, 255], [0, 0, 0, 128]]
  Image.fromarray(rgba).save(tmp_path / 'rgba.png')
  np.testing.assert_array_equal(  # composited over white
      photos.read_photo(tmp_path / 'rgba.png')[0],
      [[255, 255, 255], [0, 0, 255], [127, 127, 127]])

  palette = Image.fromarray(np.array([[0, 1]], np.uint8), mode='P')
  palette.putpalette([10, 20, 30, 200, 100, 0] + [0] * 762)
  palette.save(tmp_path / 'palette.png')
  np.testing.assert_array_equal(photos.read_photo(tmp_path / 'palette.png'),
                                [[[10, 20, 30], [200, 100, 0]]])
  palette.save(tmp_path / 'clear.png', transparency=0)
  np.testing.assert_array_equal(photos.read_photo(tmp_path / 'clear.png'),
                                [[[255, 255, 255], [200, 100, 0]]])

  # EXIF orientation 6: stored landscape, shown rotated to portrait.
  exif = Image.Exif()
  exif[0x0112] = 6
  Image.fromarray(_gradient(20, 40)).save(tmp_path / 'turned.jpg', exif=exif)
  assert photos.read_photo(tmp_path / 'turned.jpg').shape == (40, 20, 3)


def test_unreadable_and_huge_files_are_refused_with_a_reason(tmp_path):
  Image.fromarray(_gradient(64, 64)).save(tmp_path / 'whole.png')
  data = (tmp_path / 'whole.png').read_bytes()
  (tmp_path / 'cut.png').write_bytes(data[:len(data) // 2])
  (tmp_path / 'notes.png').write_text('not a picture')
  cases = {
      tmp_path / 'absent.png': 'does not exist',
      tmp_path: 'is not a file',
      tmp_path / 'notes.png': 'not an image',
      tmp_path / 'cut.png': 'corrupt or truncated',
  }
  for path, problem in cases.items():
    with pytest.raises(photos.PhotoError, match=problem):
      photos.read_photo(path)
  # The limit is checked on the header, before decoding: 400 megapixels
  # (more than PIL's own bomb limit) and 41 (less) are both refused by ours.
  for side, megapixels in ((20000, '400.0'), (6400, '41.0')):
    (tmp_path / 'huge.png').write_bytes(_png_header(side, side))
    with pytest.raises(photos.PhotoError,
                       match=f'{megapixels} megapixels.*limit of 40'):
      photos.read_photo(tmp_path / 'huge.png')
  with pytest.raises(photos.PhotoError, match='too large.*--max_megapixels'):
    photos.read_photo(tmp_path / 'whole.png', max_pixels=64 * 63)
  assert photos.read_photo(tmp_path / 'whole.png',
                           max_pixels=64 * 64).shape == (64, 64, 3)


# ------------------------------------------------------------ the command


def test_bad_input_is_refused_before_loading_and_writes_nothing(
    cli, astronaut_png, tmp_path):
  # An empty workdir: each check must fire before the editor is loaded, or
  # the error would be EditorNotFoundError instead.
  out_dir = tmp_path / 'out'
  out_dir.mkdir()
  blank = tmp_path / 'blank.png'
  Image.fromarray(_gradient(200, 200)).save(blank)
  coffee = tmp_path / 'coffee.png'
  Image.fromarray(skimage.data.coffee()).save(coffee)
  (tmp_path / 'notes.txt').write_text('hello')
  good = dict(workdir=tmp_path / 'empty', input_path=astronaut_png,
              reference_path=astronaut_png, alphas='0,1',
              out=out_dir / 'edit.png')
  cases = [
      (dict(alphas='nan'), "'nan' is not a finite number"),
      (dict(alphas='0,inf'), "'inf' is not a finite number"),
      (dict(alphas='abc'), "'abc' is not a finite number"),
      (dict(alphas='0,,1'), "'' is not a finite number"),
      (dict(alphas=''), '--alpha is empty'),
      (dict(alphas=[]), 'no alpha given'),
      (dict(input_path=tmp_path / 'absent.jpg'), 'absent.jpg does not exist'),
      (dict(reference_path=tmp_path / 'notes.txt'), 'not an image'),
      (dict(input_path=blank), 'no face found in .*blank.png.*--aligned'),
      (dict(input_path=coffee), 'no face found in .*coffee.png'),
      # Her face, and the mission patch on her suit as a doubtful one.
      (dict(face_index=2), r'--face_index=2, but .* has 2 face\(s\)'),
      (dict(reference_face_index=4), '--reference_face_index=4'),
      (dict(max_pixels=1000), 'too large'),
      (dict(out=out_dir / 'edit.bmp'), 'must end in .png, .jpg or .jpeg'),
      (dict(out=out_dir / 'edit.gif'), 'pass --gif'),
      (dict(out=out_dir / 'edit.png', gif=True), '--out must end in .gif'),
      (dict(out=out_dir / 'missing' / 'edit.png'), 'does not exist; create'),
      (dict(out=out_dir), 'is a directory'),
      (dict(feather=0.7), '--feather'),
      (dict(expression='happy'), 'not both or neither'),
      (dict(reference_path=None), 'not both or neither'),
      (dict(intensities='0.5'), '--intensity goes with --expression'),
      (dict(reference_path=None, expression='happy', intensities='0,2'),
       r'must lie in \[0, 1\]'),
      (dict(reference_path=None, expression='happy', intensities='x'),
       "--intensity: 'x' is not a finite number"),
      ({}, 'holds no trained editor'),
  ]
  for change, problem in cases:
    with pytest.raises((cli.FlagError, photos.PhotoError,
                        api.EditorNotFoundError), match=problem):
      cli.edit_photo(**{**good, **change})
    assert os.listdir(out_dir) == [], change


@pytest.mark.xdist_group('smoke_job')
def test_edits_a_photo_into_a_strip_a_gif_and_an_aligned_crop(
    cli, smoke_job, astronaut_png, tmp_path, monkeypatch):
  workdir = smoke_job[0]
  astronaut = skimage.data.astronaut()
  path = cli.edit_photo(workdir, astronaut_png, astronaut_png, '0,1',
                        tmp_path / 'strip.png')
  strip = np.asarray(Image.open(path))
  assert strip.shape == (512, 3 * 512, 3)
  np.testing.assert_array_equal(strip[:, :512], astronaut)  # the input first
  face = photos.detect_faces(astronaut)[0]
  left, top, side = photos.square_crop_box(face.box, 0.25)
  # The crop is turned by her eye line's angle (about 3 degrees): it reaches
  # this much past the square.
  radians = np.radians(face.eye_angle)
  reach = int(np.ceil(side / 2 * (np.abs(np.cos(radians)) +
                                   np.abs(np.sin(radians)) - 1))) + 2
  for panel in (strip[:, 512:1024], strip[:, 1024:]):
    # Only the crop box changed; its middle did.
    outside = np.ones((512, 512), bool)
    outside[top - reach:top + side + reach,
            left - reach:left + side + reach] = False
    np.testing.assert_array_equal(panel[outside], astronaut[outside])
    assert np.abs(panel[113, 224].astype(int) - astronaut[113, 224]).max() > 0

  gif = cli.edit_photo(workdir, astronaut_png, astronaut_png, [0, 0.5, 1.5],
                       tmp_path / 'anim.gif', gif=True)
  with Image.open(gif) as image:
    assert image.n_frames == 3 and image.size == (512, 512)

  # --aligned needs no face detector; a non-square crop keeps its size.
  monkeypatch.setattr(photos.dlib_faces, 'detect_faces', None)
  crop = tmp_path / 'crop.jpg'
  Image.fromarray(astronaut[40:200, 150:300]).save(crop)
  one = cli.edit_photo(workdir, crop, crop, '1', tmp_path / 'one.jpg',
                       aligned=True)
  assert Image.open(one).size == (150, 160)
  assert sorted(os.listdir(tmp_path)) == ['anim.gif', 'crop.jpg', 'one.jpg',
                                          'strip.png']
  # LEED has no classes to edit to.
  with pytest.raises(cli.FlagError, match='needs an ExprGAN editor'):
    cli.edit_photo(workdir, crop, None, '1', tmp_path / 'no.png',
                   expression='happy', aligned=True)
  assert not (tmp_path / 'no.png').exists()


def _run_edit(*args):
  return subprocess.run(
      [sys.executable, '-m', 'leedjax.edit', *args], cwd=REPO,
      env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True,
      text=True, timeout=300, check=False)


@pytest.mark.xdist_group('smoke_job')
def test_command_writes_a_strip_and_exits_2_on_bad_input(
    smoke_job, astronaut_png, tmp_path):
  out = tmp_path / 'strip.png'
  result = _run_edit(f'--workdir={smoke_job[0]}', f'--input={astronaut_png}',
                     f'--reference={astronaut_png}', '--alpha=0,1',
                     f'--out={out}')
  assert result.returncode == 0, result.stderr[-3000:]
  assert f'Wrote {out}' in result.stdout
  assert Image.open(out).size == (3 * 512, 512)

  bad = tmp_path / 'bad'
  bad.mkdir()
  (bad / 'face.jpg').write_bytes(b'\xff\xd8\xff\xe0 truncated')
  Image.fromarray(skimage.data.coffee()).save(bad / 'coffee.png')
  cases = ((f'--input={bad / "face.jpg"}', 'corrupt or truncated'),
           (f'--reference={bad / "coffee.png"}', 'no face found'),
           ('--face-index=-1', 'non-negative'))  # the dashed alias
  for flag, problem in cases:
    result = _run_edit(f'--workdir={smoke_job[0]}', f'--input={astronaut_png}',
                       f'--reference={astronaut_png}', f'--out={bad}/x.png',
                       flag)
    assert result.returncode == 2, result.stderr[-3000:]
    assert problem in result.stderr and 'Traceback' not in result.stderr
    assert result.stderr.startswith('Cannot edit:')
  assert sorted(os.listdir(bad)) == ['coffee.png', 'face.jpg']

"""Photographs in and out of the editor: read, find faces, crop, paste, write.

Numpy and PIL helpers for `python -m leedjax.edit`; no flags, no JAX.

  photo = read_photo('me.jpg')                       # (H, W, 3) uint8 RGB
  found = detect_faces(photo)[0]                     # box, eyes
  box, angle = square_crop_box(found.box, margin=0.25), found.eye_angle
  face = crop_face(photo, box, size=32, angle=angle)  # what the editor sees
  edited_photo = paste_change(photo, face, edited_face, box, feather=0.15,
                              angle=angle)
  write_image(strip([photo, edited_photo]), 'out.png')

A square crop box is (left, top, side) in pixels and may reach past the
photo's borders: `crop_face` fills the outside by repeating the edge pixels,
so the face stays centred as in the training images, and `paste_face` writes
only the part inside the photo. With an `angle` (the face's eye-line slope,
`Face.eye_angle`), the square is turned about its centre by that many
degrees clockwise on the screen, as the face is: `crop_face` turns it
upright, so the eyes are level, and the pastes turn the edit back.
"""

import contextlib
import math
import pathlib

import numpy as np
from PIL import Image
from PIL import ImageOps

from leedjax import dlib_faces
from leedjax import files
from leedjax.weights import assets

# Larger photos are refused before decoding (a 40-megapixel RGB photo is
# 120 MB, and a strip holds one per alpha); `read_photo(max_pixels=...)`.
MAX_PIXELS = 40_000_000
# RGBA, LA and transparent palette images are composited over this colour.
BACKGROUND = (255, 255, 255)
# Detection runs on a copy at most this many pixels on its longer side (its
# cost grows with the pixel count; faces need not be found in finer detail
# than this), and finds faces of 40 of them or more.
DETECT_SIDE = 1024
STILL_FORMATS = {'.png': 'PNG', '.jpg': 'JPEG', '.jpeg': 'JPEG'}
# JPEG and GIF store sides in 16 bits.
MAX_SIDE = {'.jpg': 65535, '.jpeg': 65535, '.gif': 65535}

Box = tuple[int, int, int]  # (left, top, side) of a square crop, in pixels


class PhotoError(ValueError):
  """A photo that cannot be used; the message says why and what to do."""


class DetectorUnavailableError(ImportError):
  """dlib or its landmark model is not installed, or the model is damaged."""


@contextlib.contextmanager
def _own_pixel_limit():
  """Turns off PIL's decompression-bomb check; `read_photo` makes its own."""
  # PIL's check (a warning above Image.MAX_IMAGE_PIXELS, an error above
  # twice that) reads a module global; editing photos is single-threaded.
  saved = Image.MAX_IMAGE_PIXELS
  Image.MAX_IMAGE_PIXELS = None
  try:
    yield
  finally:
    Image.MAX_IMAGE_PIXELS = saved


def read_photo(path, max_pixels: int = MAX_PIXELS) -> np.ndarray:
  """A photo file as upright 8-bit RGB.

  EXIF orientation is applied. Grayscale, palette, CMYK and 16-bit images
  become 8-bit RGB (16-bit values are divided by 257); transparent ones are
  composited over white (`BACKGROUND`). Animated files give their first frame.

  Args:
    path: an image file PIL can read (PNG, JPEG, GIF, BMP, TIFF, WebP, ...).
    max_pixels: larger images are refused before they are decoded (this
      replaces PIL's decompression-bomb check and its limit).

  Returns:
    (H, W, 3) uint8.

  Raises:
    PhotoError: the file is missing, not an image, corrupt, too large, or
      floating point.
  """
  path = pathlib.Path(path)
  if not path.exists():
    raise PhotoError(f'{path} does not exist; check the path.')
  if not path.is_file():
    raise PhotoError(f'{path} is not a file; give the path of an image file.')
  try:
    with _own_pixel_limit(), Image.open(path) as image:
      # Open reads only the header: refuse before decoding.
      width, height = image.size
      if width * height > max_pixels:
        raise PhotoError(
            f'{path} is too large: {width}x{height} pixels is '
            f'{width * height / 1e6:.1f} megapixels, more than the limit of '
            f'{max_pixels / 1e6:g}. Downscale it, or raise the limit '
            '(--max_megapixels).')
      image.load()
      image = ImageOps.exif_transpose(image)
  except PhotoError:
    raise
  except Image.UnidentifiedImageError as error:
    raise PhotoError(f'{path} is not an image PIL can read; give a PNG, JPEG '
                     'or other common image file.') from error
  except Exception as error:  # pylint: disable=broad-except
    # PIL's decoders raise OSError, SyntaxError, ValueError, struct.error...
    raise PhotoError(f'{path} is corrupt or truncated ({error}); re-export '
                     'or re-download it.') from error
  return _to_rgb8(image, path)


def _to_rgb8(image: Image.Image, path) -> np.ndarray:
  if image.mode == 'P':
    image = image.convert('RGBA' if 'transparency' in image.info else 'RGB')
  if image.mode in ('RGBA', 'RGBa', 'LA', 'La', 'PA'):
    background = Image.new('RGBA', image.size, BACKGROUND + (255,))
    image = Image.alpha_composite(background, image.convert('RGBA'))
  if image.mode == 'F':
    raise PhotoError(f'{path} holds floating-point pixels, whose range is '
                     'unknown; convert it to 8- or 16-bit first.')
  if image.mode.startswith('I'):  # I;16, I;16B, I: 16-bit grayscale
    values = np.asarray(image).astype(np.float64)
    gray = np.clip(np.rint(values / 257.0), 0, 255).astype(np.uint8)
    return np.repeat(gray[..., None], 3, axis=-1)
  return np.asarray(image.convert('RGB'), np.uint8).copy()


def detect_faces(image: np.ndarray) -> list[dlib_faces.Face]:
  """Faces in a photo: sure ones largest first, then doubtful ones.

  Args:
    image: (H, W, 3) uint8 RGB.

  Returns:
    Faces (boxes and eye centres) in the photo's pixels; empty if none. See
    `dlib_faces.detect_faces`.

  Raises:
    DetectorUnavailableError: dlib or its landmark model is not installed,
      or the model is not the pinned file; the message says what to install.
  """
  height, width = image.shape[:2]
  scale = min(1.0, DETECT_SIDE / max(height, width))
  small = image if scale == 1.0 else resize(
      image, (max(1, round(width * scale)), max(1, round(height * scale))))
  try:
    found = dlib_faces.detect_faces(small)
  except (ImportError, assets.MissingWeightsError,
          assets.CorruptWeightsError) as error:
    raise DetectorUnavailableError(str(error)) from error
  return [face.scaled(1.0 / scale) for face in found]


def square_crop_box(box, margin: float) -> Box:
  """The square around a face box, `margin` times its size wider each side.

  Args:
    box: (x, y, width, height) of a face.
    margin: added on each side, as a fraction of the box's longer side.

  Returns:
    (left, top, side), centred on the box; it may reach past the photo.
  """
  x, y, width, height = box
  side = max(1, round(max(width, height) * (1 + 2 * margin)))
  return (round(x + width / 2 - side / 2), round(y + height / 2 - side / 2),
          side)


def center_square_box(image_shape) -> Box:
  """The largest centred square: the face of an already-cropped photo."""
  height, width = image_shape[:2]
  side = min(height, width)
  return (width - side) // 2, (height - side) // 2, side


def _overlap(box: Box, image_shape) -> tuple[slice, slice, slice, slice]:
  """(photo rows, photo cols, box rows, box cols) where box and photo meet."""
  left, top, side = box
  height, width = image_shape[:2]
  rows = slice(max(top, 0), min(top + side, height))
  cols = slice(max(left, 0), min(left + side, width))
  if rows.start >= rows.stop or cols.start >= cols.stop:
    raise ValueError(f'crop box {box} lies outside the {width}x{height} photo')
  return (rows, cols, slice(rows.start - top, rows.stop - top),
          slice(cols.start - left, cols.stop - left))


def resize(image: np.ndarray, size) -> np.ndarray:
  """uint8 (H, W, 3) resized to (width, height) `size` (Lanczos)."""
  return np.asarray(Image.fromarray(image).resize(
      tuple(size), Image.Resampling.LANCZOS))


def _padded_crop(photo: np.ndarray, box: Box) -> np.ndarray:
  """The (side, side, 3) pixels of `box`, edge pixels repeated past borders."""
  rows, cols, box_rows, box_cols = _overlap(box, photo.shape)
  side = box[2]
  return np.pad(photo[rows, cols], ((box_rows.start, side - box_rows.stop),
                                    (box_cols.start, side - box_cols.stop),
                                    (0, 0)), mode='edge')


def _turn_margin(side: int, angle: float) -> int:
  """Pixels around a square that hold all of it turned by `angle` degrees."""
  radians = math.radians(angle)
  reach = side / 2 * (abs(math.cos(radians)) + abs(math.sin(radians)))
  return math.ceil(reach - side / 2) + 2  # + the interpolation's reach


def crop_face(photo: np.ndarray, box: Box, size: int,
              angle: float = 0.0) -> np.ndarray:
  """The (size, size, 3) face in `box`, turned upright by `angle`.

  Args:
    photo: (H, W, 3) uint8.
    box: (left, top, side), which may reach past the photo; edge pixels are
      repeated there.
    size: the output's side.
    angle: degrees the face in the box is turned clockwise on the screen
      (its eye line's slope, `Face.eye_angle`); the crop is turned back.

  Returns:
    (size, size, 3) uint8.
  """
  if not angle:
    return resize(_padded_crop(photo, box), (size, size))
  left, top, side = box
  margin = _turn_margin(side, angle)
  around = _padded_crop(photo, (left - margin, top - margin,
                                side + 2 * margin))
  # PIL turns counter-clockwise on the screen, about the centre: the box's.
  upright = np.asarray(Image.fromarray(around).rotate(
      angle, resample=Image.Resampling.BICUBIC))
  return resize(upright[margin:margin + side, margin:margin + side],
                (size, size))


def feather_mask(side: int, feather: float) -> np.ndarray:
  """(side, side) weights of a pasted face: 1 inside, 0 on the border.

  Args:
    side: the mask's size in pixels.
    feather: the fraction of `side`, from each edge, over which the weight
      rises from 0 to 1 (smoothstep, so it meets both ends with slope 0).
      0 gives all ones (a hard paste).

  Returns:
    float64 weights in [0, 1], non-increasing from the centre outwards.
  """
  if not 0.0 <= feather <= 0.5:
    raise ValueError(f'feather must lie in [0, 0.5], got {feather}')
  if feather == 0.0:
    return np.ones((side, side))
  index = np.arange(side)
  to_edge = np.minimum(index, side - 1 - index)  # 0 on the border pixels
  ramp = np.clip(to_edge / max(feather * side, 1.0), 0.0, 1.0)
  ramp = ramp * ramp * (3.0 - 2.0 * ramp)
  return np.outer(ramp, ramp)


def _turn_back(layer: np.ndarray, box: Box,
               angle: float) -> tuple[np.ndarray, Box]:
  """A float (side, side, C) layer over `box`, turned back by `angle`.

  Returns:
    The layer turned about the box's centre, 0 where it does not reach,
    and the larger box it now covers (`layer` and `box` for angle 0).
  """
  if not angle:
    return layer, box
  left, top, side = box
  margin = _turn_margin(side, angle)
  padded = np.pad(layer.astype(np.float32),
                  ((margin, margin), (margin, margin), (0, 0)))
  turned = np.stack([np.asarray(Image.fromarray(channel).rotate(
      -angle, resample=Image.Resampling.BILINEAR))
                     for channel in np.moveaxis(padded, -1, 0)], axis=-1)
  return turned, (left - margin, top - margin, side + 2 * margin)


def paste_face(photo: np.ndarray, face: np.ndarray, box: Box,
               feather: float, angle: float = 0.0) -> np.ndarray:
  """`photo` with `face` resized into `box` and blended in by `feather_mask`.

  Pixels outside the box, and where the mask is 0, are left exactly as
  they were.

  Args:
    photo: (H, W, 3) uint8.
    face: (S, S, 3) uint8, e.g. an edited `crop_face`.
    box: the crop box the face came from.
    feather: see `feather_mask`.
    angle: the crop's angle (see `crop_face`); the face is turned back.

  Returns:
    A new (H, W, 3) uint8 photo.
  """
  side = box[2]
  mask = feather_mask(side, feather)[..., None]
  face = resize(face, (side, side)).astype(np.float64)
  layers, box = _turn_back(np.concatenate([mask, face * mask], axis=-1),
                           box, angle)
  rows, cols, box_rows, box_cols = _overlap(box, photo.shape)
  mask, weighted_face = np.split(layers[box_rows, box_cols], [1], axis=-1)
  region = photo[rows, cols].astype(np.float64)
  out = photo.copy()
  out[rows, cols] = np.rint(region * (1.0 - mask) + weighted_face).astype(
      np.uint8)
  return out


def _resize_float(image: np.ndarray, side: int) -> np.ndarray:
  """float (S, S, C) resized to (side, side, C), bicubic, sign kept."""
  return np.stack([np.asarray(Image.fromarray(
      channel.astype(np.float32), mode='F').resize(
          (side, side), Image.Resampling.BICUBIC))
                   for channel in np.moveaxis(image, -1, 0)], axis=-1)


def paste_change(photo: np.ndarray, before: np.ndarray, after: np.ndarray,
                 box: Box, feather: float, angle: float = 0.0) -> np.ndarray:
  """`photo` with the edit's change, `after - before`, added inside `box`.

  The editor sees the face at its own small size; pasting its output would
  replace the photo's face with a blurred one. Adding only the change,
  resized to the box, keeps every detail finer than the editor's size
  (skin, hair, sharp edges) as the photo has it, and changes what the edit
  changed. Blended by `feather_mask` as in `paste_face`.

  Args:
    photo: (H, W, 3) uint8.
    before: (S, S, 3) uint8, the `crop_face` the editor was given.
    after: (S, S, 3) uint8, its edit.
    box: the crop box.
    feather: see `feather_mask`.
    angle: the crop's angle (see `crop_face`); the change is turned back.

  Returns:
    A new (H, W, 3) uint8 photo; exactly `photo` where the edit changed
    nothing or the mask is 0.
  """
  side = box[2]
  change = _resize_float(after.astype(np.float32) - before.astype(np.float32),
                         side) * feather_mask(side, feather)[..., None]
  change, box = _turn_back(change, box, angle)
  rows, cols, box_rows, box_cols = _overlap(box, photo.shape)
  region = photo[rows, cols].astype(np.float64)
  out = photo.copy()
  out[rows, cols] = np.clip(np.rint(region + change[box_rows, box_cols]), 0,
                            255).astype(np.uint8)
  return out


def strip(images) -> np.ndarray:
  """Images of one height side by side, left to right."""
  return np.concatenate(list(images), axis=1)


def check_output(path, height: int, width: int) -> None:
  """Raises PhotoError if `path`'s format cannot hold a height x width image."""
  suffix = pathlib.Path(path).suffix.lower()
  limit = MAX_SIDE.get(suffix)
  if limit is not None and max(height, width) > limit:
    raise PhotoError(
        f'the output would be {width}x{height} pixels, but {suffix} images '
        f'are at most {limit} pixels a side; write a .png, or use fewer '
        'alphas or a smaller photo.')


def write_image(image: np.ndarray, path) -> pathlib.Path:
  """Writes a uint8 RGB image as PNG or JPEG (by suffix), atomically."""
  path = pathlib.Path(path)
  image_format = STILL_FORMATS[path.suffix.lower()]
  options = {'quality': 95} if image_format == 'JPEG' else {}
  with files.atomic_path(path) as tmp:
    Image.fromarray(image).save(tmp, format=image_format, **options)
  return path


def write_gif(frames, path, frame_ms: int = 400) -> pathlib.Path:
  """Writes uint8 RGB frames as a looping animated GIF, atomically."""
  path = pathlib.Path(path)
  first, *rest = [Image.fromarray(frame) for frame in frames]
  with files.atomic_path(path) as tmp:
    first.save(tmp, format='GIF', save_all=True, append_images=rest,
               duration=frame_ms, loop=0)
  return path

"""Photographs in and out of the editor: read, find faces, crop, paste, write.

Numpy and PIL helpers for `python -m leedjax.edit`; no flags, no JAX.

  photo = read_photo('me.jpg')                       # (H, W, 3) uint8 RGB
  box = square_crop_box(detect_faces(photo)[0], margin=0.25)
  face = crop_face(photo, box, size=32)              # what the editor sees
  edited_photo = paste_change(photo, face, edited_face, box, feather=0.15)
  write_image(strip([photo, edited_photo]), 'out.png')

A square crop box is (left, top, side) in pixels and may reach past the
photo's borders: `crop_face` fills the outside by repeating the edge pixels,
so the face stays centred as in the training images, and `paste_face` writes
only the part inside the photo.
"""

import contextlib
import pathlib

import numpy as np
from PIL import Image
from PIL import ImageOps

from leedjax import faces
from leedjax import files

# Larger photos are refused before decoding (a 40-megapixel RGB photo is
# 120 MB, and a strip holds one per alpha); `read_photo(max_pixels=...)`.
MAX_PIXELS = 40_000_000
# RGBA, LA and transparent palette images are composited over this colour.
BACKGROUND = (255, 255, 255)
# Detection runs on a copy at most this many pixels on its longer side (the
# cascade's cost grows with the pixel count; faces need not be found in
# finer detail than this), and finds faces of at least MIN_FACE of them.
DETECT_SIDE = 1024
MIN_FACE = 24
STILL_FORMATS = {'.png': 'PNG', '.jpg': 'JPEG', '.jpeg': 'JPEG'}
# JPEG and GIF store sides in 16 bits.
MAX_SIDE = {'.jpg': 65535, '.jpeg': 65535, '.gif': 65535}

Box = tuple[int, int, int]  # (left, top, side) of a square crop, in pixels


class PhotoError(ValueError):
  """A photo that cannot be used; the message says why and what to do."""


class MissingOpenCVError(ImportError):
  """Face detection needs OpenCV, which is not installed."""


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


def detect_faces(image: np.ndarray) -> list[tuple[int, int, int, int]]:
  """Frontal faces in a photo, largest first.

  Args:
    image: (H, W, 3) uint8 RGB.

  Returns:
    (x, y, width, height) boxes in the photo's pixels; empty if none.

  Raises:
    MissingOpenCVError: OpenCV is not installed.
  """
  height, width = image.shape[:2]
  scale = min(1.0, DETECT_SIDE / max(height, width))
  small = image if scale == 1.0 else resize(
      image, (round(width * scale), round(height * scale)))
  try:
    boxes = faces.detect_faces(small, min_size=MIN_FACE)
  except ImportError as error:
    raise MissingOpenCVError(
        f'{error}. From a checkout: pip install -e \'.[assets]\'') from error
  return [tuple(round(int(v) / scale) for v in box) for box in boxes]


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


def crop_face(photo: np.ndarray, box: Box, size: int) -> np.ndarray:
  """The (size, size, 3) face in `box`, edge pixels repeated past borders."""
  rows, cols, box_rows, box_cols = _overlap(box, photo.shape)
  side = box[2]
  inside = photo[rows, cols]
  padded = np.pad(inside, ((box_rows.start, side - box_rows.stop),
                           (box_cols.start, side - box_cols.stop), (0, 0)),
                  mode='edge')
  return resize(padded, (size, size))


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


def paste_face(photo: np.ndarray, face: np.ndarray, box: Box,
               feather: float) -> np.ndarray:
  """`photo` with `face` resized into `box` and blended in by `feather_mask`.

  Pixels outside the box, and where the mask is 0, are left exactly as
  they were.

  Args:
    photo: (H, W, 3) uint8.
    face: (S, S, 3) uint8, e.g. an edited `crop_face`.
    box: the crop box the face came from.
    feather: see `feather_mask`.

  Returns:
    A new (H, W, 3) uint8 photo.
  """
  rows, cols, box_rows, box_cols = _overlap(box, photo.shape)
  side = box[2]
  mask = feather_mask(side, feather)[box_rows, box_cols, None]
  face = resize(face, (side, side))[box_rows, box_cols].astype(np.float64)
  region = photo[rows, cols].astype(np.float64)
  out = photo.copy()
  out[rows, cols] = np.rint(region * (1.0 - mask) + face * mask).astype(
      np.uint8)
  return out


def _resize_float(image: np.ndarray, side: int) -> np.ndarray:
  """float (S, S, C) resized to (side, side, C), bicubic, sign kept."""
  return np.stack([np.asarray(Image.fromarray(
      channel.astype(np.float32), mode='F').resize(
          (side, side), Image.Resampling.BICUBIC))
                   for channel in np.moveaxis(image, -1, 0)], axis=-1)


def paste_change(photo: np.ndarray, before: np.ndarray, after: np.ndarray,
                 box: Box, feather: float) -> np.ndarray:
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

  Returns:
    A new (H, W, 3) uint8 photo; exactly `photo` where the edit changed
    nothing or the mask is 0.
  """
  rows, cols, box_rows, box_cols = _overlap(box, photo.shape)
  side = box[2]
  mask = feather_mask(side, feather)[box_rows, box_cols, None]
  change = _resize_float(after.astype(np.float32) - before.astype(np.float32),
                         side)[box_rows, box_cols]
  region = photo[rows, cols].astype(np.float64)
  out = photo.copy()
  out[rows, cols] = np.clip(np.rint(region + change * mask), 0, 255).astype(
      np.uint8)
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

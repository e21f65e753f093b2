"""Where things are in a SynthFaces image, in head units (see render.py)."""

import math

# Framing, in image units ([-1, 1] across the image).
HEAD_CENTRE_Y = -0.02
HEAD_HALF_HEIGHT = 0.86
# Front-to-back half-depth of the head; wider than its half-width, as in people.
HEAD_DEPTH = 0.85
EYE_HEIGHT = 0.0
MOUTH_HEIGHT = 0.52

# Bounds of every facial feature (ears, eyes, brows, nose, mouth, creases,
# moustache, glasses) at any pose and any expression up to the controls'
# maximum; tests check that nothing is drawn outside them.
FEATURE_X = (-1.2, 1.2)
FEATURE_Y = (-0.8, 1.0)

# Rows (head units) that each pass of facial features may touch, at any pose
# and expression; each pass paints only its band (a further 1.5x speed-up).
# Tests check that painting the whole window instead changes no pixel.
FEATURE_BANDS = {
    'ears': (-0.12, 0.28),
    'upper_creases': (-0.74, 0.08),   # forehead, frown and nose wrinkles
    'lower_creases': (0.15, 0.96),    # smile lines and blush
    'eyes': (-0.26, 0.2),
    'brows': (-0.8, -0.04),
    'nose': (-0.26, 0.46),
    'mouth': (0.18, 1.0),             # lips, teeth and their profile
    'moustache': (0.32, 0.52),
    'glasses': (-0.2, 0.22),
}

# Per-pixel layer ids returned by `render(..., with_labels=True)`.
LABELS = {
    'background': 0, 'clothing': 1, 'neck': 2, 'hair': 3, 'skin': 4, 'ear': 5,
    'eye_image_left': 6, 'eye_image_right': 7, 'brow': 8, 'nose': 9,
    'mouth': 10, 'moustache': 11, 'glasses': 12,
}
FEATURE_LABELS = ('ear', 'eye_image_left', 'eye_image_right', 'brow', 'nose',
                  'mouth', 'moustache', 'glasses')


def _pixel_range(low: float, high: float, size: int) -> slice:
  """Pixels whose centres lie within [low, high] (image units), plus two on
  each side for antialiasing (a blur of up to one pixel, see render.py)."""
  first = math.floor((low + 1.0) / 2.0 * size) - 2
  last = math.ceil((high + 1.0) / 2.0 * size) + 2
  return slice(max(first, 0), min(last, size))


def rows_between(low: float, high: float, size: int) -> slice:
  """Image rows whose pixels may lie between heights low and high (head units)."""
  return _pixel_range(low * HEAD_HALF_HEIGHT + HEAD_CENTRE_Y,
                      high * HEAD_HALF_HEIGHT + HEAD_CENTRE_Y, size)


def feature_window(size: int) -> tuple[slice, slice]:
  """(rows, cols) of the image holding every facial feature."""
  cols = _pixel_range(FEATURE_X[0] * HEAD_HALF_HEIGHT,
                      FEATURE_X[1] * HEAD_HALF_HEIGHT, size)
  return rows_between(*FEATURE_Y, size), cols


def band_in_window(band: str, size: int) -> slice:
  """Rows of a feature band, relative to the feature window's first row."""
  window = rows_between(*FEATURE_Y, size)
  rows = rows_between(*FEATURE_BANDS[band], size)
  start = min(max(rows.start, window.start), window.stop)
  stop = max(min(rows.stop, window.stop), start)
  return slice(start - window.start, stop - window.start)

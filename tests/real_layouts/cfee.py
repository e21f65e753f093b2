"""CFEE's layouts: portrait photographs of one frontal face each, in a
folder per category (`layout='folders'`) or named `{subject}_{category}`
(`layout='pattern'`).

SynthFaces draws only the 8 basic expressions, so each compound category
is drawn as one of its basic ones (`DRAWN_AS`); to tell the categories
apart in the built records, every face carries its category's number as a
5-bit bar code along its bottom edge (`mark`, read back by `read_mark`).
"""

import pathlib

import numpy as np

from leedjax.data.real import cfee as cfee_builder
import real_layouts

CATEGORIES = cfee_builder.EXPRESSIONS
# The basic expression each category is drawn with.
DRAWN_AS = {
    **{name: name for name in CATEGORIES[:7]},
    **{name: cfee_builder.ADVERBS[name.split('_')[0]]
       for name in CATEGORIES[7:19]},
    'appalled': 'disgusted', 'hatred': 'angry', 'awed': 'surprised'}
BASIC = tuple(sorted(set(DRAWN_AS.values()), key=CATEGORIES.index))
# A portrait photograph whose centred square is the face: crop='center'
# gives the render back.
WIDTH, HEIGHT = 240, 320
# Off-centre, smaller faces for crop='detect' (the centred square then
# misses them): (width, height, centre, side).
DETECT_CANVAS = (300, 400, (170, 170), 160)
# The bar code: this many bits, in the bottom MARK_ROWS / RENDER_SIZE of
# the face.
MARK_BITS = 5
MARK_ROWS = 16


def renders(num_subjects: int, seed: int = 0) -> dict:
  """{(subject, basic expression): face} for `write`."""
  drawn = real_layouts.faces(num_subjects, BASIC, seed=seed)
  return {(subject, name): face
          for (subject, name, _), face in drawn.items()}


def mark(face: np.ndarray, category: str) -> np.ndarray:
  """`face` with the category's index as black/white blocks at its
  bottom, most significant bit first."""
  marked = face.copy()
  size = face.shape[0]
  index = CATEGORIES.index(category)
  rows = slice(size - size * MARK_ROWS // real_layouts.RENDER_SIZE, size)
  for bit in range(MARK_BITS):
    on = (index >> (MARK_BITS - 1 - bit)) & 1
    columns = slice(bit * size // MARK_BITS, (bit + 1) * size // MARK_BITS)
    marked[rows, columns] = 255 if on else 0
  return marked


def read_mark(image: np.ndarray) -> str | None:
  """The category whose bar code `image` (a face at any size) carries, or
  None if it carries none."""
  size = image.shape[0]
  # The middle of each block, away from its blurred edges.
  top = size - size * MARK_ROWS // real_layouts.RENDER_SIZE // 2 - 1
  grey = image.astype(np.float32).mean(-1)
  index = 0
  for bit in range(MARK_BITS):
    centre = (2 * bit + 1) * size // (2 * MARK_BITS)
    value = grey[top:top + 2, centre - 1:centre + 1].mean()
    if 64 < value < 192:
      return None
    index = 2 * index + int(value >= 192)
  return CATEGORIES[index] if index < len(CATEGORIES) else None


def folder_name(category: str) -> str:
  """Folders in the spellings real copies use, varied by category so that
  one fixture tries them all."""
  number = CATEGORIES.index(category) + 1
  camel = ''.join(word.capitalize() for word in category.split('_'))
  spellings = (camel, category, category.replace('_', ' ').title(),
               f'{number:02d}_{camel}', str(number))
  return spellings[number % len(spellings)]


def file_name(subject: int, category: str, kind: str) -> str:
  """Folders: `S{subject}.jpg`; pattern: `S{subject}/{subject}_{category}`
  with the category as a number or a name, by turns."""
  number = CATEGORIES.index(category) + 1
  if kind == 'folders':
    return f'S{subject + 1:03d}.jpg'
  named = number if number % 2 else category.replace('_', '')
  return f'S{subject + 1:03d}/{subject + 1:03d}_{named}.jpg'


def photo(face: np.ndarray, detect: bool) -> np.ndarray:
  if detect:
    width, height, centre, side = DETECT_CANVAS
    return real_layouts.photo(face, width=width, height=height,
                              centre=centre, side=side)
  return real_layouts.photo(face, width=WIDTH, height=HEIGHT,
                            centre=(WIDTH / 2, HEIGHT / 2), side=WIDTH)


def write(directory: pathlib.Path, drawn: dict, *, subjects=None,
          categories=CATEGORIES, kind: str = 'folders',
          detect: bool = False) -> dict:
  """Writes a CFEE fixture of the faces `drawn` (from `renders`).

  Args:
    directory: the copy's folder (made if missing).
    drawn: {(subject, basic expression): face}.
    subjects: subject numbers to write (default: all in `drawn`).
    categories: the categories to write (default: all 22).
    kind: 'folders' or 'pattern', CFEE's `layout` option.
    detect: faces off-centre (`DETECT_CANVAS`) for crop='detect', and
      without the bar code (which can hide a face from the detector).

  Returns:
    {path relative to `directory`: (subject, category, the face as pasted,
    bar code included)}.
  """
  if subjects is None:
    subjects = sorted({subject for subject, _ in drawn})
  written = {}
  for subject in subjects:
    for category in categories:
      face = drawn[subject, DRAWN_AS[category]]
      if not detect:
        face = mark(face, category)
      name = file_name(subject, category, kind)
      if kind == 'folders':
        name = f'{folder_name(category)}/{name}'
      real_layouts.write_jpeg(directory / name, photo(face, detect))
      written[name] = (subject, category, face)
  return written

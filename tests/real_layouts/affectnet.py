"""AffectNet's layout: `Manually_Annotated_file_lists/{training,validation}
.csv`, one row per photograph under `Manually_Annotated_Images/`, with the
face's box. Photographs are of varied sizes, the face anywhere in them, and
the box written so that the builder's default crop (the box widened by
`MARGIN` each side) is exactly the pasted square."""

import csv
import hashlib
import pathlib

import numpy as np

import real_layouts

# Written out here, not taken from the builder, so that a builder that
# misreads AffectNet fails its tests.
LISTS = 'Manually_Annotated_file_lists'
IMAGES = 'Manually_Annotated_Images'
COLUMNS = ('subDirectory_filePath', 'face_x', 'face_y', 'face_width',
           'face_height', 'facial_landmarks', 'expression', 'valence',
           'arousal')
SPLITS = {'training.csv': 'train', 'validation.csv': 'test'}
# config.data.crop_margin's default.
MARGIN = 0.25
# (width, height, face centre, face side) of the photographs, in turn.
SHAPES = (
    (300, 240, (110, 120), 150),
    (420, 360, (260, 150), 180),
    (260, 340, (130, 210), 120),
    (500, 300, (380, 160), 150),
)
# AffectNet's ids of the RaFD words (8-10: None, Uncertain, Non-Face).
IDS = {'neutral': 0, 'happy': 1, 'sad': 2, 'surprised': 3, 'fearful': 4,
       'disgusted': 5, 'angry': 6, 'contemptuous': 7}


def row(path: str, box, expression, landmarks: str = '') -> list[str]:
  """A CSV row in AffectNet's column order."""
  return [path, *map(str, box), landmarks or '10.0;20.0;30.0;40.0',
          str(expression), '0.25', '-0.5']


def write_csv(path: pathlib.Path, rows, header=COLUMNS) -> None:
  path.parent.mkdir(parents=True, exist_ok=True)
  with open(path, 'w', newline='') as stream:
    writer = csv.writer(stream)
    if header is not None:
      writer.writerow(header)
    writer.writerows(rows)


def image_name(number: int) -> str:
  """A `subDirectory_filePath` as AffectNet's: a numbered folder and a
  hex digest."""
  digest = hashlib.sha1(str(number).encode()).hexdigest()
  return f'{number % 3 + 1}/{digest}.jpg'


def write_photo(directory: pathlib.Path, number: int, face) -> tuple:
  """Writes photograph `number` showing `face`; returns (its
  subDirectory_filePath, the face box for the CSV)."""
  width, height, centre, side = SHAPES[number % len(SHAPES)]
  name = image_name(number)
  real_layouts.write_jpeg(directory / IMAGES / name, real_layouts.photo(
      face, width=width, height=height, centre=centre, side=side))
  inner = round(side / (1 + 2 * MARGIN))
  assert round(inner * (1 + 2 * MARGIN)) == side, side
  return name, (round(centre[0] - inner / 2), round(centre[1] - inner / 2),
                inner, inner)


def write(directory: pathlib.Path, seed: int = 0) -> dict:
  """Writes the fixture: training.csv holds SynthFaces subject 0 in each of
  the eight classes, validation.csv subject 1; then rows to leave out.

  Returns:
    {'train': [(class word, face)], 'test': [...], 'skipped': {reason
    fragment: count}}.
  """
  words = tuple(IDS)
  rendered = real_layouts.faces(2, words, seed=seed)
  rows = {'training.csv': [], 'validation.csv': []}
  kept = {'train': [], 'test': []}
  number = 0
  for subject, (file_name, split) in enumerate(SPLITS.items()):
    for word in words:
      face = rendered[(subject, word, 0.0)]
      name, box = write_photo(directory, number, face)
      number += 1
      rows[file_name].append(row(name, box, IDS[word]))
      kept[split].append((word, face))
  blank = np.full((64, 64, 3), real_layouts.CANVAS_GREY, np.uint8)
  # Ids 8 to 10 (None, Uncertain, Non-Face), their images there.
  for file_name, expression in (('training.csv', 8), ('training.csv', 9),
                                ('training.csv', 10), ('validation.csv', 10)):
    name, box = write_photo(directory, number, blank)
    number += 1
    rows[file_name].append(row(name, box, expression))
  # An image that is not there; a box that is not a number; an image no
  # decoder reads.
  rows['training.csv'].append(row('9/missing.jpg', (1, 2, 30, 30), 1))
  name, box = write_photo(directory, number, rendered[(0, 'happy', 0.0)])
  number += 1
  rows['validation.csv'].append(row(name, ('abc', *box[1:]), 1))
  corrupt = image_name(number)
  real_layouts.write_corrupt_jpeg(directory / IMAGES / corrupt)
  rows['training.csv'].append(row(corrupt, (5, 5, 40, 40), 2))
  for file_name, listed in rows.items():
    write_csv(directory / LISTS / file_name, listed)
  kept['skipped'] = {'expression 8 (None)': 1, 'expression 9 (Uncertain)': 1,
                     'expression 10 (Non-Face)': 2, 'is missing': 1,
                     'not numbers': 1, 'unreadable image': 1}
  return kept

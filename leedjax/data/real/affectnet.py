"""AffectNet's manually annotated set: photographs from the web, one face
each labelled with one of eight expressions (or none), its box given.

The manual directory holds the set as its authors distribute it:

  Manually_Annotated_file_lists/training.csv     the official train split
  Manually_Annotated_file_lists/validation.csv   its test split
  Manually_Annotated_Images/<subDirectory_filePath>

each CSV with the header `subDirectory_filePath,face_x,face_y,face_width,
face_height,facial_landmarks,expression,valence,arousal` (a CSV without a
header row is read in that column order). The expression ids are 0
Neutral, 1 Happy, 2 Sad, 3 Surprise, 4 Fear, 5 Disgust, 6 Anger, 7
Contempt; rows of 8 (None), 9 (Uncertain) and 10 (Non-Face) are left out
and counted, as are rows whose image is missing or whose numbers cannot be
read.

training.csv gives split 'train' and validation.csv split 'test' (the
official split, whatever `test_fraction`). Photographs do not say who is in
them: there is no subject split. The default crop is the CSV's face box,
widened by `crop_margin` on each side.
"""

import csv
import itertools

from leedjax.data.real import builder
from leedjax.data.real import layout

# AffectNet's expression ids -> RaFD's words.
LABELS = {
    0: 'neutral',
    1: 'happy',
    2: 'sad',
    3: 'surprised',
    4: 'fearful',
    5: 'disgusted',
    6: 'angry',
    7: 'contemptuous',
}
# RaFD's label order.
EXPRESSIONS = ('neutral', 'happy', 'sad', 'angry', 'surprised', 'disgusted',
               'fearful', 'contemptuous')
# Ids that are not an expression of a face: left out, counted.
DROPPED = {8: 'None', 9: 'Uncertain', 10: 'Non-Face'}
LISTS = 'Manually_Annotated_file_lists'
IMAGES = 'Manually_Annotated_Images'
# CSV file -> the split its rows belong to.
SPLITS = {'training.csv': 'train', 'validation.csv': 'test'}
COLUMNS = ('subDirectory_filePath', 'face_x', 'face_y', 'face_width',
           'face_height', 'facial_landmarks', 'expression', 'valence',
           'arousal')
# The columns the builder reads.
NEEDED = ('subDirectory_filePath', 'face_x', 'face_y', 'face_width',
          'face_height', 'expression')


class Affectnet(builder.RealFacesBuilder):
  """AffectNet's manually annotated set (see the module's docstring)."""

  name = 'affectnet'
  EXPRESSIONS = EXPRESSIONS
  DEFAULT_CROP = 'box'
  HAS_SUBJECTS = False
  EXPECTED = (f'AffectNet\'s manually annotated set: {LISTS}/training.csv '
              f'and {LISTS}/validation.csv, and the images under {IMAGES}/')
  MANUAL_DOWNLOAD_INSTRUCTIONS = f'The folder holding {EXPECTED}.'

  def scan(self, directory, options) -> layout.Scan:
    del options  # AffectNet has none of its own.
    images = directory / IMAGES
    paths = {}
    for file_name in SPLITS:
      path = directory / LISTS / file_name
      if not path.is_file():
        raise layout.LayoutError(
            f'affectnet: {path} is missing; expected {self.EXPECTED}.')
      paths[file_name] = path
    scan = layout.Scan()
    for file_name, path in paths.items():
      for row_name, row in _rows(path):
        item = _item(row, images, SPLITS[file_name], row_name, scan)
        if item is not None:
          scan.items.append(item)
    return scan


def _rows(path):
  """(where, {column: text}) of every data row of a CSV, or a LayoutError
  naming the columns it lacks."""
  with open(path, newline='', encoding='utf-8-sig') as stream:
    reader = csv.reader(stream)
    header = next(reader, None)
    if header is None:
      raise layout.LayoutError(f'affectnet: {path} is empty; expected the '
                               f'header {",".join(COLUMNS)} and a row per '
                               'image.')
    header = [name.strip() for name in header]
    first = []
    if _is_data_row(header):
      # No header row: the columns in AffectNet's order.
      header, first = list(COLUMNS), [header]
    missing = [name for name in NEEDED if name not in header]
    if missing:
      raise layout.LayoutError(
          f'affectnet: {path} has no column {", ".join(missing)} (its '
          f'header: {",".join(header)}); expected the header '
          f'{",".join(COLUMNS)}.')
    columns = {name: header.index(name) for name in NEEDED}
    for number, row in enumerate(itertools.chain(first, reader),
                                 1 if first else 2):
      if not row:
        continue
      yield f'{path}:{number}', {
          name: row[index].strip() if index < len(row) else ''
          for name, index in columns.items()}


def _is_data_row(row) -> bool:
  """Whether a CSV's first row is an image's (AffectNet's column order)
  rather than a header."""
  if len(row) != len(COLUMNS):
    return False
  try:
    [int(value) for value in row[1:5]]
  except ValueError:
    return False
  return True


def _item(row, images, split: str, where: str, scan: layout.Scan):
  """The row's Item, or None (counted in `scan`)."""
  try:
    expression = int(row['expression'])
  except ValueError:
    scan.skip('a row whose expression is not a number', where)
    return None
  if expression in DROPPED:
    scan.skip(f'expression {expression} ({DROPPED[expression]}), not a '
              'class', where)
    return None
  if expression not in LABELS:
    scan.skip('a row whose expression is not an AffectNet id (0-10)', where)
    return None
  try:
    box = tuple(int(float(row[name])) for name in (
        'face_x', 'face_y', 'face_width', 'face_height'))
  except (ValueError, OverflowError):
    scan.skip('a row whose face box is not numbers', where)
    return None
  if box[2] <= 0 or box[3] <= 0:
    scan.skip('a row whose face box is empty', where)
    return None
  name = row['subDirectory_filePath']
  path = images / name
  if not name or not path.is_file():
    scan.skip(f'a row whose image is missing from {IMAGES}/', path)
    return None
  return layout.Item(path=path, subject='', expression=LABELS[expression],
                     box=box, split=split)

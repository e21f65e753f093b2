"""RAF-DB, the Real-world Affective Faces Database, basic set: photographs
from the web labelled with one of seven expressions, with its owners'
train/test split.

The manual directory holds the set as its owners distribute it:

  EmoLabel/list_patition_label.txt   (sic) lines `train_00001.jpg 5`
  Image/aligned/train_00001_aligned.jpg   the aligned 100 x 100 faces
  Image/original/train_00001.jpg          the photographs

Labels are 1 Surprise, 2 Fear, 3 Disgust, 4 Happiness, 5 Sadness, 6 Anger,
7 Neutral; the file name's prefix (train_, test_) gives the split (the
official one, whatever `test_fraction`). Lines that cannot be read and
listed images that are missing are counted and skipped. Photographs do not
say who is in them: there is no subject split.

By default the builder reads the aligned faces, which fill their image, so
the crop is their centre (`crop='center'`). `options.aligned=False` reads
the original photographs instead, where the face must be found: set
`--config.data.crop=detect` with it (`RafDb.default_crop` says so; a
'center' crop of the photographs is refused).
"""

import re

from leedjax.data.real import builder
from leedjax.data.real import layout

# RAF-DB's labels -> RaFD's words.
LABELS = {
    1: 'surprised',
    2: 'fearful',
    3: 'disgusted',
    4: 'happy',
    5: 'sad',
    6: 'angry',
    7: 'neutral',
}
# RaFD's label order (RAF-DB has no contempt).
EXPRESSIONS = ('neutral', 'happy', 'sad', 'angry', 'surprised', 'disgusted',
               'fearful')
LABEL_FILE = 'EmoLabel/list_patition_label.txt'
LINE = re.compile(r'^(?P<name>(?P<split>train|test)_\w+)\.(?P<suffix>jpe?g|png)'
                  r'\s+(?P<label>\S+)$', re.IGNORECASE)


class RafDb(builder.RealFacesBuilder):
  """RAF-DB's basic set (see the module's docstring)."""

  name = 'raf_db'
  EXPRESSIONS = EXPRESSIONS
  DEFAULT_CROP = 'center'
  OPTIONS = {
      'aligned': True,  # the aligned 100 x 100 faces, else the photographs
  }
  HAS_SUBJECTS = False
  EXPECTED = (f'RAF-DB\'s basic set: {LABEL_FILE} (sic) and the images, '
              'Image/aligned/train_00001_aligned.jpg, ... (or '
              'Image/original/train_00001.jpg, ... with '
              'options.aligned=False)')
  MANUAL_DOWNLOAD_INSTRUCTIONS = f'The folder holding {EXPECTED}.'

  @classmethod
  def default_crop(cls, options) -> str:
    """The crop that suits these options: the aligned faces' centre, or
    the face found in a photograph."""
    return cls.DEFAULT_CROP if options.get('aligned', True) else 'detect'

  def scan(self, directory, options) -> layout.Scan:
    aligned = options['aligned']
    if not isinstance(aligned, bool):
      raise layout.LayoutError(f'raf_db: config.data.options.aligned='
                               f'{aligned!r}; it takes True or False.')
    if not aligned and self.builder_config.crop == 'center':
      raise layout.LayoutError(
          'raf_db: options.aligned=False reads the original photographs, '
          'whose faces are anywhere in them; set --config.data.crop=detect '
          "(the 'center' crop suits the aligned faces only).")
    label_file = directory / LABEL_FILE
    if not label_file.is_file():
      raise layout.LayoutError(
          f'raf_db: {label_file} is missing; expected {self.EXPECTED}.')
    folder = 'Image/aligned' if aligned else 'Image/original'
    images = directory / folder
    scan = layout.Scan()
    lines = label_file.read_text(encoding='utf-8-sig').splitlines()
    for number, line in enumerate(lines, 1):
      line = line.strip()
      if not line:
        continue
      where = f'{label_file}:{number}: {line}'
      match = LINE.match(line)
      if match is None:
        scan.skip('a line of the label file not like "train_00001.jpg 5"',
                  where)
        continue
      label = match['label']
      if not label.isdigit() or int(label) not in LABELS:
        scan.skip('a label not among RAF-DB\'s 1 to 7', where)
        continue
      name = (f'{match["name"]}_aligned.{match["suffix"]}' if aligned
              else f'{match["name"]}.{match["suffix"]}')
      path = images / name
      if not path.is_file():
        scan.skip(f'a listed image missing from {folder}/', path)
        continue
      scan.items.append(layout.Item(
          path=path, subject='', expression=LABELS[int(label)],
          split=match['split'].lower()))
    return scan

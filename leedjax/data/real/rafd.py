"""RaFD, the Radboud Faces Database: 67 models x 8 expressions x 3 gaze
directions x 5 camera angles, as its owners distribute it.

The manual directory holds the JPEGs (681 x 1024) under their official
names, `Rafd{angle}_{model}_{ethnicity}_{gender}_{expression}_{gaze}.jpg`
(e.g. `Rafd090_01_Caucasian_female_angry_frontal.jpg`), in one folder or
any sub-folders. The camera code 090 is frontal; 000 and 180 are the
profiles, so the yaw is the code minus 90 degrees.

The default crop is a fixed square, as StarGAN cut RaFD (every photo was
taken from the same place, so one square around the face serves all five
cameras, profiles included); `--config.data.crop=detect` finds the face
instead (frontal and 45-degree views; profiles are then skipped and counted).
Check the square on the contact sheet `python -m leedjax.data.prepare`
writes, and move it with `--config.data.fixed_crop=x,y,side` (fractions
of the width) if your copy is framed differently.
"""

import re

from leedjax.data.real import builder
from leedjax.data.real import layout

# RaFD's file-name words, in the label order SynthFaces also uses.
EXPRESSIONS = ('neutral', 'happy', 'sad', 'angry', 'surprised', 'disgusted',
               'fearful', 'contemptuous')
GAZES = {'left': -1.0, 'frontal': 0.0, 'right': 1.0}
CAMERAS = ('000', '045', '090', '135', '180')
FILE_NAME = re.compile(
    r'^Rafd(?P<camera>\d{3})_(?P<model>\d+)_(?P<ethnicity>[A-Za-z]+)_'
    r'(?P<gender>[A-Za-z]+)_(?P<expression>[a-z]+)_(?P<gaze>[a-z]+)\.jpe?g$',
    re.IGNORECASE)


class Rafd(builder.RealFacesBuilder):
  """RaFD from the user's copy (see the module's docstring)."""

  EXPRESSIONS = EXPRESSIONS
  DEFAULT_CROP = 'fixed'
  # Centre x, centre y and side of the face square, as fractions of the
  # photo's width (681 px): a 545 px square centred at (340, 470), the
  # head, hair and chin of every camera; public StarGAN preprocessing of
  # RaFD cuts 528-600 px squares centred there.
  FIXED_CROP = (0.5, 0.69, 0.8)
  EXPECTED = ('the RaFD JPEGs under their official names, e.g. '
              'Rafd090_01_Caucasian_female_angry_frontal.jpg (8,040 of them '
              'in the full set)')
  MANUAL_DOWNLOAD_INSTRUCTIONS = f'A folder of {EXPECTED}.'

  def scan(self, directory, options) -> layout.Scan:
    del options  # RaFD has none of its own.
    scan = layout.Scan()
    for path in layout.image_files(directory):
      match = FILE_NAME.match(path.name)
      if match is None:
        scan.skip('not named Rafd{camera}_{model}_{ethnicity}_{gender}_'
                  '{expression}_{gaze}.jpg', path)
        continue
      expression = match['expression'].lower()
      gaze = match['gaze'].lower()
      if (expression not in EXPRESSIONS or gaze not in GAZES
          or match['camera'] not in CAMERAS):
        scan.skip(f'an unknown expression, gaze or camera in its name '
                  f'(expressions {", ".join(EXPRESSIONS)}; gazes '
                  f'{", ".join(GAZES)}; cameras {", ".join(CAMERAS)})', path)
        continue
      scan.items.append(layout.Item(
          path=path, subject=f'{int(match["model"]):02d}',
          expression=expression, angle=float(int(match['camera']) - 90),
          gaze=GAZES[gaze]))
    return scan

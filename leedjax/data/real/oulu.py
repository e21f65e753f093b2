"""Oulu-CASIA NIR&VIS: 80 people posing six expressions, each filmed as a
sequence from neutral to the expression's apex, under two cameras (VL,
visible light; NI, near infrared) and three lights (Strong, Weak, Dark).

The manual directory is the folder of the original frames (`OriginalImg`
in the distribution), laid out as
`{modality}/{illumination}/P###/{expression}/###.jpeg`, e.g.
`VL/Strong/P001/Happiness/000.jpeg`: one folder per person and expression,
the frames numbered from 000 in the order filmed. Frames are sorted by
their number, so `.jpg` files or other zero padding read alike.

As ExprGAN used it, each sequence gives its last `frames` frames (the
expression at its strongest), labelled with the sequence's expression;
`neutral_first_frame=True` adds each sequence's first frame as a seventh
class, 'neutral' (first in label order). The frames in between are not
used and not counted as skipped. The paper's subject split holds out
P073-P080 (`subject_test`).

Frames are 320 x 240 with the face anywhere in them, so the default crop
finds the face (`crop='detect'`); a frame in which none is found is counted
and skipped.
"""

import re

from leedjax.data.real import builder
from leedjax.data.real import layout

# Oulu's expression folders and their RaFD words, in RaFD's label order.
FOLDERS = {
    'Happiness': 'happy',
    'Sadness': 'sad',
    'Anger': 'angry',
    'Surprise': 'surprised',
    'Disgust': 'disgusted',
    'Fear': 'fearful',
}
EXPRESSIONS = tuple(FOLDERS.values())
NEUTRAL = 'neutral'
SUBJECT = re.compile(r'^P(?P<number>\d+)$', re.IGNORECASE)
FRAME = re.compile(r'^\d+$')


class Oulu(builder.RealFacesBuilder):
  """Oulu-CASIA's expression sequences (see the module's docstring)."""

  name = 'oulu'
  EXPRESSIONS = EXPRESSIONS
  DEFAULT_CROP = 'detect'
  OPTIONS = {
      'modality': 'VL',           # 'VL' (visible light) or 'NI' (infrared)
      'illumination': 'Strong',   # 'Strong', 'Weak' or 'Dark'
      'frames': 3,                # the last N frames of each sequence
      'neutral_first_frame': False,  # each sequence's first frame: neutral
  }
  # The paper's subject split: the last 8 of the 80 people.
  TEST_SUBJECTS = tuple(f'P{number:03d}' for number in range(73, 81))
  EXPECTED = ('Oulu-CASIA\'s original frames as '
              '{modality}/{illumination}/P###/{Anger,Disgust,Fear,'
              'Happiness,Sadness,Surprise}/###.jpeg, e.g. '
              'VL/Strong/P001/Happiness/000.jpeg (the OriginalImg folder)')
  MANUAL_DOWNLOAD_INSTRUCTIONS = f'The folder of {EXPECTED}.'

  def expression_names(self) -> tuple[str, ...]:
    if self.options.get('neutral_first_frame'):
      return (NEUTRAL,) + EXPRESSIONS
    return EXPRESSIONS

  def scan(self, directory, options) -> layout.Scan:
    frames, neutral_first = _frame_options(options)
    light = _light_folder(directory, options['modality'],
                          options['illumination'])
    subjects = []
    scan = layout.Scan()
    for folder in sorted(path for path in light.iterdir() if path.is_dir()):
      match = SUBJECT.match(folder.name)
      if match is None:
        for path in layout.image_files(folder):
          scan.skip('not in a P### subject folder', path)
        continue
      subjects.append((f'P{int(match["number"]):03d}', folder))
    if not subjects:
      found = sorted(path.name for path in light.iterdir())
      raise layout.LayoutError(
          f'oulu: {light} holds no P### subject folders (P001 to P080); '
          f'found {_listing(found)}. Expected {self.EXPECTED}.')
    # A sequence needs its last N frames, and a first frame apart from
    # them when that is taken as neutral.
    needed = frames + int(neutral_first)
    short = (f'in a sequence of fewer than {needed} frames (frames={frames}'
             + (', plus its first as neutral)' if neutral_first else ')'))
    folders = {name.lower(): name for name in FOLDERS}
    for subject, folder in subjects:
      for sequence in sorted(path for path in folder.iterdir()
                             if path.is_dir()):
        known = folders.get(sequence.name.lower())
        if known is None:
          for path in layout.image_files(sequence):
            scan.skip(f'in an expression folder Oulu does not have (its '
                      f'folders: {", ".join(sorted(FOLDERS))})', path)
          continue
        numbered = _frames(sequence, scan)
        if len(numbered) < needed:
          for path in numbered:
            scan.skip(short, path)
          continue
        if neutral_first:
          scan.items.append(layout.Item(path=numbered[0], subject=subject,
                                        expression=NEUTRAL))
        scan.items.extend(
            layout.Item(path=path, subject=subject,
                        expression=FOLDERS[known])
            for path in numbered[-frames:])
    return scan


def _frame_options(options) -> tuple[int, bool]:
  frames = options['frames']
  if isinstance(frames, bool) or not isinstance(frames, int) or frames < 1:
    raise layout.LayoutError(
        f'oulu: config.data.options.frames={frames!r}; it takes a whole '
        'number of frames, at least 1 (ExprGAN used 3).')
  neutral_first = options['neutral_first_frame']
  if not isinstance(neutral_first, bool):
    raise layout.LayoutError(
        f'oulu: config.data.options.neutral_first_frame={neutral_first!r}; '
        'it takes True or False.')
  return frames, neutral_first


def _light_folder(directory, modality: str, illumination: str):
  """`directory/modality/illumination` (any letter case), or a LayoutError
  that lists the camera and light folders there are."""
  light = _child(_child(directory, modality), illumination)
  if light is not None:
    return light
  pairs = [f'{first.name}/{second.name}'
           for first in _folders(directory) for second in _folders(first)]
  message = (f'oulu: no {modality}/{illumination} folder in {directory} '
             f'(config.data.options.modality={modality!r}, '
             f'illumination={illumination!r}); found '
             f'{_listing(pairs) if pairs else _listing(_names(directory))}.')
  # A copy pointed at one folder too high (e.g. the one above OriginalImg).
  deeper = [folder for folder in _folders(directory)
            if _child(_child(folder, modality), illumination) is not None]
  if deeper:
    message += (f' {deeper[0]} holds {modality}/{illumination}: pass '
                f'--config.data.manual_dir={deeper[0]}.')
  raise layout.LayoutError(message + f' Expected {Oulu.EXPECTED}.')


def _child(directory, name: str):
  """The sub-folder of `directory` called `name`, in any letter case."""
  if directory is None:
    return None
  exact = directory / name
  if exact.is_dir():
    return exact
  return next((folder for folder in _folders(directory)
               if folder.name.lower() == name.lower()), None)


def _folders(directory):
  return sorted(path for path in directory.iterdir() if path.is_dir())


def _names(directory) -> list[str]:
  return sorted(path.name for path in directory.iterdir())


def _listing(names, limit: int = 12) -> str:
  if not names:
    return 'nothing'
  shown = ', '.join(names[:limit])
  return shown + (f' and {len(names) - limit} more'
                  if len(names) > limit else '')


def _frames(sequence, scan: layout.Scan) -> list:
  """The sequence's frames in filmed order (by number); images not named
  by a number are counted and skipped."""
  numbered = []
  for path in sorted(sequence.iterdir()):
    if not path.is_file() or path.suffix.lower() not in layout.IMAGE_SUFFIXES:
      continue
    if FRAME.match(path.stem) is None:
      scan.skip('a file in a sequence folder not named by its frame '
                'number (000.jpeg, 001.jpeg, ...)', path)
      continue
    numbered.append(path)
  return sorted(numbered, key=lambda path: (int(path.stem), path.name))

"""Oulu-CASIA's layout: 320 x 240 frames at
`{modality}/{illumination}/P###/{expression folder}/###.jpeg`, each
sequence a neutral face for its first frames and the expression for its
last `APEX_FRAMES`, the face off the frame's centre (where `FIXED_CROP`
says)."""

import pathlib

import real_layouts

WIDTH, HEIGHT = 320, 240
# The face's square on the frame: right of centre and high, as a person
# sitting off the camera's axis.
CENTRE, SIDE = (200, 115), 160
# config.data.fixed_crop that cuts exactly that square (fractions of the
# width).
FIXED_CROP = (CENTRE[0] / WIDTH, CENTRE[1] / WIDTH, SIDE / WIDTH)
# Frames at the end of every sequence that show the expression.
APEX_FRAMES = 3
# Oulu's expression folders and the RaFD words they mean (written out
# here, not taken from the builder, so that a builder that misreads them
# fails its tests).
WORDS = {'Happiness': 'happy', 'Sadness': 'sad', 'Anger': 'angry',
         'Surprise': 'surprised', 'Disgust': 'disgusted', 'Fear': 'fearful'}
FOLDERS = tuple(WORDS)


def frame(face):
  """A frame with `face` at the fixture's place."""
  return real_layouts.photo(face, width=WIDTH, height=HEIGHT, centre=CENTRE,
                            side=SIDE)


def write_sequence(folder: pathlib.Path, neutral, apex, length: int, *,
                   name='{:03d}.jpeg') -> list[tuple[pathlib.Path, str]]:
  """Writes one sequence of `length` frames (the last APEX_FRAMES show
  `apex`, the others `neutral`); returns [(path, 'neutral' or 'apex')]."""
  written = []
  for number in range(length):
    shown = 'apex' if number >= length - APEX_FRAMES else 'neutral'
    path = folder / name.format(number)
    real_layouts.write_jpeg(path, frame(apex if shown == 'apex' else neutral))
    written.append((path, shown))
  return written


def write(directory: pathlib.Path, *, subjects=('P001', 'P002', 'P075'),
          renders=None, folders=FOLDERS, light='VL/Strong', seed: int = 0
          ) -> dict:
  """Writes a copy: every subject films every expression folder.

  Sequences are 4 to 6 frames long, '000.jpeg', ...; the first subject's
  first sequence has 11 frames named '0.jpg' to '10.jpg' (a numeric sort
  and a text sort differ there).

  Args:
    directory: the copy's root (the manual directory).
    subjects: P### names.
    renders: the SynthFaces subject drawn for each (default 0, 1, ...).
    folders: Oulu's expression folders to film.
    light: '{modality}/{illumination}' of the frames.
    seed: SynthFaces seed.

  Returns:
    {path: (subject, expression word, 'neutral' or 'apex', the face shown,
    the sequence's neutral face)}.
  """
  renders = list(renders or range(len(subjects)))
  words = [WORDS[folder] for folder in folders]
  rendered = real_layouts.faces(max(renders) + 1, ('neutral', *words),
                                seed=seed)
  written = {}
  for subject, render in zip(subjects, renders):
    neutral = rendered[(render, 'neutral', 0.0)]
    for number, (folder, word) in enumerate(zip(folders, words)):
      apex = rendered[(render, word, 0.0)]
      sequence = directory / light / subject / folder
      if subject == subjects[0] and number == 0:
        frames = write_sequence(sequence, neutral, apex, 11, name='{}.jpg')
      else:
        frames = write_sequence(sequence, neutral, apex,
                                4 + (render + number) % 3)
      for path, shown in frames:
        written[path] = (subject, word, shown,
                         apex if shown == 'apex' else neutral, neutral)
  return written

"""A generic image folder: aligned faces (the renders themselves), one
sub-folder per expression, the folders spelled in varied case and the
files named `s{subject}_{number}.png` or `.PNG` by turns (PNG: at 32 px
JPEG's loss, up to 1.3 mean abs difference, exceeds the smallest
difference between two expressions, 0.7)."""

import pathlib

import numpy as np
from PIL import Image

import real_layouts

EXPRESSIONS = ('neutral', 'happy', 'sad', 'angry', 'surprised')
# How each expression's folder is spelled (the builder lower-cases them).
FOLDERS = {'neutral': 'Neutral', 'happy': 'happy', 'sad': 'SAD',
           'angry': 'Angry', 'surprised': 'surprised'}


def renders(num_subjects: int, expressions=EXPRESSIONS) -> dict:
  """{(subject, expression): face} for `write`."""
  drawn = real_layouts.faces(num_subjects, expressions)
  return {(subject, name): face
          for (subject, name, _), face in drawn.items()}


def write_png(path: pathlib.Path, image: np.ndarray) -> None:
  path.parent.mkdir(parents=True, exist_ok=True)
  Image.fromarray(image).save(path, format='png')


def write(directory: pathlib.Path, drawn: dict, *, folders=None) -> dict:
  """Writes every face of `drawn` ({(subject, expression): face}) into its
  expression's folder; returns {path relative to `directory`: (subject,
  expression, face)}."""
  folders = folders or FOLDERS
  written = {}
  for number, ((subject, expression), face) in enumerate(
      sorted(drawn.items())):
    suffix = '.PNG' if number % 2 else '.png'
    name = f'{folders[expression]}/s{subject + 1}_{number}{suffix}'
    write_png(directory / name, face)
    written[name] = (subject, expression, face)
  return written

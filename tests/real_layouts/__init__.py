"""Fixture folders in the real datasets' layouts, drawn from SynthFaces.

The real datasets cannot be fetched here, so the tests write folders with
each dataset's exact file names and sub-folders, holding photographs whose
faces are SynthFaces renders pasted at a known place on a larger canvas.
A builder that crops right gets the render back (up to JPEG's loss).

One module per dataset writes its layout (`rafd.py`, ...); this one draws
the faces and the photographs.
"""

import pathlib

import numpy as np
from PIL import Image

from leedjax.data import synthfaces

# Faces are rendered at this size and scaled up to their size on the
# canvas (rendering large is slow, and the builders scale down again).
RENDER_SIZE = 96
CANVAS_GREY = 200


def faces(num_subjects: int, expressions, angles=(0.0,), seed: int = 0):
  """{(subject, expression name, angle): (RENDER_SIZE,)*2 x 3 uint8}."""
  spec = synthfaces.CatalogSpec(num_subjects=num_subjects, intensities=(1.0,),
                                angles=tuple(float(a) for a in angles),
                                max_gaze=0.0, seed=seed)
  catalog = synthfaces.Catalog(spec)
  indices = [synthfaces.EXPRESSIONS.index(name) for name in expressions]
  keys, rows = [], []
  for subject in range(num_subjects):
    for name, index in zip(expressions, indices):
      for angle_index, angle in enumerate(spec.angles):
        keys.append((subject, name, angle))
        rows.append(int(catalog.row_of(subject, index, 0, angle_index)))
  images = catalog.render(np.asarray(rows), RENDER_SIZE)
  return dict(zip(keys, images))


def photo(face: np.ndarray, *, width: int, height: int, centre, side: int
          ) -> np.ndarray:
  """A (height, width, 3) grey canvas with `face` scaled to `side` pixels
  and centred at `centre` (x, y)."""
  canvas = np.full((height, width, 3), CANVAS_GREY, np.uint8)
  big = np.asarray(Image.fromarray(face).resize((side, side),
                                                Image.Resampling.BICUBIC))
  left, top = round(centre[0] - side / 2), round(centre[1] - side / 2)
  canvas[top:top + side, left:left + side] = big
  return canvas


def write_jpeg(path: pathlib.Path, image: np.ndarray, quality: int = 95):
  path.parent.mkdir(parents=True, exist_ok=True)
  Image.fromarray(image).save(path, format='jpeg', quality=quality)


def write_corrupt_jpeg(path: pathlib.Path) -> None:
  """A file named like a JPEG that no decoder can read (a JPEG's first
  bytes, then nothing)."""
  path.parent.mkdir(parents=True, exist_ok=True)
  path.write_bytes(b'\xff\xd8\xff\xe0\x00\x10JFIF\x00' + b'\x00' * 20)


def read_records(builder, *splits) -> list[dict]:
  """Every record of the given splits of a built dataset, in order."""
  records = []
  for split in splits:
    source = builder.as_data_source(split)
    records += [source[index] for index in range(len(source))]
  return records


def mean_abs_difference(a: np.ndarray, b: np.ndarray) -> float:
  return float(np.mean(np.abs(a.astype(np.float32) - b.astype(np.float32))))


def resized(face: np.ndarray, size: int) -> np.ndarray:
  return np.asarray(Image.fromarray(face).resize((size, size),
                                                 Image.Resampling.LANCZOS))

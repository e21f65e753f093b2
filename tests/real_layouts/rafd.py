"""RaFD's layout: 681 x 1024 JPEGs named
`Rafd{camera}_{model}_{ethnicity}_{gender}_{expression}_{gaze}.jpg`, the
face where `leedjax.data.real.rafd.Rafd.FIXED_CROP` expects it."""

import pathlib

from leedjax.data.real import rafd as rafd_builder
import real_layouts

WIDTH, HEIGHT = 681, 1024
CAMERAS = {'090': 0.0, '045': -45.0}  # frontal and one half-profile


def face_square():
  """(centre, side) of the face on the canvas, in pixels."""
  centre_x, centre_y, side = (value * WIDTH
                              for value in rafd_builder.Rafd.FIXED_CROP)
  return (centre_x, centre_y), round(side)


def write(directory: pathlib.Path, *, num_subjects: int = 3,
          expressions=rafd_builder.EXPRESSIONS, gazes=('frontal',)) -> dict:
  """Writes the RaFD fixture; returns {file name: (subject, expression,
  angle, the face as rendered)}."""
  centre, side = face_square()
  rendered = real_layouts.faces(num_subjects, expressions,
                                angles=tuple(CAMERAS.values()))
  written = {}
  for (subject, expression, angle), face in rendered.items():
    camera = next(code for code, yaw in CAMERAS.items() if yaw == angle)
    for gaze in gazes:
      name = (f'Rafd{camera}_{subject + 1:02d}_Caucasian_female_'
              f'{expression}_{gaze}.jpg')
      real_layouts.write_jpeg(directory / name, real_layouts.photo(
          face, width=WIDTH, height=HEIGHT, centre=centre, side=side))
      written[name] = (subject, expression, angle, face)
  return written

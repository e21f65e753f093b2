"""The SynthFaces catalogue: a RaFD-like grid of images and its splits.

RaFD photographs 67 subjects x 8 expressions x 3 gaze directions x 5 camera
angles. SynthFaces keeps the subjects x expressions x angles grid and uses the
third axis for expression intensity; each image also gets a small random gaze.
"""

import dataclasses

import numpy as np

from leedjax.data.synthfaces import expressions
from leedjax.data.synthfaces import identity as identity_lib
from leedjax.data.synthfaces.render import render

# RaFD's camera angles, in degrees of yaw.
ANGLES = (-90.0, -45.0, 0.0, 45.0, 90.0)
# Images are rendered in fixed-size chunks so that jit compiles once per size.
RENDER_CHUNK = 256


@dataclasses.dataclass(frozen=True)
class CatalogSpec:
  """What the grid contains. The defaults give RaFD's 8,040 images."""
  num_subjects: int = 67
  intensities: tuple[float, ...] = (0.4, 0.7, 1.0)
  angles: tuple[float, ...] = ANGLES
  max_gaze: float = 0.5
  seed: int = 0

  @property
  def num_images(self) -> int:
    return (self.num_subjects * expressions.NUM_EXPRESSIONS *
            len(self.intensities) * len(self.angles))


def render_faces(identity: identity_lib.FaceIdentity, aus, yaw_degrees, gaze,
                 size: int) -> np.ndarray:
  """`render` over numpy inputs of any length, in fixed-size jitted chunks."""
  aus = np.asarray(aus, np.float32)
  count = aus.shape[0]
  yaw_degrees = np.broadcast_to(np.asarray(yaw_degrees, np.float32), (count,))
  gaze = np.broadcast_to(np.asarray(gaze, np.float32), (count,))
  chunk = min(RENDER_CHUNK, count)
  out = np.empty((count, size, size, 3), np.uint8)
  for start in range(0, count, chunk):
    rows = np.arange(start, start + chunk).clip(max=count - 1)  # pad the tail
    images = render(identity.take(rows), aus[rows], yaw_degrees[rows],
                    gaze[rows], size=size)
    take = min(chunk, count - start)
    out[start:start + take] = np.asarray(images)[:take]
  return out


class Catalog:
  """Every image of a SynthFaces grid, as parallel numpy arrays (one row each).

  Attributes:
    spec: the CatalogSpec.
    identities: FaceIdentity for subjects 0..num_subjects-1.
    styles: (num_subjects, NUM_EXPRESSIONS, NUM_AUS) per-person styles.
    subject, expression, intensity_level: int arrays (N,).
    intensity, angle, gaze: float arrays (N,).
    aus: (N, NUM_AUS) expression controls of each image.
  """

  def __init__(self, spec: CatalogSpec = CatalogSpec()):
    self.spec = spec
    subjects = np.arange(spec.num_subjects)
    self.identities = identity_lib.sample_identities(spec.seed, subjects)
    self.styles = np.stack([
        expressions.sample_expression_style(
            np.random.default_rng([spec.seed, int(k), 2])) for k in subjects])
    grid = np.meshgrid(subjects, np.arange(expressions.NUM_EXPRESSIONS),
                       np.arange(len(spec.intensities)),
                       np.arange(len(spec.angles)), indexing='ij')
    self.subject, self.expression, self.intensity_level, angle_index = (
        g.reshape(-1) for g in grid)
    self.intensity = np.asarray(spec.intensities, np.float32)[
        self.intensity_level]
    self.angle = np.asarray(spec.angles, np.float32)[angle_index]
    gaze_rng = np.random.default_rng([spec.seed, 3])
    self.gaze = gaze_rng.uniform(-spec.max_gaze, spec.max_gaze,
                                 len(self.subject)).astype(np.float32)
    self.aus = expressions.expression_controls(
        self.expression, self.intensity, self.styles[self.subject])

  def __len__(self) -> int:
    return len(self.subject)

  def render(self, rows, size: int) -> np.ndarray:
    """uint8 (len(rows), size, size, 3) images of the given catalogue rows."""
    rows = np.asarray(rows)
    return render_faces(self.identities.take(self.subject[rows]),
                        self.aus[rows], self.angle[rows], self.gaze[rows], size)

  def render_edit(self, input_rows, reference_rows, alpha, size: int):
    """The exact answer of an edit: input's identity, pose and gaze, wearing
    `alpha` times the reference's expression (LEED edits from the neutral face,
    so alpha 0 is the input's neutral face and alpha > 1 exaggerates)."""
    input_rows = np.asarray(input_rows)
    alpha = np.broadcast_to(np.asarray(alpha, np.float32), input_rows.shape)
    aus = self.aus[np.asarray(reference_rows)] * alpha[:, None]
    return render_faces(self.identities.take(self.subject[input_rows]), aus,
                        self.angle[input_rows], self.gaze[input_rows], size)

  def render_expression(self, rows, expression, intensity,
                        size: int) -> np.ndarray:
    """Each row's person, pose and gaze wearing `expression` (an index into
    `expressions.EXPRESSIONS`, per row or one) at `intensity` (the same)."""
    rows = np.asarray(rows)
    expression = np.broadcast_to(np.asarray(expression, np.int64), rows.shape)
    intensity = np.broadcast_to(np.asarray(intensity, np.float32), rows.shape)
    subjects = self.subject[rows]
    aus = expressions.expression_controls(expression, intensity,
                                          self.styles[subjects])
    return render_faces(self.identities.take(subjects), aus, self.angle[rows],
                        self.gaze[rows], size)

  def neutral_rows(self, rows) -> np.ndarray:
    """For each row, the row of the same subject, angle and intensity level
    with a neutral expression (its gaze differs; see `render_neutral`)."""
    rows = np.asarray(rows)
    return self.row_of(self.subject[rows], expressions.NEUTRAL,
                       self.intensity_level[rows], self.angle_index(rows))

  def render_neutral(self, rows, size: int) -> np.ndarray:
    """Each image's exact neutral face: same person, pose and gaze."""
    rows = np.asarray(rows)
    return self.render_edit(rows, rows, 0.0, size)

  def angle_index(self, rows) -> np.ndarray:
    return np.searchsorted(np.asarray(self.spec.angles, np.float32),
                           self.angle[np.asarray(rows)])

  def row_of(self, subject, expression, intensity_level, angle_index):
    """Row number of a grid cell (all arguments broadcast)."""
    spec = self.spec
    return (((np.asarray(subject) * expressions.NUM_EXPRESSIONS
              + np.asarray(expression)) * len(spec.intensities)
             + np.asarray(intensity_level)) * len(spec.angles)
            + np.asarray(angle_index))

  def split(self, scheme: str, test_fraction: float = 0.1,
            seed: int = 0) -> dict[str, np.ndarray]:
    """Train/test rows under one of the two split schemes.

    Args:
      scheme: 'random', the papers' random split of images, or 'subject', a
        split that keeps every subject's images on one side.
      test_fraction: share of images (or of subjects) held out.
      seed: split seed.

    Returns:
      {'train': rows, 'test': rows}, each sorted.
    """
    rng = np.random.default_rng([seed, 4])
    if scheme == 'random':
      order = rng.permutation(len(self))
      num_test = int(round(test_fraction * len(self)))
      test = order[:num_test]
    elif scheme == 'subject':
      order = rng.permutation(self.spec.num_subjects)
      num_test = max(1, int(round(test_fraction * self.spec.num_subjects)))
      test = np.flatnonzero(np.isin(self.subject, order[:num_test]))
    else:
      raise ValueError(
          f"Unknown split scheme {scheme!r}: use 'random' or 'subject'.")
    train = np.setdiff1d(np.arange(len(self)), test)
    return {'train': train, 'test': np.sort(test)}

"""Identities of SynthFaces: everything about a person that an expression must not change."""

import dataclasses

import flax.struct
import jax
import numpy as np

HAIR_STYLES = ('short', 'long', 'buzz')

# Palettes in linear-ish RGB, [0, 1]. Interpolation between neighbours gives
# continuous variety; the anchors keep colours plausible.
_SKIN_TONES = np.array([
    [0.98, 0.85, 0.76], [0.93, 0.76, 0.64], [0.84, 0.65, 0.50],
    [0.70, 0.50, 0.36], [0.55, 0.37, 0.25], [0.38, 0.25, 0.17],
], np.float32)
_HAIR_COLOURS = np.array([
    [0.08, 0.06, 0.05], [0.25, 0.16, 0.09], [0.45, 0.30, 0.17],
    [0.80, 0.65, 0.38], [0.62, 0.27, 0.12], [0.62, 0.60, 0.58],
], np.float32)
_IRIS_COLOURS = np.array([
    [0.30, 0.18, 0.09], [0.20, 0.38, 0.62], [0.30, 0.45, 0.25],
    [0.45, 0.35, 0.18],
], np.float32)


@flax.struct.dataclass
class FaceIdentity:
  """Per-subject appearance; every field has a leading batch axis.

  Lengths are in units of the head's half-height; colours are RGB in [0, 1].
  """
  skin: jax.Array            # (B, 3)
  hair_colour: jax.Array     # (B, 3)
  hair_style: jax.Array      # (B,) int index into HAIR_STYLES
  hairline: jax.Array        # (B,) forehead height, ~0.5..0.7
  fringe: jax.Array          # (B,) 0..1, how far hair falls over the forehead
  head_width: jax.Array      # (B,) half-width / half-height, ~0.68..0.82
  jaw_narrowing: jax.Array   # (B,) 0..0.25
  eye_spacing: jax.Array     # (B,) ~0.26..0.33
  eye_size: jax.Array        # (B,) ~0.85..1.15
  iris_colour: jax.Array     # (B, 3)
  brow_thickness: jax.Array  # (B,) ~0.8..1.3
  nose_length: jax.Array     # (B,) ~0.8..1.25
  nose_width: jax.Array      # (B,) ~0.8..1.25
  mouth_width: jax.Array     # (B,) ~0.85..1.15
  lip_thickness: jax.Array   # (B,) ~0.7..1.3
  lip_colour: jax.Array      # (B, 3)
  glasses: jax.Array         # (B,) 0 or 1
  moustache: jax.Array       # (B,) 0 or 1
  background: jax.Array      # (B, 3)
  clothing: jax.Array        # (B, 3)

  @property
  def batch_size(self) -> int:
    return self.skin.shape[0]

  def take(self, rows) -> 'FaceIdentity':
    """The identities at `rows` (numpy-style indexing on the batch axis)."""
    return jax.tree.map(lambda field: field[rows], self)


def _from_palette(rng: np.random.Generator, palette: np.ndarray) -> np.ndarray:
  position = rng.uniform(0, len(palette) - 1)
  low = int(np.floor(position))
  high = min(low + 1, len(palette) - 1)
  frac = position - low
  return (1 - frac) * palette[low] + frac * palette[high]


def _sample_one(rng: np.random.Generator) -> dict[str, np.ndarray]:
  skin = _from_palette(rng, _SKIN_TONES)
  lip = skin * np.array([0.85, 0.55, 0.55]) + np.array([0.12, 0.02, 0.03])
  background = rng.uniform(0.55, 0.95, 3) * rng.uniform(0.85, 1.0)
  return dict(
      skin=skin,
      hair_colour=_from_palette(rng, _HAIR_COLOURS),
      hair_style=rng.choice(len(HAIR_STYLES), p=[0.5, 0.3, 0.2]),
      hairline=rng.uniform(0.5, 0.68),
      fringe=rng.uniform(0.0, 1.0) * (rng.uniform() < 0.5),
      head_width=rng.uniform(0.68, 0.82),
      jaw_narrowing=rng.uniform(0.0, 0.25),
      eye_spacing=rng.uniform(0.26, 0.33),
      eye_size=rng.uniform(0.85, 1.15),
      iris_colour=_from_palette(rng, _IRIS_COLOURS),
      brow_thickness=rng.uniform(0.8, 1.3),
      nose_length=rng.uniform(0.8, 1.25),
      nose_width=rng.uniform(0.8, 1.25),
      mouth_width=rng.uniform(0.85, 1.15),
      lip_thickness=rng.uniform(0.7, 1.3),
      lip_colour=np.clip(lip, 0, 1),
      glasses=float(rng.uniform() < 0.2),
      moustache=float(rng.uniform() < 0.15),
      background=np.clip(background, 0, 1),
      clothing=rng.uniform(0.1, 0.8, 3),
  )


def sample_identities(seed: int, subject_ids) -> FaceIdentity:
  """Deterministic identities: subject k of seed s is the same person everywhere.

  Args:
    seed: dataset seed.
    subject_ids: iterable of non-negative ints.

  Returns:
    A FaceIdentity of numpy arrays with batch size len(subject_ids).
  """
  people = [_sample_one(np.random.default_rng([seed, int(k), 1]))
            for k in subject_ids]
  fields = {}
  for field in dataclasses.fields(FaceIdentity):
    values = np.stack([np.asarray(p[field.name]) for p in people])
    dtype = np.int32 if field.name == 'hair_style' else np.float32
    fields[field.name] = values.astype(dtype)
  return FaceIdentity(**fields)

"""Expression controls of SynthFaces: action-unit-like sliders and the RaFD categories.

Each expression is a vector of continuous controls in [0, 1] (one per entry of
`AU_NAMES`). The eight RaFD categories are prototypes over these controls,
scaled by an intensity and perturbed by a small, per-identity style so that two
people smile a little differently.
"""

import numpy as np

# Continuous controls, loosely after FACS action units (numbers in comments).
AU_NAMES = (
    'lip_corner_up',        # AU12: smile
    'lip_corner_down',      # AU15
    'jaw_drop',             # AU26/27: mouth opens
    'brow_raise',           # AU1+2: whole brow up, forehead wrinkles
    'inner_brow_raise',     # AU1: inner ends up (sadness, fear)
    'brow_lower',           # AU4: brows down and together, frown lines
    'lid_raise',            # AU5: eyes wide
    'lid_tighten',          # AU6/7: eyes narrow
    'nose_wrinkle',         # AU9/10: nose wrinkles, upper lip up
    'lip_stretch',          # AU20: lips pulled sideways
    'one_sided_smile',      # unilateral AU12/14: contempt
)
NUM_AUS = len(AU_NAMES)
AU_INDEX = {name: i for i, name in enumerate(AU_NAMES)}

# RaFD's eight categories, in RaFD's order.
EXPRESSIONS = (
    'neutral', 'happy', 'sad', 'angry', 'surprised', 'disgusted', 'fearful',
    'contemptuous',
)
NUM_EXPRESSIONS = len(EXPRESSIONS)
NEUTRAL = EXPRESSIONS.index('neutral')

_PROTOTYPE_CONTROLS = {
    'neutral': {},
    'happy': {'lip_corner_up': 1.0, 'lid_tighten': 0.35, 'jaw_drop': 0.2},
    'sad': {'lip_corner_down': 0.9, 'inner_brow_raise': 1.0, 'brow_lower': 0.3,
            'lid_tighten': 0.2},
    'angry': {'brow_lower': 1.0, 'lid_tighten': 0.5, 'lid_raise': 0.25,
              'lip_corner_down': 0.35, 'lip_stretch': 0.3},
    'surprised': {'brow_raise': 1.0, 'lid_raise': 1.0, 'jaw_drop': 1.0},
    'disgusted': {'nose_wrinkle': 1.0, 'brow_lower': 0.6, 'lid_tighten': 0.5,
                  'lip_corner_down': 0.5},
    'fearful': {'brow_raise': 0.6, 'inner_brow_raise': 0.8, 'brow_lower': 0.25,
                'lid_raise': 1.0, 'lip_stretch': 1.0, 'jaw_drop': 0.35},
    'contemptuous': {'one_sided_smile': 1.0, 'lid_tighten': 0.15},
}


def _prototype_matrix() -> np.ndarray:
  matrix = np.zeros((NUM_EXPRESSIONS, NUM_AUS), np.float32)
  for row, name in enumerate(EXPRESSIONS):
    for control, value in _PROTOTYPE_CONTROLS[name].items():
      matrix[row, AU_INDEX[control]] = value
  return matrix


PROTOTYPES = _prototype_matrix()  # (NUM_EXPRESSIONS, NUM_AUS)

# How far one person's version of a category may stray from the prototype.
STYLE_SPREAD = 0.2


def sample_expression_style(rng: np.random.Generator) -> np.ndarray:
  """One identity's multiplicative style, shape (NUM_EXPRESSIONS, NUM_AUS)."""
  noise = rng.standard_normal((NUM_EXPRESSIONS, NUM_AUS)).astype(np.float32)
  return 1.0 + STYLE_SPREAD * np.clip(noise, -2.0, 2.0)


def expression_controls(expression: np.ndarray, intensity: np.ndarray,
                        style: np.ndarray | None = None) -> np.ndarray:
  """Control vectors for categories at given intensities.

  Args:
    expression: int array (N,) of indices into `EXPRESSIONS`.
    intensity: float array (N,), 1 is the full prototype; values above 1
      exaggerate it.
    style: optional (N, NUM_EXPRESSIONS, NUM_AUS) per-identity styles from
      `sample_expression_style`; None gives the plain prototypes.

  Returns:
    float32 (N, NUM_AUS) controls, clipped to [0, 1.5].
  """
  expression = np.asarray(expression, np.int64)
  intensity = np.asarray(intensity, np.float32)
  controls = PROTOTYPES[expression]
  if style is not None:
    controls = controls * np.take_along_axis(
        np.asarray(style, np.float32), expression[:, None, None], axis=1)[:, 0]
  return np.clip(controls * intensity[:, None], 0.0, 1.5).astype(np.float32)

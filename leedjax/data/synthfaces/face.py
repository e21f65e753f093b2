"""Facial features of SynthFaces: ears, creases, eyes, brows, nose, mouth,
moustache and glasses, painted over the skin in the renderer's feature window.

Surface features are drawn in the head's surface frame (s, t) from
`render.HeadView`; their distances are scaled by the local foreshortening
before antialiasing. Paired features are mirrored: `lateral` is the distance
from the face's midline and `side` says which half (+1 image-right).
"""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np

from leedjax.data.synthfaces import layout
from leedjax.data.synthfaces import shapes
from leedjax.data.synthfaces.layout import EYE_HEIGHT
from leedjax.data.synthfaces.layout import HEAD_DEPTH
from leedjax.data.synthfaces.layout import LABELS
from leedjax.data.synthfaces.layout import MOUTH_HEIGHT
from leedjax.data.synthfaces.shapes import colour
from leedjax.data.synthfaces.shapes import column

# numpy, not jnp: a jnp constant at import would start JAX's backend before
# a multi-process job can join (jax.distributed.initialize must come first).
SCLERA = np.array((0.96, 0.95, 0.92), np.float32)
MOUTH_INSIDE = np.array((0.32, 0.07, 0.09), np.float32)
TEETH = np.array((0.95, 0.93, 0.86), np.float32)
DARK = np.array((0.08, 0.06, 0.06), np.float32)
GLASS_TINT = np.array((0.85, 0.9, 0.95), np.float32)
FRAME = np.array((0.1, 0.1, 0.12), np.float32)


def _surface_depth(height):
  """Depth of the head's front surface on the midline at a height."""
  return HEAD_DEPTH * jnp.sqrt(jnp.maximum(1.0 - height * height, 0.0))


@dataclasses.dataclass
class _Mouth:
  """Per-image mouth geometry; corners move up for a smile and down for
  sadness, one-sided smiles lift the image-right corner only."""
  half_width: jax.Array
  corner_left: jax.Array
  corner_right: jax.Array
  opening: jax.Array
  lip_raise: jax.Array
  lip_thickness: jax.Array

  @classmethod
  def of(cls, scene):
    e, identity = scene.expression, scene.identity
    smile, one_sided = e['lip_corner_up'], e['one_sided_smile']
    corner_left = (-0.15 * smile + 0.12 * e['lip_corner_down']
                   + 0.02 * e['lip_stretch'])
    return cls(
        half_width=0.28 * column(identity.mouth_width) * (
            1.0 + 0.3 * e['lip_stretch'] + 0.15 * smile + 0.05 * one_sided
            - 0.3 * e['jaw_drop']),
        # Bounded so that extreme combinations keep the mouth a mouth.
        corner_left=jnp.clip(corner_left, -0.25, 0.2),
        corner_right=jnp.clip(corner_left - 0.15 * one_sided, -0.25, 0.2),
        opening=0.3 * e['jaw_drop'] + 0.05 * smile + 0.04 * e['lip_stretch'],
        lip_raise=0.06 * e['nose_wrinkle'],
        lip_thickness=column(identity.lip_thickness) * (
            1.0 - 0.35 * e['lip_stretch']),
    )


class _Painter:
  """Paints the features of one window; holds what the parts share."""

  def __init__(self, canvas, scene, view):
    self.canvas, self.scene, self.view = canvas, scene, view
    self.e = scene.expression
    self.identity = scene.identity
    self.side = jnp.where(view.s >= 0.0, 1.0, -1.0)
    self.lateral = jnp.abs(view.s)
    # Cheeks rise with a smile; a one-sided smile raises the right cheek only.
    self.cheek = (self.e['lip_corner_up']
                  + self.e['one_sided_smile'] * (self.side > 0))
    self.mouth_shape = _Mouth.of(scene)
    self.shaded_skin = colour(self.identity.skin) * view.shade[..., None]

  def face_cover(self, distance):
    """Coverage of a surface feature, foreshortened and kept on the face."""
    return self.scene.cover(distance * self.view.squash) * self.view.on_face

  def ears(self):
    """Ears stand off the head at longitudes of +-90 degrees."""
    pose, view, cover = self.scene.pose, self.view, self.scene.cover
    skin = colour(self.identity.skin)
    for side in (-1.0, 1.0):
      angle = side * np.pi / 2 + pose.phase
      ear_facing = jnp.cos(angle)
      ear_x = view.x - pose.radius * 0.98 * jnp.sin(angle)
      visible = jnp.clip((ear_facing + 0.25) * 4.0, 0.0, 1.0)
      width = 0.06 + 0.06 * jnp.abs(ear_facing)
      self.canvas.paint(
          skin * 0.9,
          cover(shapes.ellipse(ear_x, view.y - 0.08, width, 0.17)) * visible,
          LABELS['ear'])
      self.canvas.paint(
          skin * 0.68,
          cover(shapes.ellipse(ear_x, view.y - 0.08, width * 0.5, 0.1))
          * visible * jnp.abs(ear_facing), LABELS['ear'])

  def _paint_crease(self, distance, strength):
    self.canvas.paint(self.shaded_skin * 0.72,
                      self.face_cover(distance) * strength, LABELS['skin'])

  def upper_creases(self):
    """Forehead lines, frown lines and nose wrinkles."""
    e, s, t, lateral = self.e, self.view.s, self.view.t, self.lateral
    paint = self._paint_crease
    forehead = jnp.clip(e['brow_raise'] + 0.6 * e['inner_brow_raise'], 0, 1)
    for level in (-0.55, -0.66):
      paint(jnp.maximum(jnp.abs(t - level - 0.12 * s * s) - 0.016,
                        lateral - 0.32), 0.8 * forehead)
    paint(shapes.segment(lateral, t, 0.05, -0.24, 0.07, -0.07) - 0.014,
          0.9 * e['brow_lower'])
    for level in (-0.06, -0.01):
      paint(jnp.maximum(jnp.abs(t - level - 0.3 * s * s) - 0.012,
                        lateral - 0.1), 0.9 * e['nose_wrinkle'])

  def lower_creases(self):
    """Smile lines and blush."""
    e, t, lateral = self.e, self.view.t, self.lateral
    # Nasolabial folds run from the nose's wing to beyond the mouth corner.
    mouth = self.mouth_shape
    corner = jnp.where(self.side > 0, mouth.corner_right, mouth.corner_left)
    end_x = mouth.half_width + 0.05
    knee_x, knee_y = end_x + 0.02, 0.42 + corner * 0.5
    wing = 0.13 * column(self.identity.nose_width)
    fold = jnp.minimum(
        shapes.segment(lateral, t, wing + 0.03, 0.3, knee_x, knee_y),
        shapes.segment(lateral, t, knee_x, knee_y, end_x,
                       MOUTH_HEIGHT + corner + 0.05)) - 0.013
    self._paint_crease(fold, 0.15 + 0.85 * jnp.clip(
        self.cheek + 0.8 * e['nose_wrinkle'] + 0.3 * e['lip_stretch'], 0, 1))
    blush = shapes.ellipse(lateral - 0.33, t - 0.3, 0.14, 0.09)
    self.canvas.paint(self.shaded_skin * jnp.asarray([1.0, 0.82, 0.82]),
                      self.face_cover(blush) * 0.55
                      * jnp.clip(self.cheek, 0.0, 1.0), LABELS['skin'])

  def _eye_frame(self):
    """Coordinates centred on each eye, x pointing away from the midline."""
    return (self.lateral - column(self.identity.eye_spacing),
            self.view.t - EYE_HEIGHT)

  def eyes(self):
    """An almond between two parabolic lids, iris and pupil inside it."""
    e = self.e
    eye_size = column(self.identity.eye_size)
    half_width = 0.155 * eye_size
    upper_lid = 0.09 * eye_size * jnp.clip(
        1.0 + 1.0 * e['lid_raise'] - 0.6 * e['lid_tighten'] - 0.35 * self.cheek
        - 0.25 * e['nose_wrinkle'] - 0.2 * e['brow_lower'], 0.08, 2.0)
    lower_lid = 0.06 * eye_size * jnp.clip(
        1.0 + 0.3 * e['lid_raise'] - 0.6 * e['lid_tighten'] - 0.6 * self.cheek,
        0.1, 2.0)
    eye_x, eye_y = self._eye_frame()
    lid_shape = 1.0 - (eye_x / half_width) ** 2
    upper_edge = -upper_lid * lid_shape
    opening = jnp.maximum(upper_edge - eye_y, eye_y - lower_lid * lid_shape)
    label = jnp.where(self.side > 0, LABELS['eye_image_right'],
                      LABELS['eye_image_left'])
    self.canvas.paint(SCLERA, self.face_cover(opening), label)
    iris_x = eye_x - self.side * self.scene.gaze * 0.05
    iris_radius = 0.065 * eye_size
    iris = jnp.sqrt(iris_x * iris_x + eye_y * eye_y)
    self.canvas.paint(
        colour(self.identity.iris_colour),
        self.face_cover(jnp.maximum(iris - iris_radius, opening)), label)
    self.canvas.paint(
        DARK, self.face_cover(jnp.maximum(iris - 0.45 * iris_radius, opening)),
        label)
    # The lid's parabola dives steeply beyond the corners; the line follows
    # a flattened copy there so that it ends at the corners.
    line_edge = -upper_lid * jnp.maximum(lid_shape, -0.2)
    lid_line = jnp.maximum(jnp.abs(eye_y - line_edge) - 0.014,
                           jnp.abs(eye_x) - half_width * 1.08)
    self.canvas.paint(DARK, self.face_cover(lid_line), label)

  def brows(self):
    """Two segments from the inner end through an arch to the outer end."""
    e = self.e
    spacing = column(self.identity.eye_spacing)
    inner_x = spacing - 0.19 + 0.05 * e['brow_lower']
    inner_y = (-0.24 - 0.16 * e['brow_raise'] - 0.15 * e['inner_brow_raise']
               + 0.1 * e['brow_lower'])
    arch_y = (-0.3 - 0.16 * e['brow_raise'] - 0.06 * e['inner_brow_raise']
              + 0.065 * e['brow_lower'])
    outer_y = (-0.24 - 0.13 * e['brow_raise'] + 0.03 * e['inner_brow_raise']
               + 0.04 * e['brow_lower'])
    arch_x, outer_x = spacing - 0.02, spacing + 0.15
    lateral, t = self.lateral, self.view.t
    brow = jnp.minimum(
        shapes.segment(lateral, t, inner_x, inner_y, arch_x, arch_y),
        shapes.segment(lateral, t, arch_x, arch_y, outer_x, outer_y),
    ) - 0.038 * column(self.identity.brow_thickness)
    self.canvas.paint(colour(self.identity.hair_colour) * 0.75 + 0.03,
                      self.face_cover(brow), LABELS['brow'])

  def nose(self):
    """A ridge from the bridge to the tip standing off the surface, so that
    it juts out of the silhouette in profile; nose wrinkles lift the tip."""
    e, pose, view, cover = self.e, self.scene.pose, self.view, self.scene.cover
    identity = self.identity
    length, width = column(identity.nose_length), column(identity.nose_width)
    tip_y = 0.26 + 0.05 * (length - 1.0) - 0.02 * e['nose_wrinkle']
    base_y = tip_y + 0.06
    top = (pose.project(0.0, _surface_depth(-0.08) + 0.02), -0.08)
    tip = (pose.project(0.0, _surface_depth(tip_y) + 0.22 * length), tip_y)
    base = (pose.project(0.0, _surface_depth(base_y)), base_y)
    ridge = 0.07 * width * jnp.abs(pose.cos) + 0.015
    skin = colour(identity.skin)
    self.canvas.paint(
        skin * (0.9 + 0.05 * jnp.abs(pose.sin))[..., None],
        cover(shapes.triangle(view.x, view.y, top, tip, base) - ridge),
        LABELS['nose'])
    depth = _surface_depth(tip_y) + 0.07 * length
    for side in (-1.0, 1.0):
      lateral = side * 0.06 * width * (1.0 + 0.2 * e['nose_wrinkle'])
      visible = jnp.clip(0.3 + pose.cos - side * pose.sin, 0.0, 1.0)
      nostril = shapes.ellipse(view.x - pose.project(lateral, depth),
                               view.y - tip_y - 0.035,
                               0.03 * jnp.abs(pose.cos) + 0.008, 0.016)
      self.canvas.paint(skin * 0.35, cover(nostril) * visible, LABELS['nose'])

  def mouth(self):
    self.lips()
    self.lip_profile()

  def lips(self):
    """A mid-line through the corners, inner lips opened around it, outer lip
    edges beyond those; teeth show in the upper part of an open mouth."""
    mouth, s, t = self.mouth_shape, self.view.s, self.view.t
    mouth_x = s / mouth.half_width
    squared = mouth_x * mouth_x
    corner_line = (0.5 * (mouth.corner_left + mouth.corner_right)
                   + 0.5 * (mouth.corner_right - mouth.corner_left)
                   * jnp.clip(mouth_x, -1.0, 1.0))
    mid_line = MOUTH_HEIGHT + corner_line * squared
    fullness = 1.0 - squared
    beyond_corners = jnp.abs(s) - mouth.half_width
    inner_top = mid_line - (0.25 * mouth.opening + mouth.lip_raise) * fullness
    inner_bottom = mid_line + 0.75 * mouth.opening * fullness
    outer_top = inner_top - 0.04 * mouth.lip_thickness * fullness
    outer_bottom = inner_bottom + 0.05 * mouth.lip_thickness * fullness
    lips = jnp.maximum(jnp.maximum(outer_top - t, t - outer_bottom),
                       beyond_corners)
    self.canvas.paint(colour(self.identity.lip_colour)
                      * self.view.shade[..., None], self.face_cover(lips),
                      LABELS['mouth'])
    inside = jnp.maximum(jnp.maximum(inner_top - t, t - inner_bottom),
                         beyond_corners)
    self.canvas.paint(MOUTH_INSIDE, self.face_cover(inside), LABELS['mouth'])
    self.canvas.paint(
        TEETH, self.face_cover(jnp.maximum(inside, t - inner_top - 0.05))
        * jnp.clip(mouth.opening / 0.02, 0.0, 1.0), LABELS['mouth'])

  def lip_profile(self):
    """Seen from the side the lips stand off the face like the nose: their
    profile at the front of the head, with the opening as a notch."""
    mouth, pose, view, cover = self.mouth_shape, self.scene.pose, self.view, self.scene.cover
    top = (MOUTH_HEIGHT - 0.25 * mouth.opening - mouth.lip_raise
           - 0.04 * mouth.lip_thickness)
    bottom = MOUTH_HEIGHT + 0.75 * mouth.opening + 0.05 * mouth.lip_thickness
    profile_x = view.x - pose.project(0.0, _surface_depth(MOUTH_HEIGHT) + 0.03)
    weight = jnp.clip(2.0 * jnp.abs(pose.sin) - 1.0, 0.0, 1.0)
    width = 0.05 * jnp.abs(pose.sin) + 1e-3
    self.canvas.paint(
        colour(self.identity.lip_colour),
        cover(shapes.ellipse(profile_x, view.t - 0.5 * (top + bottom), width,
                             0.5 * (bottom - top))) * weight, LABELS['mouth'])
    gap = jnp.maximum(0.5 * mouth.opening, 0.004)
    self.canvas.paint(
        MOUTH_INSIDE,
        cover(shapes.ellipse(profile_x, view.t - MOUTH_HEIGHT
                             - 0.25 * mouth.opening, width * 1.02, gap))
        * weight, LABELS['mouth'])

  def moustache(self):
    """Identity only: it sits above the upper lip's resting place."""
    moustache = shapes.ellipse(self.view.s,
                               self.view.t - (MOUTH_HEIGHT - 0.1),
                               0.3 * column(self.identity.mouth_width), 0.045)
    self.canvas.paint(colour(self.identity.hair_colour) * 0.9,
                      self.face_cover(moustache)
                      * column(self.identity.moustache), LABELS['moustache'])

  def glasses(self):
    """Lens tint, rims and the bridge."""
    eye_x, eye_y = self._eye_frame()
    wears = column(self.identity.glasses)
    spacing = column(self.identity.eye_spacing)
    rim = shapes.ellipse(eye_x, eye_y + 0.01, 0.22, 0.15)
    self.canvas.paint(GLASS_TINT, self.face_cover(rim) * 0.15 * wears,
                      LABELS['glasses'])
    frame = jnp.minimum(
        jnp.abs(rim) - 0.012,
        shapes.segment(self.lateral, self.view.t, 0.0, -0.035,
                       spacing - 0.215, -0.03) - 0.012)
    self.canvas.paint(FRAME, self.face_cover(frame) * wears, LABELS['glasses'])


def _rows_of(view, rows: slice):
  """The view restricted to some rows (fields broadcast over rows stay)."""
  def crop(array):
    return array[..., rows, :] if array.shape[-2] > 1 else array
  return dataclasses.replace(view, **{
      field.name: crop(getattr(view, field.name))
      for field in dataclasses.fields(view)})


def paint_features(canvas: shapes.Canvas, scene, view, size: int):
  """Paints every facial feature, back to front, onto the feature window.

  Args:
    canvas: the feature window (see layout.feature_window) of the image.
    scene: render.Scene.
    view: render.HeadView over the same window.
    size: the image's size, to place each pass's band of rows.
  """
  everything = slice(None)
  for band in layout.FEATURE_BANDS:  # in painting order, back to front
    rows = layout.band_in_window(band, size)
    part = canvas.crop(rows, everything)
    getattr(_Painter(part, scene, _rows_of(view, rows)), band)()
    canvas.paste(part, rows, everything)

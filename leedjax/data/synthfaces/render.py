"""The SynthFaces renderer: a batch of faces from parameter arrays in one jit.

Geometry is 2.5D. The head is an ellipsoid; a pixel inside its silhouette is
mapped back to the surface point it sees (longitude `psi`, height `t`) and the
facial features are drawn in that surface frame (see `face.py`), so they move,
foreshorten and vanish behind the head as the yaw changes. The nose, lips and
ears stand off the surface and are projected from 3D instead.

All lengths are in head units: the head's half-height is 1, x points right and
y down, the origin is the head's centre.
"""

import dataclasses
import functools
from typing import Callable

import jax
import jax.numpy as jnp

from leedjax.data.synthfaces import face
from leedjax.data.synthfaces import layout
from leedjax.data.synthfaces import shapes
from leedjax.data.synthfaces.expressions import AU_INDEX
from leedjax.data.synthfaces.identity import FaceIdentity
from leedjax.data.synthfaces.layout import HEAD_CENTRE_Y
from leedjax.data.synthfaces.layout import HEAD_DEPTH
from leedjax.data.synthfaces.layout import HEAD_HALF_HEIGHT
from leedjax.data.synthfaces.layout import LABELS
from leedjax.data.synthfaces.shapes import colour
from leedjax.data.synthfaces.shapes import column

MIXED = shapes.Canvas.MIXED


class Pose:
  """Per-image projection of the head ellipsoid for a yaw angle."""

  def __init__(self, yaw_degrees, head_width):
    theta = jnp.deg2rad(column(yaw_degrees))
    self.sin, self.cos = jnp.sin(theta), jnp.cos(theta)
    self.width = head_width
    # Projected half-width of the head, and the longitude seen at its centre.
    self.radius = jnp.sqrt((head_width * self.cos) ** 2 +
                           (HEAD_DEPTH * self.sin) ** 2)
    self.phase = jnp.arctan2(HEAD_DEPTH * self.sin, head_width * self.cos)

  def project(self, lateral, depth):
    """Image x of the 3D point (lateral, ., depth) after the yaw rotation."""
    return lateral * self.cos + depth * self.sin


@dataclasses.dataclass
class Scene:
  """Per-image parameters shared by every layer."""
  identity: FaceIdentity
  expression: dict[str, jax.Array]  # AU name -> (B, 1, 1)
  gaze: jax.Array                   # (B, 1, 1)
  pose: Pose
  cover: Callable                   # signed distance -> pixel coverage


@dataclasses.dataclass
class HeadView:
  """Where each pixel of a grid lands on the head.

  x, y: pixel centres; s, t: the surface point seen (lateral, along the face,
  and height); psi: its longitude (0 is the face's midline); facing: cosine of
  the angle between the surface and the view; squash: pixels per surface unit
  across the face; head_cover: coverage of the silhouette; on_face: where
  surface features may show; shade: diffuse lighting of the skin.
  """
  x: jax.Array
  y: jax.Array
  half_width: jax.Array
  head_cover: jax.Array
  psi: jax.Array
  s: jax.Array
  t: jax.Array
  facing: jax.Array
  squash: jax.Array
  on_face: jax.Array
  shade: jax.Array


def head_view(x, y, scene: Scene) -> HeadView:
  pose = scene.pose
  # The jaw narrows towards the chin.
  jaw = 1.0 - column(scene.identity.jaw_narrowing) * jnp.maximum(y, 0.0) ** 2
  half_width = pose.radius * jaw
  head_cover = scene.cover(shapes.ellipse(x, y, half_width, 1.0))
  height_profile = jnp.sqrt(jnp.maximum(1.0 - y * y, 1e-4))
  # The surface point each pixel sees: sin(psi + phase) = x / local half-width.
  sin_view = jnp.clip(x / (half_width * height_profile + 1e-4), -1.0, 1.0)
  facing = jnp.sqrt(1.0 - sin_view * sin_view)
  psi = jnp.arcsin(sin_view) - pose.phase
  # Surface distances are scaled by the foreshortening before antialiasing.
  # That is exact across the face but also (wrongly) scales distances along
  # it, so it is bounded below, keeping the blur near the limb to one pixel,
  # where features fade out instead.
  squash = jnp.maximum(half_width * height_profile * facing / pose.width, 0.5)
  light = jnp.clip(0.88 * facing - 0.47 * sin_view, 0.0, 1.0)
  return HeadView(
      x=x, y=y, half_width=half_width, head_cover=head_cover, psi=psi,
      s=pose.width * psi, t=y, facing=facing, squash=squash,
      on_face=head_cover * shapes.smoothstep(0.0, 0.15, facing),
      shade=0.8 + 0.2 * light)


def _paint_body(canvas: shapes.Canvas, scene: Scene, x, y):
  """Long hair behind the head, the neck and the clothes."""
  pose, identity = scene.pose, scene.identity
  is_long = (column(identity.hair_style) == 1).astype(jnp.float32)
  back_hair = jnp.maximum(
      shapes.ellipse(x + 0.3 * pose.sin, y - 0.25, pose.radius + 0.14, 1.05),
      y - 1.15)
  canvas.paint(colour(identity.hair_colour), scene.cover(back_hair) * is_long,
               LABELS['hair'])
  neck_x = x + 0.12 * pose.sin
  canvas.paint(colour(identity.skin) * 0.8,
               scene.cover(jnp.maximum(jnp.abs(neck_x) - 0.3, 0.4 - y)),
               LABELS['neck'])
  # The shoulders narrow as the body turns; the collar dips under the neck.
  shoulder_x = x / (0.55 + 0.45 * jnp.abs(pose.cos))
  collar = 0.18 * jnp.maximum(0.0, 1.0 - jnp.abs(neck_x) / 0.28)
  canvas.paint(colour(identity.clothing),
               scene.cover(1.02 + 0.1 * shoulder_x ** 2 + collar - y),
               LABELS['clothing'])


def _paint_hair(canvas: shapes.Canvas, scene: Scene, view: HeadView):
  """Hair over the head: down to the hairline in front, above the ears at the
  sides and to the nape at the back (long hair covers the ears). Outside the
  silhouette psi is the longitude of the limb, so the same rule gives volume."""
  identity = scene.identity
  style = column(identity.hair_style)
  is_long, is_buzz = style == 1, (style == 2).astype(jnp.float32)
  hairline = -column(identity.hairline) + column(identity.fringe) * 0.3 * (
      jnp.maximum(0.0, 1.0 - (view.s / 0.5) ** 2))
  side_level = jnp.where(is_long, 0.95, -0.1)
  back_level = jnp.where(is_long, 0.95, 0.45)
  turn = jnp.abs(view.psi)
  level = (hairline
           + (side_level - hairline) * shapes.smoothstep(1.0, 1.35, turn)
           + (back_level - side_level) * shapes.smoothstep(1.9, 2.3, turn))
  volume = 0.06 - 0.045 * is_buzz
  region = shapes.ellipse(view.x, view.y + 0.02, view.half_width + volume,
                          1.0 + volume)
  canvas.paint(colour(identity.hair_colour),
               scene.cover(jnp.maximum(region, view.t - level))
               * (1.0 - 0.25 * is_buzz), LABELS['hair'])


def _pixel_grid(size: int, rows: slice, cols: slice):
  """x (1, 1, W) and y (1, H, 1), in head units, of the pixels in rows x cols."""
  centres = (jnp.arange(size, dtype=jnp.float32) + 0.5) / size * 2.0 - 1.0
  return ((centres[cols] / HEAD_HALF_HEIGHT)[None, None, :],
          ((centres[rows] - HEAD_CENTRE_Y) / HEAD_HALF_HEIGHT)[None, :, None])


# Faces rendered at a time: the canvas of a chunk stays in the CPU's cache
# while every layer is painted over it (1.3x faster than one big batch).
CHUNK_PIXELS = 64 * 64 * 8


@functools.partial(jax.jit, static_argnames=('size', 'with_labels'))
def render(identity: FaceIdentity, aus, yaw_degrees, gaze, *, size: int,
           with_labels: bool = False):
  """Renders a batch of faces.

  Args:
    identity: FaceIdentity with batch size B.
    aus: (B, NUM_AUS) expression controls, 0 is neutral, 1 a full expression.
    yaw_degrees: (B,) head yaw; 0 frontal, +90 the face looking image-right.
    gaze: (B,) horizontal gaze in [-1, 1] (+1 looks image-right).
    size: output height and width in pixels.
    with_labels: also return per-pixel layer ids: the `LABELS` id of the
      topmost layer touching each pixel, plus the `MIXED` bit where it covers
      the pixel only partly.

  Returns:
    uint8 images (B, size, size, 3); with labels, also uint8 (B, size, size).
  """
  batch = aus.shape[0]
  chunk = max(1, min(batch, CHUNK_PIXELS // (size * size)))
  num_chunks = -(-batch // chunk)
  # Pad the batch to whole chunks by repeating the last face.
  rows = jnp.minimum(jnp.arange(num_chunks * chunk), batch - 1)
  inputs = jax.tree.map(
      lambda a: jnp.asarray(a)[rows].reshape(num_chunks, chunk,
                                             *jnp.shape(a)[1:]),
      (identity, aus, yaw_degrees, gaze))
  outputs = jax.lax.map(
      lambda args: _render_chunk(*args, size=size, with_labels=with_labels),
      inputs)
  return jax.tree.map(
      lambda a: a.reshape(num_chunks * chunk, *a.shape[2:])[:batch], outputs)


def _render_chunk(identity, aus, yaw_degrees, gaze, *, size, with_labels):
  pixel = 2.0 / size / HEAD_HALF_HEIGHT
  scene = Scene(
      identity=identity,
      expression={name: column(aus[:, i]) for name, i in AU_INDEX.items()},
      gaze=column(gaze),
      pose=Pose(yaw_degrees, column(identity.head_width)),
      cover=functools.partial(shapes.coverage, pixel=pixel))
  everything = slice(None)
  x, y = _pixel_grid(size, everything, everything)

  # Background: the identity's colour with a soft vertical falloff.
  falloff = 1.0 - 0.12 * (y * HEAD_HALF_HEIGHT + HEAD_CENTRE_Y + 1.0) / 2.0
  canvas = shapes.Canvas(
      jnp.broadcast_to(colour(identity.background) * falloff[..., None],
                       (aus.shape[0], size, size, 3)),
      with_labels, LABELS['background'])
  _paint_body(canvas, scene, x, y)
  view = head_view(x, y, scene)
  canvas.paint(colour(identity.skin) * view.shade[..., None], view.head_cover,
               LABELS['skin'])
  # Facial features only ever occupy a fixed window of the image, and each
  # pass of them a band of its rows; painting only there is 3x faster.
  rows, cols = layout.feature_window(size)
  window = canvas.crop(rows, cols)
  face.paint_features(window, scene,
                      head_view(*_pixel_grid(size, rows, cols), scene), size)
  canvas.paste(window, rows, cols)
  _paint_hair(canvas, scene, view)

  image = jnp.round(jnp.clip(canvas.image, 0.0, 1.0) * 255.0).astype(jnp.uint8)
  if with_labels:
    return image, canvas.labels
  return image

"""Signed-distance primitives and alpha compositing for the SynthFaces renderer.

Distances are negative inside a shape. Antialiasing turns a distance into pixel
coverage with a one-pixel ramp, so edges are smooth at any resolution.

Images are (B, H, W) grids; x is a (1, 1, W) row and y a (1, H, 1) column, and
per-image parameters are (B, 1, 1). Whatever depends only on an image and a
row is then computed once per row: the compiler hoists it out of the x loop.
"""

import jax.numpy as jnp


def column(values):
  """Per-image scalars (B,) -> (B, 1, 1), to broadcast against pixel grids."""
  return jnp.asarray(values, jnp.float32).reshape(-1, 1, 1)


def colour(values):
  """Per-image colours (B, 3), or one colour (3,), -> (B, 1, 1, 3)."""
  return jnp.asarray(values, jnp.float32).reshape(-1, 1, 1, 3)


def smoothstep(edge0, edge1, x):
  t = jnp.clip((x - edge0) * (1.0 / (edge1 - edge0)), 0.0, 1.0)
  return t * t * (3.0 - 2.0 * t)


def coverage(distance, pixel):
  """Fraction of a pixel of width `pixel` covered by the inside of a shape."""
  return jnp.clip(0.5 - distance * (1.0 / pixel), 0.0, 1.0)


def ellipse(x, y, rx, ry):
  """First-order distance to an axis-aligned ellipse centred at the origin."""
  # Radii are per image, so their reciprocals are cheap; per-pixel divisions
  # are not (this function dominates the renderer's cost).
  inv_rx, inv_ry = 1.0 / rx, 1.0 / ry
  qx, qy = x * inv_rx, y * inv_ry
  k = jnp.sqrt(qx * qx + qy * qy)
  gx, gy = qx * inv_rx, qy * inv_ry
  first_order = k * (k - 1.0) / jnp.maximum(jnp.sqrt(gx * gx + gy * gy), 1e-6)
  # Far from an elongated ellipse the first-order estimate falls well short
  # of the distance; (k - 1) * the smaller radius is a lower bound there.
  return jnp.maximum(first_order, (k - 1.0) * jnp.minimum(rx, ry))


def segment(x, y, ax, ay, bx, by):
  """Unsigned distance to the segment from (ax, ay) to (bx, by)."""
  pax, pay = x - ax, y - ay
  bax, bay = bx - ax, by - ay
  inv_length2 = 1.0 / (bax * bax + bay * bay + 1e-9)
  h = jnp.clip((pax * bax + pay * bay) * inv_length2, 0.0, 1.0)
  dx, dy = pax - bax * h, pay - bay * h
  return jnp.sqrt(dx * dx + dy * dy)


def triangle(x, y, a, b, c):
  """Signed distance to the triangle with corners a, b, c (each an (x, y) pair).

  Exact; a degenerate (flat) triangle becomes the distance to its segments.
  """
  def edge(p, q):
    return (q[0] - p[0]) * (y - p[1]) - (q[1] - p[1]) * (x - p[0])

  e_ab, e_bc, e_ca = edge(a, b), edge(b, c), edge(c, a)
  inside = ((e_ab > 0) & (e_bc > 0) & (e_ca > 0)) | (
      (e_ab < 0) & (e_bc < 0) & (e_ca < 0))
  distance = jnp.minimum(jnp.minimum(segment(x, y, *a, *b),
                                     segment(x, y, *b, *c)),
                         segment(x, y, *c, *a))
  return jnp.where(inside, -distance, distance)


class Canvas:
  """Accumulates layers back to front; optionally tracks which layer is on top.

  `image` is (B, H, W, 3). `labels` holds, per pixel, the id of the topmost
  layer that touches it, plus `MIXED` (a flag bit) where that layer covers the
  pixel only partly, so that lower layers show through. Only pixels without
  the flag are guaranteed to equal their layer's own colour.
  """
  MIXED = 128

  def __init__(self, background, track_labels: bool, background_id: int):
    self.image = background
    self.track_labels = track_labels
    if track_labels:
      self.labels = jnp.full(background.shape[:-1], background_id, jnp.uint8)

  def crop(self, rows: slice, cols: slice) -> 'Canvas':
    """A canvas over a window of this one; paint it, then `paste` it back."""
    window = Canvas(self.image[:, rows, cols], False, 0)
    window.track_labels = self.track_labels
    if self.track_labels:
      window.labels = self.labels[:, rows, cols]
    return window

  def paste(self, window: 'Canvas', rows: slice, cols: slice):
    self.image = self.image.at[:, rows, cols].set(window.image)
    if self.track_labels:
      self.labels = self.labels.at[:, rows, cols].set(window.labels)

  def paint(self, colour, alpha, label):
    """Paints `colour` with per-pixel opacity `alpha`; label is an int or array."""
    self.image = self.image + alpha[..., None] * (colour - self.image)
    if self.track_labels:
      label = jnp.asarray(label, jnp.uint8)
      self.labels = jnp.where(
          alpha >= 1.0, label,
          jnp.where(alpha > 0.0, label | jnp.uint8(self.MIXED), self.labels))

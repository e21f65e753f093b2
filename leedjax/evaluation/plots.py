"""The evaluation's figures, drawn with PIL only.

`scatter_png` draws 2-D embeddings coloured by class (LEED Fig. 4);
`label_grid_png` lays out image rows, each named in a left column, under
optional column headers (Figs. 3, 5 and 7, the training sample grids and the
SynthFaces contact sheet), small images upscaled to a viewable size;
`line_chart_png` draws learning curves (leedjax/curves.py).
"""

import itertools
import math
import os
from typing import Sequence

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from leedjax import files

# Tableau 10, the palette of matplotlib's 'tab10': distinguishable classes.
PALETTE = (
    (31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40),
    (148, 103, 189), (140, 86, 75), (227, 119, 194), (127, 127, 127),
    (188, 189, 34), (23, 190, 207),
)
# Past ten classes (CFEE has 22), the palette again, darker, then lighter.
COLOURS = (PALETTE
           + tuple(tuple(round(c * 0.55) for c in rgb) for rgb in PALETTE)
           + tuple(tuple(round(c + (255 - c) * 0.55) for c in rgb)
                   for rgb in PALETTE))
BACKGROUND = (255, 255, 255)
TEXT = (0, 0, 0)
FRAME = (210, 210, 210)

TITLE_HEIGHT = 24
LEGEND_ROW_HEIGHT = 20
# Fraction of a panel's side left empty around the points.
PANEL_MARGIN = 0.06

GRID_GAP = 2
GRID_PAD = 4
# Side in pixels that grid images are upscaled to at least (a 32 px face is
# too small to judge on screen); larger images are left as they are.
DISPLAY_SIDE = 128


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
  try:
    return ImageFont.load_default(size=size)
  except (ImportError, ValueError, TypeError):  # Pillow without FreeType.
    return ImageFont.load_default()


def _text_size(draw: ImageDraw.ImageDraw, text: str, font) -> tuple[int, int]:
  left, top, right, bottom = draw.multiline_textbbox((0, 0), text, font=font)
  return right - left, bottom - top


def _draw_centred(draw, centre_x, centre_y, text, font):
  draw.multiline_text((centre_x, centre_y), text, fill=TEXT, font=font,
                      anchor='mm', align='center')


def to_panel_pixels(embedding: np.ndarray, panel_size: int) -> np.ndarray:
  """(N, 2) pixel coordinates of `embedding` in a square panel.

  One scale for both axes (t-SNE distances are isotropic), points centred,
  `PANEL_MARGIN` of the side left free; y grows upwards as on a plot.
  """
  low, high = embedding.min(0), embedding.max(0)
  extent = float(np.max(high - low))
  usable = panel_size * (1 - 2 * PANEL_MARGIN)
  scale = usable / extent if extent > 0 else 0.0
  centred = (embedding - (low + high) / 2) * scale
  return np.stack([panel_size / 2 + centred[:, 0],
                   panel_size / 2 - centred[:, 1]], axis=1)


def _legend_layout(draw, class_names, width, font):
  """Top-left corners of each (swatch, name) item, wrapped into rows."""
  swatch = LEGEND_ROW_HEIGHT // 2
  positions, x, row = [], GRID_PAD, 0
  for name in class_names:
    item = swatch + 4 + _text_size(draw, name, font)[0] + 12
    if x > GRID_PAD and x + item > width:
      x, row = GRID_PAD, row + 1
    positions.append((x, row * LEGEND_ROW_HEIGHT))
    x += item
  return positions, row + 1


def _draw_legend(draw, names, positions, legend_top: int, font) -> None:
  """A colour swatch and each name at its `_legend_layout` position."""
  swatch = LEGEND_ROW_HEIGHT // 2
  for colour, name, (x, y) in zip(COLOURS, names, positions):
    top = legend_top + y + (LEGEND_ROW_HEIGHT - swatch) // 2
    draw.rectangle((x, top, x + swatch - 1, top + swatch - 1), fill=colour)
    draw.text((x + swatch + 4, legend_top + y + LEGEND_ROW_HEIGHT / 2), name,
              fill=TEXT, font=font, anchor='lm')


def scatter_png(panels: Sequence[tuple[str, np.ndarray]], labels: np.ndarray,
                class_names: Sequence[str], path: str | os.PathLike, *,
                panel_size: int = 360) -> None:
  """Writes side-by-side 2-D scatter panels coloured by class as a PNG.

  Layout: a `TITLE_HEIGHT` title band, the `panel_size` square panels with
  no gap (width = len(panels) * panel_size), then `LEGEND_ROW_HEIGHT` legend
  rows, as many as the class names need.

  Args:
    panels: (title, (N, 2) embedding) per panel, all for the same N points.
    labels: (N,) integer class of each point, in [0, len(class_names)).
    class_names: legend name of each class; at most len(COLOURS).
    path: where the PNG goes, written atomically.
    panel_size: side of each square panel in pixels.
  """
  labels = np.asarray(labels)
  _check_scatter(panels, labels, class_names, panel_size)
  font = _font(12)
  width = len(panels) * panel_size
  measure = ImageDraw.Draw(Image.new('RGB', (1, 1)))
  legend, legend_rows = _legend_layout(measure, class_names, width, font)
  legend_top = TITLE_HEIGHT + panel_size
  image = Image.new('RGB', (width, legend_top + legend_rows
                            * LEGEND_ROW_HEIGHT), BACKGROUND)
  draw = ImageDraw.Draw(image)
  radius = max(2, panel_size // 150)
  # A fixed shuffle, so no class is always drawn on top of the others.
  order = np.random.default_rng(0).permutation(labels.size)
  for index, (title, embedding) in enumerate(panels):
    left = index * panel_size
    _draw_centred(draw, left + panel_size / 2, TITLE_HEIGHT / 2, title, font)
    draw.rectangle((left, TITLE_HEIGHT, left + panel_size - 1,
                    legend_top - 1), outline=FRAME)
    pixels = to_panel_pixels(np.asarray(embedding, np.float64), panel_size)
    for point in order:
      x, y = pixels[point] + (left, TITLE_HEIGHT)
      draw.ellipse((x - radius, y - radius, x + radius, y + radius),
                   fill=COLOURS[labels[point]])
  _draw_legend(draw, class_names, legend, legend_top, font)
  files.write_png(path, image)


def _check_scatter(panels, labels, class_names, panel_size):
  if not panels:
    raise ValueError('scatter_png needs at least one panel')
  if not 1 <= len(class_names) <= len(COLOURS):
    raise ValueError(f'need 1 to {len(COLOURS)} class names (one colour '
                     f'each); got {len(class_names)}')
  if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
    raise ValueError(f'labels must be a 1-D integer array; got shape '
                     f'{labels.shape}, dtype {labels.dtype}')
  if labels.size and not (0 <= labels.min()
                          and labels.max() < len(class_names)):
    raise ValueError(f'labels must lie in [0, {len(class_names)}); got '
                     f'[{labels.min()}, {labels.max()}]')
  if panel_size < 16:
    raise ValueError(f'panel_size must be at least 16; got {panel_size}')
  for title, embedding in panels:
    embedding = np.asarray(embedding)
    if embedding.shape != (labels.size, 2):
      raise ValueError(f'panel {title!r}: embedding must have shape '
                       f'({labels.size}, 2); got {embedding.shape}')
    if not np.all(np.isfinite(embedding)):
      raise ValueError(f'panel {title!r}: embedding has non-finite values')


def display_scale(height: int, width: int) -> int:
  """The integer upscaling that shows an image at `DISPLAY_SIDE` pixels or
  more on its shorter side: 4 for 32 px, 2 for 64 px, 1 from 128 px."""
  return max(1, math.ceil(DISPLAY_SIDE / min(height, width)))


def label_grid(rows: Sequence[np.ndarray], row_labels: Sequence[str],
               column_labels: Sequence[str] | None = None, *,
               scale: int | None = None) -> Image.Image:
  """Image rows, each named in a left column, under optional column headers.

  Layout: the label column (widest row label plus `GRID_PAD` each side) and
  the header row (tallest column label plus `GRID_PAD` above and below; just
  `GRID_PAD` without column labels) come first; then the cells, each `scale`
  times the image size (wider if its header is), `GRID_GAP` apart, and a
  `GRID_PAD` margin right and below. Images sit at the top of their cell,
  centred across it.

  Args:
    rows: per row, (K, H, W, 3) uint8 images; K may differ between rows
      (short rows end in white), H and W may not.
    row_labels: one label per row (may span lines).
    column_labels: one header per column of the longest row; None: no
      header row.
    scale: integer upscaling, nearest neighbour (keeps small faces crisp);
      None: `display_scale` of the images.

  Returns:
    The RGB grid.
  """
  _check_grid(rows, row_labels, column_labels, scale)
  height, width = rows[0].shape[1:3]
  if scale is None:
    scale = display_scale(height, width)
  cell_height, cell_width = height * scale, width * scale
  num_columns = max(images.shape[0] for images in rows)
  font = _font(12)
  measure = ImageDraw.Draw(Image.new('RGB', (1, 1)))
  row_sizes = [_text_size(measure, label, font) for label in row_labels]
  column_sizes = [_text_size(measure, label, font)
                  for label in column_labels or ()]
  label_width = max(w for w, _ in row_sizes) + 2 * GRID_PAD
  header_height = max([h + 2 * GRID_PAD for _, h in column_sizes]
                      + [GRID_PAD])
  column_width = max([cell_width] + [w + 2 * GRID_GAP
                                     for w, _ in column_sizes])
  grid_width = num_columns * column_width + (num_columns - 1) * GRID_GAP
  grid_height = len(rows) * cell_height + (len(rows) - 1) * GRID_GAP
  image = Image.new('RGB', (label_width + grid_width + GRID_PAD,
                            header_height + grid_height + GRID_PAD),
                    BACKGROUND)
  draw = ImageDraw.Draw(image)
  for column, label in enumerate(column_labels or ()):
    left = label_width + column * (column_width + GRID_GAP)
    _draw_centred(draw, left + column_width / 2, header_height / 2, label,
                  font)
  for row, (images, label) in enumerate(zip(rows, row_labels)):
    top = header_height + row * (cell_height + GRID_GAP)
    draw.multiline_text((GRID_PAD, top + cell_height / 2), label, fill=TEXT,
                        font=font, anchor='lm')
    for column, face in enumerate(images):
      left = (label_width + column * (column_width + GRID_GAP)
              + (column_width - cell_width) // 2)
      upscaled = np.repeat(np.repeat(face, scale, axis=0), scale, axis=1)
      image.paste(Image.fromarray(upscaled, 'RGB'), (left, top))
  return image


def label_grid_png(rows: Sequence[np.ndarray], row_labels: Sequence[str],
                   column_labels: Sequence[str] | None,
                   path: str | os.PathLike, *,
                   scale: int | None = None) -> None:
  """Writes `label_grid(rows, row_labels, column_labels, scale=scale)` as a
  PNG, atomically."""
  files.write_png(path, label_grid(rows, row_labels, column_labels,
                                   scale=scale))


def _check_grid(rows, row_labels, column_labels, scale):
  if not rows:
    raise ValueError('label_grid needs at least one row')
  if len(row_labels) != len(rows):
    raise ValueError(f'need one row label per row: {len(rows)} rows, '
                     f'{len(row_labels)} labels')
  shapes = set()
  for index, images in enumerate(rows):
    if (not isinstance(images, np.ndarray) or images.ndim != 4
        or images.shape[-1] != 3 or images.dtype != np.uint8):
      raise ValueError(
          f'row {index} must be a (K, H, W, 3) uint8 array; got '
          f'{getattr(images, "shape", type(images))}, '
          f'{getattr(images, "dtype", "")}')
    shapes.add(images.shape[1:3])
  if len(shapes) != 1:
    raise ValueError(f'all images need the same height and width; got '
                     f'{sorted(shapes)}')
  longest = max(images.shape[0] for images in rows)
  if longest == 0:
    raise ValueError('every row is empty')
  if column_labels is not None and len(column_labels) != longest:
    raise ValueError(f'need one column label per column of the longest row '
                     f'({longest}); got {len(column_labels)}')
  if scale is not None and (int(scale) != scale or scale < 1):
    raise ValueError(f'scale must be a positive integer; got {scale}')


def _tick_spacing(span: int) -> int:
  """A round step (1, 2 or 5 times a power of ten) giving 4-10 ticks."""
  spacing, factors = 1.0, itertools.cycle((2, 2.5, 2))  # 1, 2, 5, 10, ...
  while span / spacing > 10:
    spacing *= next(factors)
  return int(spacing)


def line_chart_png(title: str, steps: Sequence[int],
                   series: dict[str, Sequence[float | None]],
                   path: str | os.PathLike, *, width: int = 640,
                   height: int = 360) -> None:
  """Writes curves of values in [0, 1] against training steps as a PNG.

  Args:
    title: drawn above the plot.
    steps: the x value of every point, increasing.
    series: {legend name: one value per step, None where not measured}.
    path: where the PNG goes, written atomically.
    width, height: of the plot area in pixels.
  """
  if not steps or not series:
    raise ValueError('line_chart_png needs at least one step and one series')
  if len(series) > len(COLOURS):
    raise ValueError(f'at most {len(COLOURS)} series; got {len(series)}')
  for name, values in series.items():
    if len(values) != len(steps):
      raise ValueError(f'series {name!r}: {len(values)} values for '
                       f'{len(steps)} steps')
  font = _font(12)
  measure = ImageDraw.Draw(Image.new('RGB', (1, 1)))
  axis_left, axis_bottom = 44, 28  # room for tick labels
  full_width = axis_left + width + 32  # the last step's label overhangs
  legend, legend_rows = _legend_layout(measure, list(series), full_width,
                                       font)
  plot_top = TITLE_HEIGHT
  plot_bottom = plot_top + height
  legend_top = plot_bottom + axis_bottom
  image = Image.new('RGB', (full_width, legend_top + legend_rows
                            * LEGEND_ROW_HEIGHT), BACKGROUND)
  draw = ImageDraw.Draw(image)
  _draw_centred(draw, full_width / 2, TITLE_HEIGHT / 2, title, font)
  last = max(steps[-1], 1)

  def at(step, value):
    return (axis_left + width * step / last,
            plot_bottom - height * min(max(value, 0.0), 1.0))

  for tick in np.linspace(0.0, 1.0, 6):  # y: 0, 0.2, ... 1
    _, y = at(0, tick)
    draw.line((axis_left, y, axis_left + width, y), fill=FRAME)
    draw.text((axis_left - 4, y), f'{tick:.1f}', fill=TEXT, font=font,
              anchor='rm')
  for tick in range(0, last + 1, _tick_spacing(last)):
    x, _ = at(tick, 0.0)
    draw.line((x, plot_top, x, plot_bottom), fill=FRAME)
    draw.text((x, plot_bottom + 4), f'{tick:,}', fill=TEXT, font=font,
              anchor='ma')
  for colour, values in zip(COLOURS, series.values()):
    points = [at(step, value) for step, value in zip(steps, values)
              if value is not None]
    if len(points) > 1:
      draw.line(points, fill=colour, width=2)
    for x, y in points:
      draw.ellipse((x - 3, y - 3, x + 3, y + 3), fill=colour)
  _draw_legend(draw, list(series), legend, legend_top, font)
  files.write_png(path, image)

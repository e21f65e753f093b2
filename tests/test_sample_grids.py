"""Training sample grids: trainers return named rows (`base.SampleGrid`),
the loop writes them upscaled and labelled (`SampleGrid.picture`) to
TensorBoard and `samples/NAME_STEP.png`."""

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from configs import synthetic
from leedjax import metric_writers
from leedjax.evaluation import plots
from leedjax.trainers import base
from leedjax.trainers import leed


def _grid(size, num_rows, num_columns, seed=0):
  rows = np.random.default_rng(seed).uniform(
      -1, 1, (num_rows, num_columns, size, size, 3)).astype(np.float32)
  return base.SampleGrid(rows, tuple(f'row {row}' for row in range(num_rows)))


def test_a_jitted_function_returns_a_grid_with_its_labels():
  grid = jax.jit(lambda x: base.SampleGrid(jnp.stack([x, -x]),
                                           ('input', 'negated')))(
                                               jnp.ones((2, 4, 4, 3)))
  assert grid.labels == ('input', 'negated')
  assert grid.rows.shape == (2, 2, 4, 4, 3)


def test_the_png_of_32_px_samples_is_upscaled_4x_and_labelled(tmp_path):
  grid = _grid(32, num_rows=3, num_columns=2)
  writer = metric_writers.MetricWriter(tmp_path)
  writer.write_images(7, {'edits': grid.picture()})
  writer.close()
  with Image.open(tmp_path / 'samples' / 'edits_0000007.png') as image:
    pixels = np.asarray(image)
  cell, step = 4 * 32, 4 * 32 + plots.GRID_GAP
  top = plots.GRID_PAD
  left = pixels.shape[1] - plots.GRID_PAD - (2 * cell + plots.GRID_GAP)
  assert pixels.shape[0] == 2 * plots.GRID_PAD + 3 * cell + 2 * (
      plots.GRID_GAP)
  faces = base.to_uint8(grid.rows)
  for row in range(3):
    for column in range(2):
      block = pixels[top + row * step:top + row * step + cell,
                     left + column * step:left + column * step + cell]
      np.testing.assert_array_equal(
          block, np.kron(faces[row, column], np.ones((4, 4, 1), np.uint8)))
  strips = [pixels[top + row * step:top + row * step + cell, :left]
            for row in range(3)]
  assert all(strip.min() < 100 for strip in strips)  # dark label text
  assert not np.array_equal(strips[0], strips[1])
  assert not np.array_equal(strips[1], strips[2])
  assert list((tmp_path / 'tensorboard').glob('events.out.*'))


def test_128_px_samples_are_not_upscaled():
  grid = _grid(128, num_rows=1, num_columns=1)
  pixels = grid.picture()
  assert pixels.shape[0] == 2 * plots.GRID_PAD + 128
  np.testing.assert_array_equal(
      pixels[plots.GRID_PAD:-plots.GRID_PAD,
             -plots.GRID_PAD - 128:-plots.GRID_PAD],
      base.to_uint8(grid.rows[0, 0]))


def _leed_batch(size, count, true_edit):
  def view():
    images = jax.ShapeDtypeStruct((count, size, size, 3), jnp.uint8)
    return {'image': images, 'neutral': images,
            'features': jax.ShapeDtypeStruct((count, 16), jnp.float32)}

  batch = {'input': view(), 'reference': view()}
  if true_edit:
    batch['input']['true_edit'] = batch['input']['image']
  return batch


def test_leed_samples_name_every_row():
  config = synthetic.get_config('smoke')
  trainer = leed.LeedTrainer(config, batches_fn=None, feature_dim=16,
                             vgg_params=None)
  size = config.data.image_size
  edits = ['alpha 0.5', 'alpha 1', 'alpha 1.5']
  for true_edit, last in ((True, ['true edit']), (False, [])):
    batch = _leed_batch(size, 3, true_edit)
    state = jax.eval_shape(trainer.init, jax.random.key(0), batch)
    grid = jax.eval_shape(trainer.samples, state, batch)['edits']
    assert grid.labels == ('input', 'reference', 'input\nneutral',
                           'reference\nneutral', *edits, *last)
    assert grid.rows.shape == (len(grid.labels), 3, size, size, 3)

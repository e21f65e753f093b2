"""grain input pipelines over a prepared TFDS split (random access, no TensorFlow).

Three pipelines read `builder.as_data_source(split)`; each yields this
process's rows of every global batch as numpy arrays (turn them into global
`jax.Array`s with `sharding.global_batch`):

- `pair_batches`: LEED training pairs `{'input': view, 'reference': view}`,
  shuffled and repeated forever.
- `image_batches`: single views, shuffled and repeated forever (classifier
  and StarGAN training).
- `eval_batches`: every record once, in order; the last batch is padded with
  copies of the final record and `mask` is False on the padding.

A view holds `image` (uint8, H x W x 3: a quarter of float32's host memory and
host-to-device traffic; `to_float` maps it to [-1, 1] on device), `index` (the
record's index in the split), `flipped`, and the record's `subject`,
`expression`, `angle` and `catalog_row` (int32). Labels are the record's: a
flipped image is the mirror of the record, seen from yaw -angle.

Every random draw (epoch order, reference, flips) is a function of
`config.data.shuffle_seed` and the element's position in the stream, so the
batches depend neither on threads nor on worker processes, and an iterator
restored with `set_state(state)` (a small JSON-serializable dict from
`get_state()`) continues exactly where the saved one was. The state's layout
depends on `num_workers`, so restore it into a pipeline with the same
`num_workers`, batch size and process count.
"""

import functools
import math

from absl import flags
import grain
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np

from leedjax.data import sharding

Source = grain.sources.RandomAccessDataSource


def to_float(images: jax.Array) -> jax.Array:
  """uint8 images to float32 in [-1, 1]."""
  return images.astype(jnp.float32) / 127.5 - 1.0


def _view(record: dict, index: int, flipped: bool) -> dict:
  image = record['image'][:, ::-1] if flipped else record['image']
  return {
      'image': np.ascontiguousarray(image),
      'index': np.int32(index),
      'flipped': np.bool_(flipped),
      'subject': np.int32(record['subject']),
      'expression': np.int32(record['expression']),
      'angle': np.float32(record['angle']),
      'catalog_row': np.int32(record['catalog_row']),
  }


def _pair(source: Source, flip: bool, index: int,
          rng: np.random.Generator) -> dict:
  """The input `index` with a reference drawn from the other records."""
  reference = int(rng.integers(len(source) - 1))
  reference += reference >= index  # skip the input itself
  flips = rng.random(2) < 0.5 if flip else (False, False)
  return {'input': _view(source[index], index, flips[0]),
          'reference': _view(source[reference], reference, flips[1])}


def _single(source: Source, flip: bool, index: int,
            rng: np.random.Generator) -> dict:
  return _view(source[index], index, flip and rng.random() < 0.5)


def _padded(source: Source, position: int) -> dict:
  index = min(position, len(source) - 1)
  return _view(source[index], index, False) | {
      'mask': np.bool_(position < len(source))}


def _iterate(elements: grain.MapDataset, global_batch_size: int,
             data_config: ml_collections.ConfigDict, *,
             whole: bool = False) -> grain.DatasetIterator:
  """Batches this process's share of `elements` (all of them when `whole`)
  and starts reading."""
  if whole:
    batches = elements.batch(global_batch_size, drop_remainder=True)
  else:
    batch_size = sharding.local_batch_size(global_batch_size)
    # Global batch g is made of local batches g*P .. g*P+P-1 (P processes);
    # process p takes the p-th, so no process reads another's rows.
    batches = elements.batch(batch_size, drop_remainder=True)[
        jax.process_index()::jax.process_count()]
  prefetch = int(data_config.prefetch)
  # Each thread reads whole batches; `prefetch` batches are read ahead.
  batches = batches.to_iter_dataset(grain.ReadOptions(
      num_threads=prefetch, prefetch_buffer_size=prefetch))
  if data_config.num_workers > 0:
    # grain reads its absl flags when it starts workers; outside
    # `absl.app.run` (tests, notebooks) they would be unparsed.
    if not flags.FLAGS.is_parsed():
      flags.FLAGS.mark_as_parsed()
    batches = batches.mp_prefetch(grain.MultiprocessingOptions(
        num_workers=int(data_config.num_workers),
        per_worker_buffer_size=max(1, prefetch)))
  return iter(batches)


def _shuffled_forever(source: Source, seed: int) -> grain.MapDataset:
  """Record indices, in a new order each epoch, with a seeded default rng."""
  return grain.MapDataset.range(len(source)).seed(seed).shuffle().repeat()


def pair_batches(source: Source, data_config: ml_collections.ConfigDict,
                 global_batch_size: int) -> grain.DatasetIterator:
  """LEED training pairs: every record is an input once per epoch, with a
  reference drawn uniformly from the other records; each image flipped with
  probability 1/2 when `data_config.flip`.

  Args:
    source: `builder.as_data_source(split)`.
    data_config: `config.data` (shuffle_seed, flip, num_workers, prefetch).
    global_batch_size: pairs per global batch; this process gets its share.

  Returns:
    An endless iterator of `{'input': view, 'reference': view}` batches.
  """
  if len(source) < 2:
    raise ValueError('A split needs two records to make pairs.')
  return _iterate(
      _shuffled_forever(source, data_config.shuffle_seed).random_map(
          functools.partial(_pair, source, bool(data_config.flip))),
      global_batch_size, data_config)


def image_batches(source: Source, data_config: ml_collections.ConfigDict,
                  global_batch_size: int) -> grain.DatasetIterator:
  """Single views, every record once per epoch, flipped as in `pair_batches`.

  Returns:
    An endless iterator of view batches.
  """
  return _iterate(
      _shuffled_forever(source, data_config.shuffle_seed).random_map(
          functools.partial(_single, source, bool(data_config.flip))),
      global_batch_size, data_config)


def eval_batches(source: Source, data_config: ml_collections.ConfigDict,
                 global_batch_size: int, *,
                 whole: bool = False) -> grain.DatasetIterator:
  """Every record once, in order, unflipped; `ceil(len / batch)` batches.

  Args:
    source: `builder.as_data_source(split)`.
    data_config: `config.data`.
    global_batch_size: records per global batch.
    whole: every process reads every record, in whole global batches (for
      measurements each process makes on its own devices); otherwise each
      process reads its share, to be assembled with `sharding.global_batch`.

  Returns:
    An iterator of view batches with a boolean `mask` (False on the padding
    of the last global batch).
  """
  num_batches = math.ceil(len(source) / global_batch_size)
  positions = grain.MapDataset.range(num_batches * global_batch_size)
  return _iterate(positions.map(functools.partial(_padded, source)),
                  global_batch_size, data_config, whole=whole)

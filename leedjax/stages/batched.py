"""Helpers of the stages that measure: the test split in memory, and a
function mapped over arrays in fixed-size batches."""

import jax
import jax.numpy as jnp
import numpy as np

from leedjax.data import pipeline

RECORD_KEYS = ('image', 'subject', 'expression', 'angle', 'catalog_row')


def test_records(context, batch_size: int) -> dict[str, np.ndarray]:
  """Images and labels of every test record, in order."""
  return split_records(context, 'test', batch_size)


def split_records(context, which: str,
                  batch_size: int) -> dict[str, np.ndarray]:
  """Images and labels of every record of the 'train' or 'test' split, in
  order (the order of the split's indices); every process reads them all."""
  rows = {key: [] for key in RECORD_KEYS}
  for batch in pipeline.eval_batches(context.source(which),
                                     context.config.data, batch_size,
                                     whole=True):
    keep = batch['mask']
    for key in rows:
      rows[key].append(batch[key][keep])
  return {key: np.concatenate(values) for key, values in rows.items()}


def in_batches(function, arrays, batch_size: int):
  """`function` over equal-length arrays in fixed-size (padded) batches, so
  a jitted `function` compiles once."""
  count = len(arrays[0])
  outputs = []
  for start in range(0, count, batch_size):
    rows = np.minimum(np.arange(start, start + batch_size), count - 1)
    result = function(*(array[rows] for array in arrays))
    outputs.append(jax.tree.map(
        lambda a: np.asarray(a)[:min(batch_size, count - start)], result))
  return jax.tree.map(lambda *parts: np.concatenate(parts), *outputs)


def predicted_classes(predict, images, batch_size: int) -> np.ndarray:
  """argmax of a classifier stage's `predict` (images -> (logits, features))
  over every image."""
  return in_batches(lambda x: jnp.argmax(predict(x)[0], -1), [images],
                    batch_size)

"""Writes the rows of the first global batches this process reads, for
tests/test_multihost.py: `python tests/multihost_batches.py DATA_DIR OUT`.

Run once alone and once as each of two processes (JAX_COORDINATOR_ADDRESS,
JAX_NUM_PROCESSES, JAX_PROCESS_ID set): each process's rows go to
OUT/process_<index>.npz; the test checks that the processes' rows are
disjoint and together make the single process's global batches.
"""

import pathlib
import sys

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'configs'))

NUM_BATCHES = 3
GLOBAL_BATCH_SIZE = 8


def main(data_dir: str, out: str) -> None:
  from leedjax import distributed  # pylint: disable=import-outside-toplevel
  if len(sys.argv) > 3 and sys.argv[3] == '--multihost':
    distributed.initialize()
  import jax  # pylint: disable=import-outside-toplevel
  import synthetic  # pylint: disable=import-outside-toplevel
  from leedjax.data import datasets  # pylint: disable=import-outside-toplevel
  from leedjax.data import pipeline  # pylint: disable=import-outside-toplevel

  config = synthetic.get_config('smoke')
  config.data.data_dir = data_dir
  builder = datasets.prepare(config.data)
  train_split, _ = datasets.split_names(config.data)
  source = builder.as_data_source(train_split)
  rows = {}
  readers = {'images': pipeline.image_batches, 'pairs': pipeline.pair_batches}
  for name, reader in readers.items():
    batches = reader(source, config.data, GLOBAL_BATCH_SIZE)
    taken = [next(batches) for _ in range(NUM_BATCHES)]
    leaves = [jax.tree.leaves(batch) for batch in taken]
    for leaf_index in range(len(leaves[0])):
      rows[f'{name}_{leaf_index}'] = np.stack(
          [batch[leaf_index] for batch in leaves])
  path = pathlib.Path(out) / f'process_{jax.process_index()}.npz'
  np.savez(path, **rows)


if __name__ == '__main__':
  main(sys.argv[1], sys.argv[2])

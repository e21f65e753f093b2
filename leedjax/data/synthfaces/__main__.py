"""SynthFaces from the command line.

  python -m leedjax.data.synthfaces --preview out.png   # a contact sheet
  python -m leedjax.data.synthfaces --bench             # images/s on one core
"""

import os
import time

from absl import app
from absl import flags
import numpy as np

_PREVIEW = flags.DEFINE_string(
    'preview', None, 'Write a contact sheet (identities x expressions, then a '
    'row of poses) to this PNG file.')
_BENCH = flags.DEFINE_bool('bench', False, 'Print rendering throughput.')
_SIZE = flags.DEFINE_integer('size', 128, 'Pixels per face in the preview.')
_IDENTITIES = flags.DEFINE_integer('identities', 6,
                                   'Identities (rows) in the preview.')
_SEED = flags.DEFINE_integer('seed', 0, 'Dataset seed of the identities.')
_CORES = flags.DEFINE_integer(
    'cores', 1, 'CPU cores the benchmark may use (0: all).')


def _contact_sheet(size: int, identities: int, seed: int) -> np.ndarray:
  from leedjax.data import synthfaces  # pylint: disable=g-import-not-at-top
  from leedjax.evaluation import plots  # pylint: disable=g-import-not-at-top
  num = synthfaces.NUM_EXPRESSIONS
  spec = synthfaces.CatalogSpec(num_subjects=identities, intensities=(1.0,),
                                max_gaze=0.0, seed=seed)
  catalog = synthfaces.Catalog(spec)
  frontal = spec.angles.index(0.0)
  rows = catalog.row_of(np.arange(identities)[:, None], np.arange(num)[None],
                        0, frontal).reshape(-1)
  faces = catalog.render(rows, size).reshape(identities, num, size, size, 3)
  # The last row: the first identity, happy, at each of RaFD's camera angles.
  happy = synthfaces.EXPRESSIONS.index('happy')
  pose_rows = catalog.row_of(0, happy, 0, np.arange(len(spec.angles)))
  poses = catalog.render(pose_rows, size)
  angles = ', '.join(f'{angle:+.0f}' for angle in spec.angles)
  labels = ([f'identity {index}' for index in range(identities)]
            + [f'identity 0,\nhappy, yaw\n{angles}\ndeg'])
  return np.asarray(plots.label_grid([*faces, poses], labels,
                                     synthfaces.EXPRESSIONS))


def _benchmark(sizes=(64, 128), batch: int = 256, seconds: float = 3.0):
  """Best-of-several throughput of `render` per size, compile excluded."""
  import jax  # pylint: disable=g-import-not-at-top
  from leedjax.data import synthfaces  # pylint: disable=g-import-not-at-top
  catalog = synthfaces.Catalog(synthfaces.CatalogSpec(num_subjects=8))
  rows = np.arange(batch) % len(catalog)
  identity = jax.tree.map(np.asarray,
                          catalog.identities.take(catalog.subject[rows]))
  args = (identity, catalog.aus[rows], catalog.angle[rows], catalog.gaze[rows])
  for size in sizes:
    def run():
      synthfaces.render(*args, size=size).block_until_ready()
    run()
    best, start = 0.0, time.perf_counter()
    while time.perf_counter() - start < seconds:
      tic = time.perf_counter()
      run()
      best = max(best, batch / (time.perf_counter() - tic))
    print(f'{size}x{size}: {best:,.0f} images/s')


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  if not _PREVIEW.value and not _BENCH.value:
    raise app.UsageError('Nothing to do: pass --preview PATH and/or --bench.')
  if _SIZE.value < 16 or _IDENTITIES.value < 1:
    raise app.UsageError('--size must be at least 16 and --identities at '
                         'least 1.')
  if _PREVIEW.value:
    if not _PREVIEW.value.lower().endswith('.png'):
      raise app.UsageError(f'--preview {_PREVIEW.value!r}: the contact sheet '
                           'is a PNG, give a path ending in .png.')
    from leedjax import files  # pylint: disable=g-import-not-at-top
    files.write_png(_PREVIEW.value, _contact_sheet(_SIZE.value,
                                                   _IDENTITIES.value,
                                                   _SEED.value))
    print(f'Wrote {_PREVIEW.value}')
  if _BENCH.value:
    cores = sorted(os.sched_getaffinity(0))
    if _CORES.value:
      cores = cores[:_CORES.value]
      os.sched_setaffinity(0, cores)
    print(f'Rendering on {len(cores)} CPU core(s), batch 256:')
    _benchmark()


if __name__ == '__main__':
  app.run(main)

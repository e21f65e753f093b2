"""The `cache` stage: each training image's neutral face and Psi features.

Both are frozen functions of an image (StarGAN's G(x, neutral) and Psi's
penultimate features), so they are computed once per training image and per
flip and stored; LEED's step then never runs StarGAN or Psi. The arrays are
written to temporary files and renamed when complete.
"""

import dataclasses
import os
import pathlib

import jax
from jax.experimental import multihost_utils
import jax.numpy as jnp
import numpy as np

from leedjax.data import pipeline
from leedjax.data import synthfaces
from leedjax.trainers import base

NEUTRAL_FILE = 'neutral.npy'     # uint8 (N, 2, H, W, 3): [unflipped, flipped]
FEATURES_FILE = 'features.npy'   # float32 (N, 2, F)


@dataclasses.dataclass
class Cache:
  """Memory-mapped cached arrays, indexed by (record index, flipped)."""
  neutral: np.ndarray
  features: np.ndarray

  @property
  def feature_dim(self) -> int:
    return self.features.shape[-1]

  @classmethod
  def load(cls, directory: pathlib.Path) -> 'Cache':
    return cls(np.load(directory / NEUTRAL_FILE, mmap_mode='r'),
               np.load(directory / FEATURES_FILE, mmap_mode='r'))

  def add_to(self, view: dict) -> dict:
    """A pipeline view with its cached `neutral` and `features` added."""
    rows, flips = view['index'], view['flipped'].astype(np.int64)
    return {**view, 'neutral': np.asarray(self.neutral[rows, flips]),
            'features': np.asarray(self.features[rows, flips])}


class CachedPairs:
  """LEED pair batches with each view's cached fields; keeps the wrapped
  iterator's checkpointable state."""

  def __init__(self, pairs, cache: Cache):
    self._pairs, self._cache = pairs, cache

  def __iter__(self):
    return self

  def __next__(self):
    batch = next(self._pairs)
    return {side: self._cache.add_to(view) for side, view in batch.items()}

  def get_state(self):
    return self._pairs.get_state()

  def set_state(self, state):
    self._pairs.set_state(state)


def build(directory: pathlib.Path, source, data_config, *, batch_size: int,
          neutralize, features_of, exact_neutral=None) -> Cache:
  """Computes and stores the cache of every record of `source`.

  Args:
    directory: the stage's directory.
    source: the training split's data source.
    data_config: `config.data`.
    batch_size: images per forward pass.
    neutralize: jitted (images in [-1, 1]) -> neutral faces in [-1, 1].
    features_of: jitted (images in [-1, 1]) -> Psi features (B, F).
    exact_neutral: for SynthFaces comparisons only, (catalog_rows, size) ->
      uint8 exact neutral faces, used instead of `neutralize`.
  """
  directory.mkdir(parents=True, exist_ok=True)
  size = data_config.image_size
  count = len(source)
  neutral = features = None
  temporary = {name: directory / f'.{name}.tmp' for name in
               (NEUTRAL_FILE, FEATURES_FILE)}
  for batch in pipeline.eval_batches(source, data_config, batch_size,
                                     whole=True):
    keep = batch['mask']
    rows = batch['index'][keep]
    for flipped in (0, 1):
      images = batch['image'][:, :, ::-1] if flipped else batch['image']
      floats = pipeline.to_float(jnp.asarray(images))
      if exact_neutral is None:
        faces = base.to_uint8(neutralize(floats))
      else:
        faces = exact_neutral(batch['catalog_row'], size)
        faces = faces[:, :, ::-1] if flipped else faces
      feats = np.asarray(features_of(floats), np.float32)
      if neutral is None:
        neutral = np.lib.format.open_memmap(
            temporary[NEUTRAL_FILE], 'w+', np.uint8, (count, 2, size, size, 3))
        features = np.lib.format.open_memmap(
            temporary[FEATURES_FILE], 'w+', np.float32,
            (count, 2, feats.shape[-1]))
      neutral[rows, flipped] = faces[keep]
      features[rows, flipped] = feats[keep]
  neutral.flush()
  features.flush()
  del neutral, features
  for name, path in temporary.items():
    os.replace(path, directory / name)
  return Cache.load(directory)


def exact_neutral_renderer(grid: synthfaces.CatalogSpec):
  """(catalog_rows, size) -> SynthFaces' exact neutral faces (uint8)."""
  catalog = synthfaces.Catalog(grid)
  return lambda rows, size: catalog.render_neutral(np.asarray(rows), size)


def run(context, stage_dir) -> dict:
  config = context.config
  exact_neutral, neutralize = None, None
  if config.neutralizer.use_renderer_neutral:
    from leedjax.data import tfds_synthfaces  # pylint: disable=g-import-not-at-top
    exact_neutral = exact_neutral_renderer(
        tfds_synthfaces.config_from(config.data).grid)
  else:
    neutralize = context.outputs['neutralizer']['neutralize']
  predict = context.outputs['classifier']['predict']
  # Process 0 computes and writes the cache on its own devices; the other
  # processes read it once written (the workdir is shared storage).
  cache = None
  if jax.process_index() == 0:
    cache = build(stage_dir, context.source('train'), config.data,
                  batch_size=config.cache.batch_size, neutralize=neutralize,
                  features_of=lambda images: predict(images)[1],
                  exact_neutral=exact_neutral)
  if jax.process_count() > 1:
    multihost_utils.sync_global_devices('leedjax: cache written')
  if cache is None:
    cache = Cache.load(stage_dir)
  context.outputs['cache'] = cache
  return {'num_records': int(cache.neutral.shape[0]),
          'feature_dim': cache.feature_dim,
          'neutral_faces': 'renderer' if exact_neutral else 'stargan',
          'bytes': int(cache.neutral.nbytes + cache.features.nbytes)}


def load(context, stage_dir):
  context.outputs['cache'] = Cache.load(stage_dir)

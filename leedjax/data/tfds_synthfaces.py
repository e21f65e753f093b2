"""TFDS builder `synth_faces`: the SynthFaces catalogue written as array_record.

Images are stored as PNG bytes encoded with PIL and labels as plain features,
so neither writing nor reading (`builder.as_data_source`) needs TensorFlow.
Every grid parameter, the image size and the split parameters are part of a
builder config's name, so two different grids never share a directory.

Each config holds four splits: the papers' random split of images as
`train`/`test` and a subject-disjoint one as `subject_train`/`subject_test`.
Records keep the catalogue's row order within a split, and each record carries
its `catalog_row`, so the exact answer of an edit can be rendered later with
`Catalog(config.grid).render_edit`.
"""

import dataclasses
import io
import os
import pathlib

import ml_collections
import numpy as np
from PIL import Image
import tensorflow_datasets as tfds

from leedjax.data import synthfaces
from leedjax.data.synthfaces import catalog as catalog_lib

# Split names of each `config.data.split_scheme`, as (train, test).
SPLITS = {
    'random': ('train', 'test'),
    'subject': ('subject_train', 'subject_test'),
}
# Rows per renderer call: the catalogue's own chunk (the tail padded), so that
# the jitted renderer compiles once per image size.
RENDER_CHUNK = catalog_lib.RENDER_CHUNK


@dataclasses.dataclass(eq=False, kw_only=True)
class SynthFacesConfig(tfds.core.BuilderConfig):
  """A grid, an image size and split parameters; make it with `make_config`."""
  image_size: int = 64
  grid: synthfaces.CatalogSpec = synthfaces.CatalogSpec()
  test_fraction: float = 0.1
  split_seed: int = 0


def _floats(values) -> str:
  # repr keeps every digit, so distinct values never share a name.
  return '_'.join(repr(float(v)) for v in values)


def make_config(image_size: int,
                grid: synthfaces.CatalogSpec = synthfaces.CatalogSpec(),
                test_fraction: float = 0.1,
                split_seed: int = 0) -> SynthFacesConfig:
  """A builder config whose name spells out every parameter."""
  name = (f'{image_size}px-{grid.num_subjects}subjects'
          f'-intensities{_floats(grid.intensities)}'
          f'-angles{_floats(grid.angles)}-gaze{float(grid.max_gaze)!r}'
          f'-seed{grid.seed}-test{float(test_fraction)!r}'
          f'-splitseed{split_seed}')
  return SynthFacesConfig(
      name=name, image_size=image_size, grid=grid,
      test_fraction=test_fraction, split_seed=split_seed,
      description=(f'{grid.num_images} SynthFaces images of {image_size}x'
                   f'{image_size} pixels from {grid}; test fraction '
                   f'{test_fraction}, split seed {split_seed}.'))


def _encode_png(image: np.ndarray) -> bytes:
  buffer = io.BytesIO()
  Image.fromarray(image).save(buffer, format='png')
  return buffer.getvalue()


def _render_pngs(catalog: synthfaces.Catalog, size: int) -> list[bytes]:
  """PNG bytes of every catalogue row, rendered a chunk at a time."""
  pngs = []
  for start in range(0, len(catalog), RENDER_CHUNK):
    rows = np.arange(start, min(start + RENDER_CHUNK, len(catalog)))
    images = catalog.render(np.resize(rows, RENDER_CHUNK), size)
    pngs.extend(_encode_png(image) for image in images[:len(rows)])
  return pngs


class SynthFaces(tfds.core.GeneratorBasedBuilder):
  """SynthFaces on a RaFD-like grid (subjects x expressions x intensities x
  angles); see `leedjax.data.synthfaces`."""

  # Bump whenever the renderer's pixels change: built data is kept per version.
  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'First release.'}
  # RaFD's grid (67 subjects x 8 expressions x 3 intensities x 5 angles).
  BUILDER_CONFIGS = [make_config(64), make_config(128)]

  def _info(self) -> tfds.core.DatasetInfo:
    size = self.builder_config.image_size
    scalar = tfds.features.Scalar
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            'image': tfds.features.Image(shape=(size, size, 3),
                                         encoding_format='png'),
            'subject': scalar(np.int32, doc='Identity number.'),
            'expression': tfds.features.ClassLabel(
                names=synthfaces.EXPRESSIONS),
            'aus': tfds.features.Tensor(
                shape=(synthfaces.NUM_AUS,), dtype=np.float32,
                doc=f'Expression controls: {", ".join(synthfaces.AU_NAMES)}.'),
            'intensity': scalar(np.float32, doc='Expression intensity.'),
            'intensity_level': scalar(np.int32, doc='Index of the intensity.'),
            'angle': scalar(np.float32, doc='Camera yaw in degrees.'),
            'gaze': scalar(np.float32, doc='Horizontal gaze.'),
            'catalog_row': scalar(np.int64, doc='Row in the Catalog.'),
        }),
        # Keep the catalogue's order, so an ordered read is reproducible.
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # Rendered here: nothing to download.
    config = self.builder_config
    catalog = synthfaces.Catalog(config.grid)
    # Both schemes cover every image: render and encode each one once.
    pngs = _render_pngs(catalog, config.image_size)
    generators = {}
    for scheme, names in SPLITS.items():
      rows = catalog.split(scheme, config.test_fraction, config.split_seed)
      for name, part in zip(names, ('train', 'test')):
        generators[name] = self._generate_examples(catalog, rows[part], pngs)
    return generators

  def _generate_examples(self, catalog, rows, pngs):
    for row in rows:
      row = int(row)
      yield row, {
          'image': pngs[row],
          'subject': catalog.subject[row],
          'expression': catalog.expression[row],
          'aus': catalog.aus[row],
          'intensity': catalog.intensity[row],
          'intensity_level': catalog.intensity_level[row],
          'angle': catalog.angle[row],
          'gaze': catalog.gaze[row],
          'catalog_row': row,
      }


def config_from(data_config: ml_collections.ConfigDict) -> SynthFacesConfig:
  """The builder config that `config.data` asks for."""
  params = data_config.synthfaces
  grid = synthfaces.CatalogSpec(
      num_subjects=int(params.num_subjects),
      intensities=tuple(float(v) for v in params.intensities),
      angles=tuple(float(v) for v in params.angles),
      max_gaze=float(params.max_gaze), seed=int(params.seed))
  return make_config(int(data_config.image_size), grid,
                     float(data_config.test_fraction),
                     int(data_config.split_seed))


def builder(data_config: ml_collections.ConfigDict) -> SynthFaces:
  """The builder of `config.data`, without building anything (build it with
  `leedjax.data.datasets.prepare`)."""
  config = config_from(data_config)
  # TFDS refuses a config object named like a standard one (even an unpickled
  # copy of it, in grain workers): standard configs go by name.
  if config.name in SynthFaces.builder_configs:
    config = config.name
  data_dir = data_config.data_dir
  if data_dir is not None:  # relative to where the command was started
    data_dir = os.fspath(pathlib.Path(data_dir).expanduser().absolute())
  return SynthFaces(config=config, data_dir=data_dir,
                    file_format='array_record')

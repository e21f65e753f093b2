"""The `synth_faces` TFDS builder: what it writes is what the catalogue renders."""

import os

import numpy as np
import pytest
from tensorflow_datasets.core import file_adapters

from configs import default
from leedjax.data import datasets
from leedjax.data import synthfaces
from leedjax.data import tfds_synthfaces

SIZE = 32


def tiny_data_config(data_dir):
  config = default.get_config().data
  config.data_dir = str(data_dir)
  config.image_size = SIZE
  config.synthfaces.num_subjects = 5
  config.synthfaces.intensities = (1.0,)
  return config


@pytest.fixture(scope='module')
def data_config(tmp_path_factory):
  return tiny_data_config(tmp_path_factory.mktemp('tfds'))


@pytest.fixture(scope='module')
def builder(data_config):
  return datasets.prepare(data_config)


@pytest.fixture(scope='module')
def catalog(builder):
  return synthfaces.Catalog(builder.builder_config.grid)


def read_all(builder, split):
  source = builder.as_data_source(split)
  return [source[i] for i in range(len(source))]


def render(catalog, rows):
  # Padded to the builder's chunk so the renderer reuses its compiled shape.
  rows = np.asarray(rows)
  padded = np.resize(rows, tfds_synthfaces.RENDER_CHUNK)
  return catalog.render(padded, SIZE)[:len(rows)]


@pytest.mark.parametrize('split', ['train', 'subject_test'])
def test_records_are_the_rendered_images_and_their_labels(
    builder, catalog, split):
  records = read_all(builder, split)
  rows = np.array([r['catalog_row'] for r in records])
  images = np.stack([r['image'] for r in records])
  assert images.dtype == np.uint8 and images.shape[1:] == (SIZE, SIZE, 3)
  np.testing.assert_array_equal(images, render(catalog, rows))
  for name in ('subject', 'expression', 'intensity_level', 'intensity',
               'angle', 'gaze'):
    np.testing.assert_array_equal(
        np.array([r[name] for r in records]), getattr(catalog, name)[rows],
        err_msg=name)
  np.testing.assert_array_equal(np.stack([r['aus'] for r in records]),
                                catalog.aus[rows])


def test_splits_follow_the_catalogue(builder, catalog, data_config):
  num_images = catalog.spec.num_images
  assert num_images == 5 * 8 * 1 * 5
  for scheme, names in tfds_synthfaces.SPLITS.items():
    expected = catalog.split(scheme, data_config.test_fraction,
                             data_config.split_seed)
    for name, part in zip(names, ('train', 'test')):
      rows = [r['catalog_row'] for r in read_all(builder, name)]
      # Records keep the catalogue's (sorted) order.
      np.testing.assert_array_equal(rows, expected[part], err_msg=name)
  splits = builder.info.splits
  assert splits['test'].num_examples == round(0.1 * num_images)
  assert splits['train'].num_examples == num_images - round(0.1 * num_images)
  test_subjects = {r['subject'] for r in read_all(builder, 'subject_test')}
  train_subjects = {r['subject'] for r in read_all(builder, 'subject_train')}
  assert test_subjects and not test_subjects & train_subjects
  assert (splits['subject_train'].num_examples
          + splits['subject_test'].num_examples) == num_images


def test_files_are_array_record(builder):
  assert builder.info.file_format == file_adapters.FileFormat.ARRAY_RECORD
  files = sorted(p.name for p in builder.data_path.iterdir()
                 if 'array_record' in p.name)
  assert {f.split('.')[0] for f in files} == {
      'synth_faces-train', 'synth_faces-test', 'synth_faces-subject_train',
      'synth_faces-subject_test'}


def test_prepare_reuses_a_built_dataset(builder, data_config):
  stamp = os.stat(builder.data_path / 'dataset_info.json').st_mtime_ns
  again = datasets.prepare(data_config)
  assert again.data_path == builder.data_path
  assert os.stat(again.data_path / 'dataset_info.json').st_mtime_ns == stamp


def test_config_names_tell_every_parameter_apart(tmp_path):
  base = tiny_data_config(tmp_path)
  changes = {
      'image_size': 64, 'test_fraction': 0.2, 'split_seed': 1,
      'synthfaces.num_subjects': 6, 'synthfaces.intensities': (0.5,),
      'synthfaces.angles': (0.0,), 'synthfaces.max_gaze': 0.25,
      'synthfaces.seed': 1,
  }
  names = {tfds_synthfaces.config_from(base).name}
  for field, value in changes.items():
    changed = tiny_data_config(tmp_path)
    changed.update_from_flattened_dict({field: value})
    names.add(tfds_synthfaces.config_from(changed).name)
  assert len(names) == 1 + len(changes)


def test_default_grid_uses_the_standard_configs():
  config = default.get_config().data
  for size in (64, 128):
    config.image_size = size
    name = tfds_synthfaces.config_from(config).name
    assert name in tfds_synthfaces.SynthFaces.builder_configs
    standard = tfds_synthfaces.SynthFaces.builder_configs[name]
    assert standard.image_size == size
    assert standard.grid.num_images == 8040
    assert tfds_synthfaces.builder(config).builder_config is standard


def test_dataset_names_are_checked(tmp_path):
  config = tiny_data_config(tmp_path)
  config.dataset = 'mnist'
  with pytest.raises(ValueError, match=r'config\.data\.dataset.*synth_faces'):
    datasets.prepare(config)
  for licensed in ('rafd', 'cfeed'):
    config.dataset = licensed
    with pytest.raises(datasets.DatasetError,
                       match='your own copy.*manual_dir'):
      datasets.prepare(config)


def test_split_names(tmp_path):
  config = tiny_data_config(tmp_path)
  assert datasets.split_names(config) == ('train', 'test')
  config.split_scheme = 'subject'
  assert datasets.split_names(config) == (
      'subject_train', 'subject_test')
  config.split_scheme = 'by_age'
  with pytest.raises(ValueError, match='split_scheme'):
    datasets.split_names(config)

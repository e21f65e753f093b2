"""The AffectNet builder on a fixture copy in its layout: the official
split, the classes it keeps and drops, the face box crop, and what it says
about a copy that is not AffectNet's."""

import collections
import pathlib
import shutil

import pytest

from configs import default
from leedjax import photos
from leedjax.data import datasets
from leedjax.data.real import affectnet
import real_layouts
from real_layouts import read_records
from real_layouts import affectnet as affectnet_layout

SIZE = 32


def data_config(copy, data_dir, **fields):
  config = default.get_config().data
  config.dataset = 'affectnet'
  config.manual_dir = str(copy)
  config.data_dir = str(data_dir)
  config.image_size = SIZE
  for name, value in fields.items():
    setattr(config, name, value)
  return config


@pytest.fixture(scope='module')
def copy(tmp_path_factory):
  """(folder, what `affectnet_layout.write` returns)."""
  root = tmp_path_factory.mktemp('affectnet')
  return root, affectnet_layout.write(root)


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  return tmp_path_factory.mktemp('tfds')


@pytest.fixture(scope='module')
def built(copy, data_dir):
  return datasets.prepare(data_config(copy[0], data_dir))


def nearest(image, faces):
  """(index, distance) of the face in `faces` closest to `image`."""
  distances = [real_layouts.mean_abs_difference(
      image, real_layouts.resized(face, SIZE)) for _, face in faces]
  index = min(range(len(faces)), key=distances.__getitem__)
  return index, distances[index]


def test_classes_are_rafd_words_in_rafd_order(built):
  names = datasets.expression_names(built)
  assert names == ['neutral', 'happy', 'sad', 'angry', 'surprised',
                   'disgusted', 'fearful', 'contemptuous']
  assert datasets.neutral_class(names) == 0


def test_official_split_and_labels(copy, built):
  written = copy[1]
  names = datasets.expression_names(built)
  assert set(built.info.splits) == {'train', 'test'}
  for split in ('train', 'test'):
    records = read_records(built, split)
    assert len(records) == len(written[split]) == 8
    counts = collections.Counter(names[r['expression']] for r in records)
    assert counts == collections.Counter(word for word, _ in written[split])
    # Every record is the face of its own row: training.csv's faces in
    # 'train', validation.csv's in 'test', each with its row's class.
    everyone = written['train'] + written['test']
    matched = set()
    for record in records:
      index, distance = nearest(record['image'], everyone)
      assert distance < 1.5
      word, _ = everyone[index]
      assert names[record['expression']] == word
      matched.add(index)
    offset = 0 if split == 'train' else len(written['train'])
    assert matched == set(range(offset, offset + 8))


def test_the_official_split_ignores_test_fraction(copy, tmp_path, built):
  other = datasets.prepare(data_config(copy[0], tmp_path,
                                       test_fraction=0.5))
  for split in ('train', 'test'):
    assert other.info.splits[split].num_examples == (
        built.info.splits[split].num_examples)


def test_dropped_and_broken_rows_are_counted(copy, built):
  skipped = built.info.metadata['skipped']
  expected = copy[1]['skipped']
  assert sum(skipped.values()) == sum(expected.values())
  for fragment, count in expected.items():
    reasons = [reason for reason in skipped if fragment in reason]
    assert len(reasons) == 1, (fragment, skipped)
    assert skipped[reasons[0]] == count, (fragment, skipped)
  assert built.info.metadata['num_found'] == 16 + sum(expected.values())
  # Examples name where the row is.
  examples = built.info.metadata['skipped_examples']
  dropped = next(reason for reason in skipped if 'Non-Face' in reason)
  assert any('validation.csv:' in where for where in examples[dropped])


def test_no_subjects(built):
  assert built.info.metadata['num_subjects'] == 0
  assert {record['subject'] for record in read_records(built, 'train')} == {-1}
  assert not affectnet.Affectnet.has_subjects({})


def test_subject_split_is_refused(copy, data_dir):
  config = data_config(copy[0], data_dir, split_scheme='subject')
  with pytest.raises(datasets.DatasetError, match='affectnet does not say'):
    datasets.split_names(config)
  config.split_scheme = 'random'
  assert datasets.split_names(config) == ('train', 'test')


def test_box_crop_is_the_pasted_face_and_centre_is_not(copy, built):
  written = copy[1]
  for record in read_records(built, 'train') + read_records(built, 'test'):
    assert nearest(record['image'], written['train'] + written['test'])[1] < (
        1.5)
  root = copy[0]
  for number in range(len(affectnet_layout.SHAPES)):
    photo = photos.read_photo(root / affectnet_layout.IMAGES
                              / affectnet_layout.image_name(number))
    centre = photos.crop_face(photo, photos.center_square_box(photo.shape),
                              SIZE)
    face = written['train'][number][1]
    assert real_layouts.mean_abs_difference(
        centre, real_layouts.resized(face, SIZE)) > 15


def test_a_csv_without_header_row(copy, tmp_path, built):
  root = tmp_path / 'copy'
  shutil.copytree(copy[0], root)
  listed = root / affectnet_layout.LISTS / 'validation.csv'
  lines = listed.read_text().splitlines(keepends=True)
  listed.write_text(''.join(lines[1:]))
  headless = datasets.prepare(data_config(root, tmp_path / 'tfds'))
  assert headless.info.splits['test'].num_examples == 8
  assert headless.info.metadata['skipped'] == built.info.metadata['skipped']


def expect_error(config, *fragments):
  """Asserts `prepare` fails naming `fragments`, leaving nothing built."""
  with pytest.raises(datasets.DatasetError) as caught:
    datasets.prepare(config)
  for fragment in fragments:
    assert fragment in str(caught.value), str(caught.value)
  assert not datasets.builder(config).is_prepared()
  assert not list(pathlib.Path(config.data_dir).rglob('dataset_info.json'))


def test_missing_csv(copy, tmp_path):
  root = tmp_path / 'copy'
  shutil.copytree(copy[0] / affectnet_layout.LISTS,
                  root / affectnet_layout.LISTS)
  (root / affectnet_layout.LISTS / 'validation.csv').unlink()
  expect_error(data_config(root, tmp_path / 'tfds'),
               'Manually_Annotated_file_lists/validation.csv is missing')


def test_csv_missing_columns(tmp_path):
  root = tmp_path / 'copy'
  header = [name for name in affectnet_layout.COLUMNS
            if name not in ('face_width', 'expression')]
  for file_name in affectnet_layout.SPLITS:
    affectnet_layout.write_csv(root / affectnet_layout.LISTS / file_name,
                               [['1/a.jpg', '1', '2', '3', '', '0', '0']],
                               header=header)
  expect_error(data_config(root, tmp_path / 'tfds'),
               'training.csv has no column face_width, expression')


def test_no_usable_rows(tmp_path):
  root = tmp_path / 'copy'
  for file_name in affectnet_layout.SPLITS:
    affectnet_layout.write_csv(
        root / affectnet_layout.LISTS / file_name,
        [affectnet_layout.row('1/gone.jpg', (1, 2, 30, 30), 3)])
  expect_error(data_config(root, tmp_path / 'tfds'), 'found no images',
               '2 a row whose image is missing')


def test_name_is_the_registry_key():
  assert affectnet.Affectnet.name == 'affectnet'
  assert datasets.builder_class('affectnet') is affectnet.Affectnet
  assert affectnet.Affectnet.DEFAULT_CROP == 'box'

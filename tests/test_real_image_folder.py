"""The `image_folder` builder: classes from the sub-folders, subjects only
when a pattern names them, aligned faces kept whole."""

import collections

import numpy as np
import pytest

from configs import default
from leedjax.data import datasets
import real_layouts
from real_layouts import read_records
from real_layouts import image_folder

SIZE = 32
NUM_SUBJECTS = 3
SUBJECT_PATTERN = r'^s(?P<subject>\d+)_'


def data_config(copy, data_dir, **options):
  config = default.get_config().data
  config.dataset = 'image_folder'
  config.manual_dir = str(copy)
  config.data_dir = str(data_dir)
  config.image_size = SIZE
  for key, value in options.items():
    config.options[key] = value
  return config


def check_faces(builder, records, written, subjects=True):
  """Each record is the face written under its label, closer to it than
  to any other face written."""
  names = datasets.expression_names(builder)
  faces = {(subject, expression): real_layouts.resized(face, SIZE)
           for subject, expression, face in written.values()}
  for record in records:
    differences = {key: real_layouts.mean_abs_difference(record['image'],
                                                         face)
                   for key, face in faces.items()}
    nearest = min(differences, key=differences.get)
    expression = names[record['expression']]
    assert nearest[1] == expression
    # The same PNG resized alike: equal; another expression of the same
    # face differs by 0.7 and more (measured).
    assert differences[nearest] < 0.25
    assert sorted(differences.values())[1] > 0.5
    if subjects:
      subject = builder.info.metadata['subjects'][record['subject']]
      assert int(subject) - 1 == nearest[0]
    else:
      assert record['subject'] == -1


@pytest.fixture(scope='module')
def drawn():
  return image_folder.renders(NUM_SUBJECTS)


@pytest.fixture(scope='module')
def copy(tmp_path_factory, drawn):
  """(folder, written): the faces, a corrupt JPEG, an image outside the
  class folders and a text file."""
  folder = tmp_path_factory.mktemp('image_folder')
  written = image_folder.write(folder, drawn)
  real_layouts.write_corrupt_jpeg(folder / 'happy' / 's1_broken.jpg')
  real_layouts.write_jpeg(folder / 'cover.jpg', drawn[0, 'happy'])
  (folder / 'happy' / 'notes.txt').write_text('not an image')
  return folder, written


@pytest.fixture(scope='module')
def plain(copy, tmp_path_factory):
  folder, _ = copy
  return datasets.prepare(data_config(folder,
                                      tmp_path_factory.mktemp('tfds')))


@pytest.fixture(scope='module')
def with_subjects(copy, tmp_path_factory):
  folder, _ = copy
  return datasets.prepare(data_config(folder, tmp_path_factory.mktemp('tfds'),
                                      subject_pattern=SUBJECT_PATTERN))


def test_classes_counts_and_skips(plain, copy):
  _, written = copy
  assert datasets.expression_names(plain) == sorted(
      image_folder.EXPRESSIONS)
  assert datasets.neutral_class(datasets.expression_names(plain)) == 2
  assert plain.builder_config.crop == 'center'
  splits = {name: info.num_examples
            for name, info in plain.info.splits.items()}
  assert splits == {'train': 13, 'test': 2}
  assert len(written) == 15
  metadata = plain.info.metadata
  assert metadata['skipped'] == {'unreadable image': 1,
                                 'not in a class folder': 1}
  assert metadata['num_found'] == 17
  assert metadata['num_subjects'] == 0
  records = read_records(plain, 'train', 'test')
  counts = collections.Counter(datasets.expression_names(plain)[
      r['expression']] for r in records)
  assert counts == {name: NUM_SUBJECTS for name in image_folder.EXPRESSIONS}


def test_records_without_subjects(plain, copy):
  _, written = copy
  check_faces(plain, read_records(plain, 'train', 'test'), written,
              subjects=False)


def test_no_subject_split_without_a_pattern(copy, tmp_path):
  folder, _ = copy
  config = data_config(folder, tmp_path)
  config.split_scheme = 'subject'
  with pytest.raises(datasets.DatasetError, match='does not say who'):
    datasets.split_names(config)
  config.options.subject_pattern = SUBJECT_PATTERN
  assert datasets.split_names(config) == ('subject_train', 'subject_test')


def test_records_with_subjects(with_subjects, copy):
  _, written = copy
  assert with_subjects.info.metadata['subjects'] == ['1', '2', '3']
  # The corrupt JPEG's name matches the pattern, so the decoder skips it.
  assert with_subjects.info.metadata['skipped'] == {
      'unreadable image': 1, 'not in a class folder': 1}
  for splits in (('train', 'test'), ('subject_train', 'subject_test')):
    records = read_records(with_subjects, *splits)
    assert len(records) == 15
    check_faces(with_subjects, records, written)
  train = {r['subject'] for r in read_records(with_subjects, 'subject_train')}
  test = {r['subject'] for r in read_records(with_subjects, 'subject_test')}
  assert train and test and not train & test
  assert train | test == {0, 1, 2}


def test_classes_option_orders_and_selects(tmp_path, drawn):
  folder = tmp_path / 'copy'
  written = image_folder.write(folder, drawn)
  image_folder.write_png(folder / 'Neutral' / 'portrait.png',
                         drawn[0, 'neutral'])
  builder = datasets.prepare(data_config(
      folder, tmp_path / 'tfds', classes=('surprised', 'Neutral', 'sad'),
      subject_pattern=SUBJECT_PATTERN))
  assert datasets.expression_names(builder) == ['surprised', 'neutral', 'sad']
  assert builder.info.metadata['skipped'] == {
      'in a folder not among config.data.options.classes': 6,
      f'file name does not match subject_pattern {SUBJECT_PATTERN!r}': 1}
  kept = {name: value for name, value in written.items()
          if value[1] in ('surprised', 'neutral', 'sad')}
  records = read_records(builder, 'train', 'test')
  assert len(records) == len(kept) == 9
  check_faces(builder, records, kept)


def _files_only(folder):
  real_layouts.write_jpeg(folder / 'a.jpg', np.zeros((8, 8, 3), np.uint8))
  return {}


def _empty_class(folder):
  _grey(folder, ('happy', 'sad'))
  (folder / 'Angry').mkdir()
  (folder / 'Angry' / 'notes.txt').write_text('no image')
  return {}


def _grey(folder, classes):
  for name in classes:
    for subject in (1, 2):
      real_layouts.write_jpeg(folder / name / f's{subject}_0.jpg',
                              np.full((24, 24, 3), 120, np.uint8))


def _with(options, classes=('happy', 'sad')):
  def make(folder):
    _grey(folder, classes)
    return options
  return make


@pytest.mark.parametrize('make,message', [
    (_files_only, r'has no sub-folders \(found 1 files: \'a\.jpg\'\)'),
    (_empty_class, r"the folder of class 'angry', .*Angry, holds no images"),
    (_with({'classes': ('happy', 'fearful')}),
     r"classes names 'fearful', which .* has no folder of \(folders found: "
     r"'happy', 'sad'\)"),
    (_with({'classes': ('happy', 'Happy')}), r'should name each class once'),
    (_with({'subject_pattern': r'^s\d+'}), r'needs a named group subject'),
    (_with({'subject_pattern': r'^(?P<subject>\d+)_'}),
     r"none of the 2 images of class 'happy' .* subject_pattern "
     r"'\^\(\?P<subject>.*\)_' matches \(e\.g\. 's1_0\.jpg'\)"),
    (_with({}, ('happy', 'Happy')), r"are one class, 'happy'; merge them"),
])
def test_bad_copies_say_what_is_wrong(tmp_path, make, message):
  folder = tmp_path / 'copy'
  folder.mkdir()
  options = make(folder)
  config = data_config(folder, tmp_path / 'tfds', **options)
  with pytest.raises(datasets.DatasetError, match=message):
    datasets.prepare(config)
  assert not datasets.builder(config).is_prepared()


def test_a_failed_build_leaves_nothing_and_a_fixed_copy_builds(tmp_path):
  folder, data_dir = tmp_path / 'copy', tmp_path / 'tfds'
  _empty_class(folder)
  config = data_config(folder, data_dir)
  with pytest.raises(datasets.DatasetError, match='holds no images'):
    datasets.prepare(config)
  assert not datasets.builder(config).is_prepared()
  assert not list(data_dir.rglob('dataset_info.json'))
  _grey(folder, ('Angry',))
  builder = datasets.prepare(config)
  assert builder.is_prepared()
  assert datasets.expression_names(builder) == ['angry', 'happy', 'sad']
  assert sum(info.num_examples for name, info in builder.info.splits.items()
             ) == 6


def test_a_new_class_folder_builds_anew(tmp_path):
  """Labels are numbered in the folder's classes: another folder must
  not read back a build numbered for the old ones."""
  folder = tmp_path / 'copy'
  _grey(folder, ('angry', 'happy', 'sad'))
  config = data_config(folder, tmp_path / 'tfds')
  first = datasets.prepare(config)
  assert datasets.expression_names(first) == ['angry', 'happy', 'sad']
  _grey(folder, ('fearful',))
  second = datasets.prepare(config)
  names = datasets.expression_names(second)
  assert names == ['angry', 'fearful', 'happy', 'sad']
  counts = collections.Counter(
      names[r['expression']] for r in read_records(second, 'train', 'test'))
  assert counts == {name: 2 for name in names}
  assert first.is_prepared() and second.is_prepared()
  assert first.data_dir != second.data_dir

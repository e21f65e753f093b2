"""The RaFD builder on a fixture copy in RaFD's layout, and the prepare
command on it (`python -m leedjax.data.prepare`)."""

import numpy as np
from PIL import Image
import pytest

from configs import default
from conftest import run_command
from leedjax.data import datasets
from leedjax.data.real import rafd as rafd_builder
import real_layouts
from real_layouts import read_records
from real_layouts import rafd

SIZE = 32
NUM_SUBJECTS = 3


def rafd_config(copy, data_dir, **fields):
  config = default.get_config().data
  config.dataset = 'rafd'
  config.manual_dir = str(copy)
  config.data_dir = str(data_dir)
  config.image_size = SIZE
  config.update(fields)
  return config


@pytest.fixture(scope='module')
def copy(tmp_path_factory):
  """RaFD's layout with files a real copy may hold besides: a note, a
  photo under another name, a corrupt JPEG and an unknown expression."""
  directory = tmp_path_factory.mktemp('rafd') / 'RaFD'
  written = rafd.write(directory / 'part1', num_subjects=NUM_SUBJECTS)
  (directory / 'README.txt').write_text('Radboud Faces Database')
  some_face = next(iter(written.values()))[3]
  real_layouts.write_jpeg(directory / 'IMG_0001.jpg', some_face)
  real_layouts.write_corrupt_jpeg(
      directory / 'Rafd090_09_Caucasian_male_happy_frontal.jpg')
  real_layouts.write_jpeg(
      directory / 'Rafd090_09_Caucasian_male_bored_frontal.jpg', some_face)
  return directory, written


@pytest.fixture(scope='module')
def builder(copy, tmp_path_factory):
  return datasets.prepare(rafd_config(copy[0],
                                      tmp_path_factory.mktemp('tfds')))


def test_every_image_is_read_with_its_labels_and_its_face(builder, copy):
  _, written = copy
  records = read_records(builder, 'train') + read_records(builder, 'test')
  assert len(records) == len(written) == NUM_SUBJECTS * 8 * 2
  names = datasets.expression_names(builder)
  assert names == list(rafd_builder.EXPRESSIONS)
  assert datasets.neutral_class(names) == 0
  subjects = builder.info.metadata['subjects']
  seen = set()
  faces = {key: face for key, (*_, face) in written.items()}
  for record in records:
    expression = names[record['expression']]
    subject = int(subjects[record['subject']]) - 1
    angle = float(record['angle'])
    matches = [name for name, (s, e, a, _) in written.items()
               if (s, e, a) == (subject, expression, angle)]
    assert len(matches) == 1, (subject, expression, angle)
    seen.add(matches[0])
    assert record['catalog_row'] == -1 and record['gaze'] == 0.0
    # The fixed square cuts out the pasted face (JPEG costs a little).
    truth = real_layouts.resized(faces[matches[0]], SIZE)
    assert real_layouts.mean_abs_difference(record['image'], truth) < 6.0
  assert len(seen) == len(written)
  # A different person's face is far: the comparison above can fail.
  other = real_layouts.resized(faces[sorted(faces)[-1]], SIZE)
  first = [r for r in records if r['subject'] == 0][0]['image']
  assert real_layouts.mean_abs_difference(first, other) > 12.0


def test_what_is_not_rafd_is_counted_and_named(builder):
  metadata = builder.info.metadata
  skipped = metadata['skipped']
  assert skipped['unreadable image'] == 1
  assert sum(count for reason, count in skipped.items()
             if reason.startswith('not named')) == 1
  assert sum(count for reason, count in skipped.items()
             if reason.startswith('an unknown expression')) == 1
  assert metadata['num_found'] == NUM_SUBJECTS * 8 * 2 + 3
  assert any('IMG_0001.jpg' in path
             for paths in metadata['skipped_examples'].values()
             for path in paths)


def test_splits_random_and_subject_disjoint(builder):
  splits = builder.info.splits
  total = NUM_SUBJECTS * 16
  assert splits['test'].num_examples == round(total * 0.1)
  assert splits['train'].num_examples == total - round(total * 0.1)
  train = {r['subject'] for r in read_records(builder, 'subject_train')}
  test = {r['subject'] for r in read_records(builder, 'subject_test')}
  assert train and test and not train & test
  assert train | test == set(range(NUM_SUBJECTS))
  assert datasets.num_subjects(builder) == NUM_SUBJECTS


def test_the_same_config_finds_the_built_dataset(builder, copy):
  again = datasets.builder(rafd_config(copy[0], builder.data_dir.split(
      '/rafd/')[0]))
  assert again.is_prepared() and again.data_dir == builder.data_dir
  # Another crop is another dataset.
  other = datasets.builder(rafd_config(copy[0], '/nonexistent',
                                       crop='detect'))
  assert other.builder_config.name != builder.builder_config.name


@pytest.mark.parametrize('fields, message', [
    ({'manual_dir': None}, 'Radboud Faces Database.*manual_dir'),
    ({'crop': 'oval'}, "config.data.crop='oval'"),
    ({'options': {'colour': True}}, "does not take"),
])
def test_bad_settings_say_what_to_change(tmp_path, fields, message):
  config = rafd_config(tmp_path, tmp_path / 'tfds')
  for field, value in fields.items():
    config[field] = value
  with pytest.raises(datasets.DatasetError, match=message):
    datasets.prepare(config)


def test_a_folder_without_rafd_images_fails_and_writes_nothing(tmp_path):
  copy = tmp_path / 'copy'
  real_layouts.write_jpeg(copy / 'holiday.jpg',
                          np.zeros((40, 30, 3), np.uint8))
  real_layouts.write_corrupt_jpeg(
      copy / 'Rafd090_01_Caucasian_female_happy_frontal.jpg')
  config = rafd_config(copy, tmp_path / 'tfds')
  with pytest.raises(datasets.DatasetError) as raised:
    datasets.prepare(config)
  message = str(raised.value)
  assert 'none of the 1 images' in message and 'unreadable' in message
  assert 'not named' in message
  assert not datasets.builder(config).is_prepared()
  assert not list((tmp_path / 'tfds').rglob('*.array_record*'))
  # Mended, the same config builds.
  rafd.write(copy, num_subjects=2)
  assert datasets.prepare(config).info.splits['train'].num_examples == 29


def test_a_split_with_no_images_is_named(tmp_path):
  rafd.write(tmp_path / 'copy', num_subjects=1)
  config = rafd_config(tmp_path / 'copy', tmp_path / 'tfds',
                       split_scheme='subject')
  with pytest.raises(datasets.DatasetError,
                     match="no images in its 'subject_test' split"):
    datasets.prepare(config)


def test_an_empty_folder_says_what_was_expected(tmp_path):
  (tmp_path / 'empty').mkdir()
  with pytest.raises(datasets.DatasetError, match='found no images.*'
                     'Rafd090_01_Caucasian_female_angry_frontal.jpg'):
    datasets.prepare(rafd_config(tmp_path / 'empty', tmp_path / 'tfds'))


def test_prepare_command_builds_summarises_and_draws(copy, tmp_path):
  directory, written = copy
  result = run_command('leedjax.data.prepare', '--dataset=rafd',
                       f'--manual_dir={directory}', '--data_dir=tfds',
                       f'--image_size={SIZE}', '--sheet=sheet.png',
                       cwd=tmp_path)
  assert result.returncode == 0, result.stderr[-2000:]
  out = result.stdout
  assert f'{len(written) + 3} images found' in out
  assert f'{len(written)} used, 3 skipped' in out
  assert 'People: 3.' in out
  for name in rafd_builder.EXPRESSIONS:
    assert f'  {name:<22} {NUM_SUBJECTS * 2:>8,}' in out
  assert '1 unreadable image' in out
  assert (tmp_path / 'tfds' / 'rafd').is_dir()  # relative to the cwd
  with Image.open(tmp_path / 'sheet.png') as sheet:
    # 3 people x 8 classes, each face upscaled to 128 px.
    assert sheet.width > 8 * 128 and sheet.height > 3 * 128


@pytest.mark.parametrize('flags, message', [
    (['--dataset=rafd', '--manual_dir=nowhere'], 'is not a folder'),
    (['--dataset=rafd'], 'manual_dir'),
    (['--dataset=rafd', '--manual_dir=.', '--option=colour'], 'key=value'),
])
def test_prepare_command_refuses_bad_input_in_one_line(tmp_path, flags,
                                                       message):
  result = run_command('leedjax.data.prepare', *flags, cwd=tmp_path)
  assert result.returncode == 2, result.stderr
  assert message in result.stderr and 'Traceback' not in result.stderr
  assert result.stderr.startswith('Cannot prepare:')
  assert not list(tmp_path.iterdir())


def test_a_crop_the_dataset_cannot_give_is_named(copy, tmp_path):
  with pytest.raises(datasets.DatasetError, match='crop=box needs the face '
                     'boxes'):
    datasets.prepare(rafd_config(copy[0], tmp_path, crop='box'))
  assert not list(tmp_path.rglob('*.array_record*'))


def test_a_class_with_no_image_is_named(tmp_path):
  rafd.write(tmp_path / 'copy', num_subjects=2,
             expressions=rafd_builder.EXPRESSIONS[:-1])
  with pytest.raises(datasets.DatasetError,
                     match='no usable image of the class.*contemptuous'):
    datasets.prepare(rafd_config(tmp_path / 'copy', tmp_path / 'tfds'))

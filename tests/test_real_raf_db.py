"""The RAF-DB builder on a fixture copy in its layout: the official split,
the labels, the aligned faces and the photographs, and what it says about a
copy that is not RAF-DB's."""

import collections
import pathlib

import pytest

from configs import default
from leedjax import photos
from leedjax.data import datasets
from leedjax.data.real import raf_db
import real_layouts
from real_layouts import read_records
from real_layouts import raf_db as raf_db_layout

SIZE = 32


def data_config(copy, data_dir, **options):
  config = default.get_config().data
  config.dataset = 'raf_db'
  config.manual_dir = str(copy)
  config.data_dir = str(data_dir)
  config.image_size = SIZE
  config.options.update(options)
  return config


@pytest.fixture(scope='module')
def copy(tmp_path_factory):
  """(folder, what `raf_db_layout.write` returns)."""
  root = tmp_path_factory.mktemp('raf_db')
  return root, raf_db_layout.write(root)


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  return tmp_path_factory.mktemp('tfds')


@pytest.fixture(scope='module')
def built(copy, data_dir):
  return datasets.prepare(data_config(copy[0], data_dir))


@pytest.fixture(scope='module')
def originals(copy, data_dir):
  config = data_config(copy[0], data_dir, aligned=False)
  config.crop = 'fixed'
  config.fixed_crop = raf_db_layout.FIXED_CROP
  return datasets.prepare(config)


def nearest(image, faces):
  """(index, distance) of the face in `faces` closest to `image`."""
  distances = [real_layouts.mean_abs_difference(
      image, real_layouts.resized(face, SIZE)) for _, face in faces]
  index = min(range(len(faces)), key=distances.__getitem__)
  return index, distances[index]


def test_classes_are_rafd_words_in_rafd_order(built):
  names = datasets.expression_names(built)
  assert names == ['neutral', 'happy', 'sad', 'angry', 'surprised',
                   'disgusted', 'fearful']
  assert datasets.neutral_class(names) == 0


@pytest.mark.parametrize('which', ['built', 'originals'])
def test_official_split_and_labels(copy, which, request):
  builder = request.getfixturevalue(which)
  written = copy[1]
  names = datasets.expression_names(builder)
  assert set(builder.info.splits) == {'train', 'test'}
  everyone = written['train'] + written['test']
  for split, offset in (('train', 0), ('test', len(written['train']))):
    records = read_records(builder, split)
    assert len(records) == len(written[split]) == 7
    counts = collections.Counter(names[r['expression']] for r in records)
    assert counts == collections.Counter(word for word, _ in written[split])
    # Each record is its own line's face, with that line's class: the
    # train_ lines' faces in 'train', the test_ lines' in 'test'.
    matched = set()
    for record in records:
      index, distance = nearest(record['image'], everyone)
      assert distance < 1.5, (which, split, distance)
      assert names[record['expression']] == everyone[index][0]
      matched.add(index)
    assert matched == set(range(offset, offset + 7))


def test_bad_lines_and_missing_images_are_counted(copy, built, originals):
  for builder in (built, originals):
    skipped = builder.info.metadata['skipped']
    expected = copy[1]['skipped']
    assert sum(skipped.values()) == sum(expected.values())
    for fragment, count in expected.items():
      reasons = [reason for reason in skipped if fragment in reason]
      assert len(reasons) == 1, (fragment, skipped)
      assert skipped[reasons[0]] == count, (fragment, skipped)
  examples = built.info.metadata['skipped_examples']
  bad = next(reason for reason in examples if 'not like' in reason)
  # Examples say where the line is: the 18th, after 14 images, a line with
  # no label and a blank one.
  label_file = copy[0] / raf_db_layout.LABEL_FILE
  assert f'{label_file}:18: val_0001.jpg 3' in examples[bad]


def test_centre_crop_of_the_aligned_faces(copy, built):
  """The aligned face fills its image: its centre is the face, while a
  wrong square (the top-left quarter) is not."""
  root, written = copy
  photo = photos.read_photo(
      root / 'Image' / 'aligned' / 'train_00001_aligned.jpg')
  face = real_layouts.resized(written['train'][0][1], SIZE)
  corner = photos.crop_face(photo, (0, 0, 50), SIZE)
  assert real_layouts.mean_abs_difference(corner, face) > 20
  centre = photos.crop_face(photo, photos.center_square_box(photo.shape),
                            SIZE)
  assert real_layouts.mean_abs_difference(centre, face) < 1.5
  assert built.builder_config.crop == 'center'


def test_no_subjects(built):
  assert built.info.metadata['num_subjects'] == 0
  assert {record['subject'] for record in read_records(built, 'test')} == {-1}


def test_subject_split_is_refused(copy, data_dir):
  config = data_config(copy[0], data_dir)
  config.split_scheme = 'subject'
  with pytest.raises(datasets.DatasetError, match='raf_db does not say'):
    datasets.split_names(config)


def expect_error(config, *fragments):
  """Asserts `prepare` fails naming `fragments`, leaving nothing built."""
  with pytest.raises(datasets.DatasetError) as caught:
    datasets.prepare(config)
  for fragment in fragments:
    assert fragment in str(caught.value), str(caught.value)
  assert not datasets.builder(config).is_prepared()
  assert not list(pathlib.Path(config.data_dir).rglob('dataset_info.json'))


def test_photographs_need_another_crop_than_centre(copy, tmp_path):
  assert raf_db.RafDb.default_crop({'aligned': False}) == 'detect'
  assert raf_db.RafDb.default_crop({'aligned': True}) == 'center'
  # The default follows the option; a centre crop of photographs is refused.
  config = data_config(copy[0], tmp_path, aligned=False)
  assert datasets.builder(config).builder_config.crop == 'detect'
  config.crop = 'center'
  expect_error(config, 'crop=detect')


def test_missing_label_file(copy, tmp_path):
  expect_error(data_config(copy[0] / 'Image', tmp_path),
               'EmoLabel/list_patition_label.txt is missing')


def test_only_bad_lines(tmp_path):
  label_file = tmp_path / 'copy' / raf_db_layout.LABEL_FILE
  label_file.parent.mkdir(parents=True)
  label_file.write_text('train_00001.jpg 9\ntrain_00002.jpg 3\n')
  expect_error(data_config(tmp_path / 'copy', tmp_path / 'tfds'),
               'found no images', '1 a label not among',
               '1 a listed image missing from Image/aligned/')


def test_name_is_the_registry_key():
  assert raf_db.RafDb.name == 'raf_db'
  assert datasets.builder_class('raf_db') is raf_db.RafDb

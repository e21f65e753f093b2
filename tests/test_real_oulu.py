"""The Oulu-CASIA builder on a fixture copy in its layout: which frames of
each sequence it keeps, their labels, the paper's subject split, the crop,
and what it says about folders that are not Oulu's."""

import collections

import pytest

from configs import default
from leedjax import faces as faces_lib
from leedjax import photos
from leedjax.data import datasets
from leedjax.data.real import oulu
import real_layouts
from real_layouts import read_records
from real_layouts import oulu as oulu_layout

SIZE = 32
# RaFD's order, less neutral and contemptuous.
WORDS = ('happy', 'sad', 'angry', 'surprised', 'disgusted', 'fearful')
# Fixture sequences broken on purpose.
SHORT = ('P002', 'fearful')     # two frames only
CORRUPT = ('P075', 'sad')       # its last frame cannot be decoded


def data_config(copy, data_dir, *, crop='fixed', **options):
  config = default.get_config().data
  config.dataset = 'oulu'
  config.manual_dir = str(copy)
  config.data_dir = str(data_dir)
  config.image_size = SIZE
  config.crop = crop
  if crop == 'fixed':
    config.fixed_crop = oulu_layout.FIXED_CROP
  config.options.update(options)
  return config


@pytest.fixture(scope='module')
def copy(tmp_path_factory):
  """(folder, {path: frame as written}, {sequence: its frames in order})."""
  root = tmp_path_factory.mktemp('oulu') / 'OriginalImg'
  written = oulu_layout.write(root)
  light = root / 'VL' / 'Strong'
  # P002's Fear sequence cut to its first two frames.
  short = sorted((path for path, frame in written.items()
                  if frame[:2] == SHORT), key=lambda path: int(path.stem))
  for path in short[2:]:
    path.unlink()
    del written[path]
  # P075's Sadness ends in a frame no decoder reads.
  last = max((path for path, frame in written.items()
              if frame[:2] == CORRUPT), key=lambda path: int(path.stem))
  real_layouts.write_corrupt_jpeg(last)
  del written[last]
  # Folders Oulu does not have: an expression and a non-subject folder.
  neutral = written[next(iter(written))][4]
  oulu_layout.write_sequence(light / 'P001' / 'Contempt', neutral, neutral, 4)
  oulu_layout.write_sequence(light / 'calibration' / 'Happiness', neutral,
                             neutral, 2)
  (light / 'README.txt').write_text('not a frame')
  sequences = collections.defaultdict(list)
  for path, frame in written.items():
    sequences[frame[:2]].append(path)
  for paths in sequences.values():
    paths.sort(key=lambda path: int(path.stem))
  return root, written, dict(sequences)


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  return tmp_path_factory.mktemp('tfds')


@pytest.fixture(scope='module')
def last_three(copy, data_dir):
  return datasets.prepare(data_config(copy[0], data_dir))


@pytest.fixture(scope='module')
def with_neutral(copy, data_dir):
  return datasets.prepare(data_config(copy[0], data_dir, frames=2,
                                      neutral_first_frame=True))


@pytest.fixture(scope='module')
def last_four(copy, data_dir):
  return datasets.prepare(data_config(copy[0], data_dir, frames=4))


def labelled(builder, split='train'):
  """[(subject name, class name, image)] of a split."""
  names = datasets.expression_names(builder)
  subjects = builder.info.metadata['subjects']
  return [(subjects[record['subject']], names[record['expression']],
           record['image']) for record in read_records(builder, split)]


def every_record(builder):
  return labelled(builder, 'train') + labelled(builder, 'test')


def nearest_face(image, copy, subject):
  """('neutral' or the expression word, distance) of the subject's face in
  the fixture that `image` is closest to."""
  faces = {}
  for frame in copy[1].values():
    if frame[0] == subject:
      faces[frame[1] if frame[2] == 'apex' else 'neutral'] = frame[3]
  distances = {word: real_layouts.mean_abs_difference(
      image, real_layouts.resized(face, SIZE)) for word, face in faces.items()}
  word = min(distances, key=distances.get)
  return word, distances[word]


def test_classes_are_rafd_words_in_rafd_order(last_three, with_neutral):
  assert datasets.expression_names(last_three) == list(WORDS)
  assert datasets.expression_names(with_neutral) == ['neutral', *WORDS]
  assert datasets.neutral_class(datasets.expression_names(with_neutral)) == 0
  assert datasets.neutral_class(datasets.expression_names(last_three)) is None


def test_last_three_frames_of_each_sequence(copy, last_three):
  _, _, sequences = copy
  records = every_record(last_three)
  counts = collections.Counter((subject, word) for subject, word, _ in records)
  expected = {key: 3 for key in sequences if key != SHORT}
  expected[CORRUPT] = 2
  assert counts == expected
  # Each record is the expression's apex, not a neutral frame: a text sort
  # of P001's '0.jpg'...'10.jpg' would take frame 7, still neutral.
  for subject, word, image in records:
    assert nearest_face(image, copy, subject)[0] == word, (subject, word)


def test_last_four_frames_take_one_neutral_looking_frame(copy, last_four):
  looks = collections.Counter(
      (subject, word, nearest_face(image, copy, subject)[0] == word)
      for subject, word, image in every_record(last_four))
  for (subject, word), paths in copy[2].items():
    if (subject, word) in (SHORT, CORRUPT):
      continue
    assert looks[subject, word, True] == 3, (subject, word)
    assert looks[subject, word, False] == 1, (subject, word)


def test_first_frame_as_neutral(copy, with_neutral):
  _, _, sequences = copy
  records = every_record(with_neutral)
  counts = collections.Counter((subject, word) for subject, word, _ in records)
  complete = [key for key in sequences if key != SHORT]
  for subject, word in complete:
    # The corrupt frame is one of the last two.
    assert counts[subject, word] == (1 if (subject, word) == CORRUPT else 2)
  neutral = collections.Counter(subject for subject, word, _ in records
                                if word == 'neutral')
  assert neutral == collections.Counter(subject for subject, _ in complete)
  for subject, word, image in records:
    assert nearest_face(image, copy, subject)[0] == word, (subject, word)
  skipped = with_neutral.info.metadata['skipped']
  assert skipped['in a sequence of fewer than 3 frames (frames=2, plus its '
                 'first as neutral)'] == 2


def test_crops_are_the_pasted_faces(copy, last_three):
  for subject, word, image in every_record(last_three):
    assert nearest_face(image, copy, subject)[1] < 1.5
  # The frame's centre square, a wrong crop, is far from the face.
  path, frame = next(iter(copy[1].items()))
  photo = photos.read_photo(path)
  centre = photos.crop_face(photo, photos.center_square_box(photo.shape),
                            SIZE)
  assert real_layouts.mean_abs_difference(
      centre, real_layouts.resized(frame[3], SIZE)) > 20


def test_skips_are_counted_by_reason(copy, last_three):
  metadata = last_three.info.metadata
  skipped = metadata['skipped']
  unknown = [reason for reason in skipped if 'does not have' in reason]
  assert len(unknown) == 1 and skipped[unknown[0]] == 4
  assert 'Happiness' in unknown[0]
  assert skipped['in a sequence of fewer than 3 frames (frames=3)'] == 2
  assert skipped['unreadable image'] == 1
  assert skipped['not in a P### subject folder'] == 2
  assert len(skipped) == 4
  assert 'Contempt' in metadata['skipped_examples'][unknown[0]][0]
  used = sum(last_three.info.splits[split].num_examples
             for split in ('train', 'test'))
  assert metadata['num_found'] == used + sum(skipped.values())


def test_subject_split_holds_out_p073_to_p080(last_three):
  assert last_three.info.metadata['subjects'] == ['P001', 'P002', 'P075']
  train = collections.Counter(subject for subject, _, _ in labelled(
      last_three, 'subject_train'))
  test = collections.Counter(subject for subject, _, _ in labelled(
      last_three, 'subject_test'))
  assert set(train) == {'P001', 'P002'} and set(test) == {'P075'}
  # P075: six sequences of three, less the corrupt frame.
  assert test['P075'] == 17
  assert oulu.Oulu.TEST_SUBJECTS == tuple(f'P{n:03d}' for n in range(73, 81))


def test_random_split_covers_every_image_once(last_three):
  splits = last_three.info.splits
  total = splits['train'].num_examples + splits['test'].num_examples
  assert total == (splits['subject_train'].num_examples
                   + splits['subject_test'].num_examples)
  assert splits['test'].num_examples == round(0.1 * total)


def test_split_names_offers_the_subject_split(copy, data_dir):
  config = data_config(copy[0], data_dir)
  config.split_scheme = 'subject'
  assert datasets.split_names(config) == ('subject_train', 'subject_test')


def expect_error(config, *fragments):
  """Asserts `prepare` fails naming `fragments`, leaving nothing built."""
  with pytest.raises(datasets.DatasetError) as caught:
    datasets.prepare(config)
  for fragment in fragments:
    assert fragment in str(caught.value)
  assert not datasets.builder(config).is_prepared()
  return str(caught.value)


def test_missing_light_folder_lists_what_is_there(copy, tmp_path):
  message = expect_error(data_config(copy[0], tmp_path,
                                     illumination='Dark'),
                         'no VL/Dark folder', 'found VL/Strong')
  assert 'illumination' in message
  assert not list(tmp_path.rglob('dataset_info.json'))


def test_copy_given_one_folder_too_high(copy, tmp_path):
  expect_error(data_config(copy[0].parent, tmp_path),
               'no VL/Strong folder', f'manual_dir={copy[0]}')


def test_no_subject_folders(tmp_path):
  face = real_layouts.faces(1, ('neutral',))[(0, 'neutral', 0.0)]
  oulu_layout.write_sequence(
      tmp_path / 'copy' / 'VL' / 'Strong' / 'people' / 'Happiness', face,
      face, 4)
  expect_error(data_config(tmp_path / 'copy', tmp_path / 'tfds'),
               'no P### subject folders', 'found people')


def test_bad_options(copy, tmp_path):
  expect_error(data_config(copy[0], tmp_path, frames=0), 'frames=0')
  # As `leedjax.data.prepare --option=neutral_first_frame=true` gives it.
  expect_error(data_config(copy[0], tmp_path, neutral_first_frame='true'),
               "neutral_first_frame='true'", 'True or False')


def test_only_unreadable_frames_builds_nothing(tmp_path):
  for number in range(3):
    real_layouts.write_corrupt_jpeg(
        tmp_path / 'copy' / 'VL' / 'Strong' / 'P001' / 'Anger'
        / f'{number:03d}.jpeg')
  expect_error(data_config(tmp_path / 'copy', tmp_path / 'tfds'),
               'none of the 3 images', 'unreadable image')
  assert not list((tmp_path / 'tfds').rglob('dataset_info.json'))


@pytest.fixture(scope='module')
def detect_copy(tmp_path_factory):
  """A copy whose faces the frontal Haar detector finds (SynthFaces
  subject 3) and one whose faces it mostly misses (subject 1)."""
  root = tmp_path_factory.mktemp('oulu_detect')
  written = oulu_layout.write(root, subjects=('P001', 'P074'), renders=(3, 1))
  return root, written


def detected_box(photo):
  """The box the builder's 'detect' crop finds in a frame, or None."""
  found = faces_lib.detect_faces(photo, min_size=max(20, round(
      min(photo.shape[:2]) / 8)))
  return tuple(found[0]) if len(found) else None


def overlap(box, square):
  """Intersection over union of an (x, y, w, h) box and a square."""
  (x, y, w, h), (left, top, side) = box, square
  width = max(0, min(x + w, left + side) - max(x, left))
  height = max(0, min(y + h, top + side) - max(y, top))
  inter = width * height
  return inter / (w * h + side * side - inter)


def test_detect_crop(detect_copy, tmp_path):
  root, written = detect_copy
  # The default crop is 'detect': leave config.data.crop unset.
  config = data_config(root, tmp_path, crop=None)
  assert datasets.builder(config).builder_config.crop == 'detect'
  built = datasets.prepare(config)
  square = (oulu_layout.CENTRE[0] - oulu_layout.SIDE // 2,
            oulu_layout.CENTRE[1] - oulu_layout.SIDE // 2, oulu_layout.SIDE)
  expected, missed, found_p001 = [], 0, 0
  for path, frame in written.items():
    if frame[2] != 'apex':
      continue
    photo = photos.read_photo(path)
    box = detected_box(photo)
    if box is None:
      missed += 1
      continue
    found_p001 += frame[0] == 'P001'
    # The detector finds the pasted face, not something beside it.
    assert overlap(box, square) > 0.3, (path, box)
    expected.append(photos.crop_face(photo, photos.square_crop_box(
        box, config.crop_margin), SIZE))
  # Measured: the cascade finds every frame of SynthFaces subject 3 and few
  # of subject 1's, so both paths (kept and skipped) are exercised.
  assert found_p001 == 18 and missed > 0
  records = every_record(built)
  assert len(records) == len(expected)
  assert built.info.metadata['skipped'] == {'no face found': missed}
  for _, _, image in records:
    distances = [real_layouts.mean_abs_difference(image, crop)
                 for crop in expected]
    assert min(distances) < 1.0
  # Oulu's frames are off-centre: the detected crop is not the centre's.
  photo = photos.read_photo(next(iter(written)))
  centre = photos.crop_face(photo, photos.center_square_box(photo.shape),
                            SIZE)
  assert min(real_layouts.mean_abs_difference(centre, crop)
             for crop in expected) > 10


def test_a_second_prepare_finds_the_build(copy, data_dir, last_three):
  again = datasets.builder(data_config(copy[0], data_dir))
  assert again.is_prepared()
  assert again.info.splits['train'].num_examples == (
      last_three.info.splits['train'].num_examples)


def test_name_is_the_registry_key():
  assert oulu.Oulu.name == 'oulu'
  assert datasets.builder_class('oulu') is oulu.Oulu

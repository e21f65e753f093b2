"""Builds a dataset from your copy and says what is in it.

  python -m leedjax.data.prepare --dataset=rafd --manual_dir=~/data/RaFD

reads the copy, crops and resizes every face, writes the TFDS dataset
(array_record) where `python -m leedjax.main` will find it, prints a summary
(images per class, per camera angle, people, split sizes, images skipped and
why) and writes a contact sheet: a few people x every class, to check the
crops at a glance. The flags mirror `config.data`: a dataset prepared with
the same values (the defaults match configs/default.py's) is the one a
training run with that config reads; a run builds it itself when it is
missing, so this command is for looking before training.
"""

import ast
import collections
import pathlib

from absl import app
from absl import flags
import ml_collections
import numpy as np
import tensorflow_datasets as tfds

from leedjax import cli
from leedjax.data import datasets
from leedjax.evaluation import plots

_DATASET = flags.DEFINE_enum('dataset', None, list(datasets.DATASETS),
                             'Which dataset to build.')
_MANUAL_DIR = flags.DEFINE_string(
    'manual_dir', None, 'The folder holding your copy, as its owners '
    'distribute it (config.data.manual_dir).')
_DATA_DIR = flags.DEFINE_string(
    'data_dir', None, 'Where TFDS writes prepared datasets (default: '
    '$TFDS_DATA_DIR or ~/tensorflow_datasets; config.data.data_dir).')
_IMAGE_SIZE = flags.DEFINE_integer('image_size', 128, 'Side of the faces '
                                   'in pixels (config.data.image_size).')
_CROP = flags.DEFINE_string(
    'crop', None, 'detect, box, fixed or center (default: the dataset\'s; '
    'config.data.crop).')
_CROP_MARGIN = flags.DEFINE_float(
    'crop_margin', 0.25, 'Margin around a detected or given face box, a '
    'fraction of its side (config.data.crop_margin).')
_FIXED_CROP = flags.DEFINE_list(
    'fixed_crop', None, 'x,y,side of crop=fixed as fractions of the image '
    'width (config.data.fixed_crop).')
_OPTION = flags.DEFINE_multi_string(
    'option', [], 'A dataset setting as key=value (config.data.options), '
    'e.g. --option=neutral_first_frame=True for oulu.')
_TEST_FRACTION = flags.DEFINE_float('test_fraction', 0.1,
                                    'config.data.test_fraction.')
_SPLIT_SEED = flags.DEFINE_integer('split_seed', 0, 'config.data.split_seed.')
_SHEET = flags.DEFINE_string(
    'sheet', None, 'Where to write the contact sheet (PNG; default '
    'DATASET_sheet.png in the current directory).')
_SHEET_PEOPLE = flags.DEFINE_integer('sheet_people', 6, 'Rows of the '
                                     'contact sheet.')

class FlagError(ValueError):
  """A flag value that cannot work."""


def data_config(*, dataset, manual_dir=None, data_dir=None, image_size=128,
                crop=None, crop_margin=0.25, fixed_crop=None, options=None,
                test_fraction=0.1, split_seed=0) -> ml_collections.ConfigDict:
  """The `config.data` fields a dataset's builder reads."""
  return ml_collections.ConfigDict({
      'dataset': dataset, 'manual_dir': manual_dir, 'data_dir': data_dir,
      'image_size': image_size, 'crop': crop, 'crop_margin': crop_margin,
      'fixed_crop': fixed_crop, 'options': dict(options or {}),
      'test_fraction': test_fraction, 'split_seed': split_seed,
      'split_scheme': 'random'})


def parse_options(pairs) -> dict:
  """`key=value` strings to a dict; values read as Python literals where
  they are one (True, 3, (0.5, 0.6)), else kept as text."""
  options = {}
  for pair in pairs:
    key, equals, text = pair.partition('=')
    if not equals or not key:
      raise FlagError(f'--option={pair!r}: write it as key=value.')
    try:
      options[key] = ast.literal_eval(text)
    except (ValueError, SyntaxError):
      options[key] = text
  return options


def _read_labels(builder, split: str) -> dict[str, np.ndarray]:
  source = builder.as_data_source(split)
  records = [source[index] for index in range(len(source))]
  return {key: np.array([record[key] for record in records])
          for key in ('subject', 'expression', 'angle')}


def summary(builder) -> str:
  """What the built dataset holds, as lines of text."""
  metadata = builder.info.metadata
  names = datasets.expression_names(builder)
  splits = builder.info.splits
  labels = {split: _read_labels(builder, split) for split in splits}
  everything = {key: np.concatenate([labels[split][key]
                                     for split in ('train', 'test')])
                for key in ('subject', 'expression', 'angle')}
  used = len(everything['subject'])
  skipped = metadata.get('skipped', {})
  lines = [
      f'{builder.name}: {metadata["num_found"]:,} images found in '
      f'{metadata["manual_dir"]}; {used:,} used, '
      f'{sum(skipped.values()):,} skipped.',
      f'Written to {builder.data_dir} '
      f'({builder.builder_config.image_size} px, crop '
      f'{builder.builder_config.crop}).',
      f'People: {metadata["num_subjects"] or "not given by this dataset"}.',
      'Splits (split_scheme random: train/test; subject: subject_train/'
      'subject_test):']
  for split in splits:
    people = len(set(labels[split]['subject'].tolist()) - {-1})
    lines.append(f'  {split:<14} {splits[split].num_examples:>8,} images'
                 + (f', {people} people' if people > 1 else
                    ', 1 person' if people else ''))
  counts = collections.Counter(everything['expression'].tolist())
  lines.append('Images per class:')
  lines += [f'  {name:<22} {counts.get(label, 0):>8,}'
            for label, name in enumerate(names)]
  angles = collections.Counter(everything['angle'].tolist())
  if set(angles) != {0.0}:
    lines.append('Images per camera angle (degrees of yaw):')
    lines += [f'  {angle:>+6.0f} {count:>8,}'
              for angle, count in sorted(angles.items())]
  if skipped:
    lines.append('Skipped:')
    for reason, count in sorted(skipped.items(), key=lambda kv: -kv[1]):
      example = metadata['skipped_examples'][reason][0]
      lines.append(f'  {count:>6,} {reason} (e.g. {example})')
  return '\n'.join(lines)


def contact_sheet(builder, path, num_people: int) -> pathlib.Path:
  """A grid of faces: rows are people (or, without people, the first
  images), columns every class; the frontal view where there is one."""
  names = datasets.expression_names(builder)
  records = []
  for split in ('train', 'test'):
    source = builder.as_data_source(split)
    records += [source[index] for index in range(len(source))]
  size = builder.builder_config.image_size
  blank = np.full((size, size, 3), 128, np.uint8)
  people = sorted({int(r['subject']) for r in records})[:num_people]
  if people == [-1]:
    people = list(range(num_people))  # no people: the n-th image per class
  cells = {}
  for record in sorted(records, key=lambda r: abs(float(r['angle']))):
    label = int(record['expression'])
    if int(record['subject']) >= 0:
      key = (int(record['subject']), label)
      cells.setdefault(key, record['image'])
    else:
      taken = sum(1 for (_, l) in cells if l == label)
      if taken < num_people:
        cells[(taken, label)] = record['image']
  rows = [np.stack([cells.get((person, label), blank)
                    for label in range(len(names))]) for person in people]
  row_labels = [f'person {builder.info.metadata["subjects"][p]}'
                if builder.info.metadata['subjects'] else f'image {p + 1}'
                for p in people]
  # label_grid_png shows small faces upscaled (4x at 32 px).
  plots.label_grid_png(rows, row_labels, list(names), path)
  return pathlib.Path(path)


def prepare_and_describe(config: ml_collections.ConfigDict, sheet,
                         num_people: int) -> str:
  """Builds (or finds) the dataset; returns the summary, sheet written."""
  if config.dataset == datasets.SYNTHETIC:
    raise FlagError('synth_faces is rendered by `python -m leedjax.main` '
                    'itself; this command prepares a dataset from a copy '
                    'you hold: --dataset=rafd, cfeed, oulu, ...')
  builder = datasets.prepare(config)
  text = summary(builder)
  written = contact_sheet(builder, sheet, num_people)
  return f'{text}\nContact sheet: {written}'


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}',
                         exitcode=cli.EXIT_BAD_INPUT)
  cli.quiet_library_logs()
  tfds.disable_progress_bar()

  def build_and_say():
    if _DATASET.value is None:
      raise FlagError('--dataset is required: one of '
                      f'{", ".join(datasets.REAL_BUILDERS)}.')
    try:
      fixed_crop = (None if _FIXED_CROP.value is None
                    else tuple(float(v) for v in _FIXED_CROP.value))
    except ValueError as error:
      raise FlagError(f'--fixed_crop={",".join(_FIXED_CROP.value)}: three '
                      'numbers x,y,side are needed.') from error
    config = data_config(
        dataset=_DATASET.value,
        manual_dir=(None if _MANUAL_DIR.value is None
                    else str(cli.user_path(_MANUAL_DIR.value))),
        data_dir=(None if _DATA_DIR.value is None
                  else str(cli.user_path(_DATA_DIR.value))),
        image_size=_IMAGE_SIZE.value, crop=_CROP.value,
        crop_margin=_CROP_MARGIN.value, fixed_crop=fixed_crop,
        options=parse_options(_OPTION.value),
        test_fraction=_TEST_FRACTION.value, split_seed=_SPLIT_SEED.value)
    sheet = cli.user_path(_SHEET.value or f'{_DATASET.value}_sheet.png')
    if sheet.suffix.lower() != '.png':
      raise FlagError(f'--sheet={_SHEET.value}: the contact sheet is a PNG; '
                      'give a path ending in .png.')
    print(prepare_and_describe(config, sheet, _SHEET_PEOPLE.value))

  cli.guarded(build_and_say, program='leedjax.data.prepare', errors=(
      ((FlagError, datasets.DatasetError), 'Cannot prepare',
       cli.EXIT_BAD_INPUT),))


def run() -> None:
  """Parses the command line and builds (`python -m leedjax.data.prepare`)."""
  app.run(main, flags_parser=cli.flags_parser('Cannot prepare'))


if __name__ == '__main__':
  run()

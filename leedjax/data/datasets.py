"""Which TFDS builder `config.data.dataset` names, and what the stages ask of
any dataset: its splits, class names, neutral class and number of people.

`synth_faces` is rendered here; every other dataset is read from the user's
own copy (`config.data.manual_dir`; `leedjax.data.real`).

  builder = datasets.prepare(config.data)     # builds once, then finds it
  train, test = datasets.split_names(config.data)
  source = builder.as_data_source(train)
"""

import contextlib
import importlib
import io
import os
import pathlib
import sys

import jax
from jax.experimental import multihost_utils
import ml_collections

from leedjax.data import tfds_synthfaces
from leedjax.data.real import layout

SYNTHETIC = 'synth_faces'
# Dataset name -> 'module:class' of its builder (imported when used).
REAL_BUILDERS = {
    'rafd': 'leedjax.data.real.rafd:Rafd',
    'cfeed': 'leedjax.data.real.cfee:Cfeed',
    'oulu': 'leedjax.data.real.oulu:Oulu',
    'affectnet': 'leedjax.data.real.affectnet:Affectnet',
    'raf_db': 'leedjax.data.real.raf_db:RafDb',
    'image_folder': 'leedjax.data.real.image_folder:ImageFolder',
}
DATASETS = (SYNTHETIC, *REAL_BUILDERS)
# What each dataset is and where a copy comes from, for the message a user
# sees when the copy is not given.
DESCRIPTIONS = {
    'rafd': ('the Radboud Faces Database (67 subjects x 8 expressions x 3 '
             'gaze directions x 5 camera angles, 8,040 images; request it '
             'from its owners at https://rafd.socsci.ru.nl)'),
    'cfeed': ('the Compound Facial Expressions of Emotion database (230 '
              'subjects, 22 basic and compound expressions; request it from '
              'its authors, Du, Tao and Martinez, Ohio State University)'),
    'oulu': ('the Oulu-CASIA NIR&VIS facial expression database (80 '
             'subjects, six expressions, image sequences; request it from '
             'the University of Oulu\'s Center for Machine Vision and '
             'Signal Analysis)'),
    'affectnet': ('AffectNet (about 290,000 labelled photographs from the '
                  'web; request it from its authors, Mollahosseini, Hasani '
                  'and Mahoor, University of Denver)'),
    'raf_db': ('the Real-world Affective Faces Database, basic set (15,339 '
               'aligned photographs, 7 expressions; request it from its '
               'authors, Li and Deng, Beijing University of Posts and '
               'Telecommunications)'),
    'image_folder': 'any folder of face images, one sub-folder per expression',
}

# Split names of each `config.data.split_scheme`, as (train, test).
SPLITS = tfds_synthfaces.SPLITS


class DatasetError(ValueError):
  """A dataset that cannot be built or read as configured; the message says
  what to change."""


def is_synthetic(data_config: ml_collections.ConfigDict) -> bool:
  """Whether the data is SynthFaces, whose exact answers can be rendered."""
  return data_config.dataset == SYNTHETIC


def builder_class(name: str):
  """The builder class of a real dataset's name."""
  if name not in REAL_BUILDERS:
    raise DatasetError(f'Unknown config.data.dataset {name!r}: choose one of '
                       f'{DATASETS}.')
  module, cls = REAL_BUILDERS[name].split(':')
  return getattr(importlib.import_module(module), cls)


def builder(data_config: ml_collections.ConfigDict):
  """The builder `config.data` asks for, without building anything."""
  if is_synthetic(data_config):
    return tfds_synthfaces.builder(data_config)
  cls = builder_class(data_config.dataset)
  name = data_config.dataset
  if data_config.manual_dir is None:
    raise DatasetError(
        f'config.data.dataset={name!r} is {DESCRIPTIONS[name]}. leedjax '
        'reads it from your own copy: pass the folder that holds it, '
        f'--config.data.manual_dir=DIR ({cls.EXPECTED}). Without a copy, '
        'train on SynthFaces: --config=configs/synthetic.py.')
  manual_dir = pathlib.Path(data_config.manual_dir).expanduser().absolute()
  if not manual_dir.is_dir():
    raise DatasetError(f'config.data.manual_dir={data_config.manual_dir!r} '
                       f'is not a folder; it should hold {cls.EXPECTED}.')
  options = options_of(data_config)
  crop = data_config.crop or cls.default_crop(options)
  from leedjax.data.real import builder as real  # pylint: disable=g-import-not-at-top
  if crop not in real.CROPS:
    raise DatasetError(f'config.data.crop={crop!r}: choose one of '
                       f'{real.CROPS}.')
  fixed_crop = tuple(data_config.fixed_crop or cls.FIXED_CROP or ())
  if crop == 'fixed' and len(fixed_crop) != 3:
    raise DatasetError(
        f'config.data.crop=fixed needs config.data.fixed_crop=x,y,side '
        f'(fractions of the image width); {name} has no default.')
  config = real.make_config(
      manual_dir, image_size=int(data_config.image_size), crop=crop,
      crop_margin=float(data_config.crop_margin),
      test_fraction=float(data_config.test_fraction),
      split_seed=int(data_config.split_seed),
      fixed_crop=fixed_crop if crop == 'fixed' else None,
      options={key: _plain(value) for key, value in options.items()})
  return cls(config=config, data_dir=_data_dir(data_config),
             file_format='array_record')


def options_of(data_config: ml_collections.ConfigDict) -> dict:
  """A real dataset's builder options: its defaults, updated by
  `config.data.options`."""
  cls = builder_class(data_config.dataset)
  options = dict(cls.OPTIONS)
  given = dict(data_config.get('options', {}) or {})
  unknown = sorted(set(given) - set(options))
  if unknown:
    raise DatasetError(
        f'config.data.options has {unknown}, which {data_config.dataset} '
        f'does not take; its options are {sorted(options) or "none"}.')
  options.update(given)
  return options


def _plain(value):
  """Option values as hashable plain types (lists from flags to tuples)."""
  if isinstance(value, (list, tuple)):
    return tuple(_plain(item) for item in value)
  return value


def _data_dir(data_config) -> str | None:
  if data_config.data_dir is None:
    return None
  # Relative to where the command was started.
  return os.fspath(pathlib.Path(data_config.data_dir).expanduser().absolute())


def prepare(data_config: ml_collections.ConfigDict):
  """Builds the dataset of `config.data` if needed and returns its builder.

  With several processes, process 0 builds first; the others then find the
  data on shared storage, or build their own copy on host-local disks.

  Raises:
    DatasetError: the copy is missing, laid out otherwise than expected,
      or holds no usable image; nothing is left half-written.
  """
  builder(data_config)  # fails early on a bad config, in every process
  if jax.process_count() > 1:
    if jax.process_index() == 0:
      _build(builder(data_config))
    multihost_utils.sync_global_devices('leedjax: dataset prepared')
  # Made after the build above, so that it reads what that build wrote.
  prepared = builder(data_config)
  _build(prepared)
  for split in split_names(data_config):
    if split not in prepared.info.splits:
      fixed = getattr(prepared, 'TEST_SUBJECTS', None)
      why = (f'none of its test people ({", ".join(fixed)}) is in the copy'
             if fixed and split.startswith('subject') else
             'too few images or people in the copy for it')
      raise DatasetError(
          f'{prepared.name} has no images in its {split!r} split (of '
          f'split_scheme={data_config.split_scheme!r}): {why} '
          f'({data_config.manual_dir}). Add them, or use the other '
          'split_scheme.')
  return prepared


def _build(unprepared) -> None:
  """Writes the dataset unless it is there already."""
  if unprepared.is_prepared():
    return
  config = unprepared.builder_config
  if unprepared.name == SYNTHETIC:
    print(f'Rendering SynthFaces into {unprepared.data_dir} ...', flush=True)
  else:
    print(f'Building {unprepared.name} from {config.manual_dir} into '
          f'{unprepared.data_dir} ...', flush=True)
  # TFDS prints lines about "downloading" (nothing is downloaded here);
  # the line above says what happens.
  try:
    with contextlib.redirect_stdout(io.StringIO()):
      unprepared.download_and_prepare()
  except layout.LayoutError as error:
    raise DatasetError(str(error)) from error
  if not unprepared.is_prepared():  # written where TFDS cannot find it
    raise DatasetError(f'{unprepared.name} was built but cannot be found in '
                       f'{unprepared.data_dir}; this is a bug in leedjax.')


def split_names(data_config: ml_collections.ConfigDict) -> tuple[str, str]:
  """(train_split, test_split) of `config.data.split_scheme`."""
  scheme = data_config.split_scheme
  if scheme not in SPLITS:
    raise DatasetError(f'Unknown config.data.split_scheme {scheme!r}: choose '
                       f'one of {tuple(SPLITS)}.')
  if (scheme == 'subject' and not is_synthetic(data_config)
      and data_config.dataset in REAL_BUILDERS
      and not builder_class(data_config.dataset).has_subjects(
          options_of(data_config))):
    raise DatasetError(
        f'config.data.split_scheme=subject: {data_config.dataset} does not '
        'say who is in each image; use split_scheme=random (its own '
        'train/test split).')
  return SPLITS[scheme]


def expression_names(prepared) -> list[str]:
  """Class names of a builder's `expression` feature, in label order."""
  return list(prepared.info.features['expression'].names)


def neutral_class(names) -> int | None:
  """The label of the neutral expression, or None if there is none."""
  lowered = [name.lower() for name in names]
  return lowered.index('neutral') if 'neutral' in lowered else None


def num_subjects(prepared) -> int:
  """How many people a built dataset's subject ids count (0..n-1)."""
  if prepared.name == SYNTHETIC:
    return prepared.builder_config.grid.num_subjects
  return int(prepared.info.metadata['num_subjects'])


def progress(message: str) -> None:
  """A progress line of a long build, on stderr (stdout is captured)."""
  print(message, file=sys.stderr, flush=True)

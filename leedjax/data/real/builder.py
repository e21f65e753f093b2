"""The builder every real face dataset shares: scan, crop, split, write.

A dataset's builder says how its folder is laid out (`scan`), its class
names, its default crop and which split it fixes; this class does the
rest the same way for all of them:

  * every image found is decoded, cropped to a square around the face
    (`CROPS`) and resized to `image_size`; an image that cannot be decoded,
    or in which no face is found, is counted and skipped, never silently
    dropped (`info.metadata['skipped']`, printed by `leedjax.data.prepare`);
  * records carry the features `synth_faces` has that the stages read
    (`image`, `subject`, `expression`, `angle`, `gaze`, and `catalog_row`,
    -1: no renderer can draw an exact answer for a photograph);
  * four splits as SynthFaces has: `train`/`test`, a random split of
    images (or the dataset's own split, where it fixes one), and
    `subject_train`/`subject_test`, which share no person (a dataset's fixed
    test subjects, or a seeded share of them);
  * TFDS writes into a temporary folder and renames it when complete, so a
    failed build leaves nothing a later run would take as a dataset.
"""

import concurrent.futures
import dataclasses
import hashlib
import os
import pathlib
import re
import shutil
import sys
import tempfile
from typing import Any
import weakref

import numpy as np
from PIL import Image
import tensorflow_datasets as tfds

from leedjax import photos
from leedjax.data.real import layout

# How faces are cut out of the dataset's images:
#   'detect': OpenCV's frontal-face detector, the largest face, a square
#     around it widened by `crop_margin` on each side (profile views and
#     faces it misses are skipped and counted);
#   'box': the face box the dataset gives (AffectNet), widened likewise;
#   'fixed': a fixed square given as fractions of the image (the builder's
#     `FIXED_CROP`: centre x, centre y, side, each of the image's width),
#     the same for every image, as StarGAN cropped RaFD;
#   'center': the largest centred square (images already aligned).
CROPS = ('detect', 'box', 'fixed', 'center')
# Detection runs on a copy at most this many pixels on its longer side.
DETECT_SIDE = 512


@dataclasses.dataclass(eq=False, kw_only=True)
class RealFacesConfig(tfds.core.BuilderConfig):
  """Where the copy is and how to cut it; make it with `make_config`."""
  manual_dir: str = ''
  image_size: int = 128
  crop: str = 'detect'
  crop_margin: float = 0.25
  test_fraction: float = 0.1
  split_seed: int = 0
  # (centre x, centre y, side) as fractions of the width, for crop='fixed'.
  fixed_crop: tuple[float, float, float] | None = None
  # The builder's own options (`RealFacesBuilder.OPTIONS`), sorted pairs.
  options: tuple[tuple[str, Any], ...] = ()


def make_config(manual_dir, *, image_size: int, crop: str, crop_margin: float,
                test_fraction: float, split_seed: int,
                fixed_crop: tuple[float, float, float] | None,
                options: dict[str, Any]) -> RealFacesConfig:
  """A builder config whose name spells out every parameter; the copy's
  folder enters as a hash of its absolute path, so that two copies never
  share a built dataset."""
  manual_dir = os.fspath(os.path.abspath(os.path.expanduser(manual_dir)))
  folder = hashlib.sha256(manual_dir.encode()).hexdigest()[:10]
  spelled = ''.join(f'-{key}{_spelled(value)}'
                    for key, value in sorted(options.items()))
  crop_name = crop if crop != 'fixed' else 'fixed' + '_'.join(
      repr(float(value)) for value in fixed_crop)
  name = (f'{image_size}px-{crop_name}-margin{float(crop_margin)!r}'
          f'-test{float(test_fraction)!r}-splitseed{split_seed}{spelled}'
          f'-copy{folder}')
  return RealFacesConfig(
      name=name, manual_dir=manual_dir, image_size=image_size,
      crop=crop, fixed_crop=fixed_crop,
      crop_margin=float(crop_margin), test_fraction=float(test_fraction),
      split_seed=int(split_seed), options=tuple(sorted(options.items())),
      description=f'Faces from {manual_dir}, cropped ({crop_name}) to '
                  f'{image_size} px.')


# Option values spelled out in a config's name as they are; any other
# (a regex's slashes and brackets would nest folders or read as globs)
# enters as a hash.
_SPELLABLE = re.compile(r'[\w.,()+-]{0,40}')


def _spelled(value) -> str:
  text = repr(value).replace(' ', '').replace("'", '')
  if _SPELLABLE.fullmatch(text):
    return text
  return 'h' + hashlib.sha256(repr(value).encode()).hexdigest()[:10]


class RealFacesBuilder(tfds.core.GeneratorBasedBuilder,
                       skip_registration=True):
  """Base of the real datasets' builders; subclasses set the class
  attributes below and `scan`."""

  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'First release.'}
  # Class names in label order.
  EXPRESSIONS: tuple[str, ...] = ()
  DEFAULT_CROP = 'detect'
  # (centre x, centre y, side) as fractions of the image's width, for
  # crop='fixed'.
  FIXED_CROP: tuple[float, float, float] | None = None
  # Dataset-specific settings and their defaults (config.data.options).
  OPTIONS: dict[str, Any] = {}
  # Whether images name their person (identity judge, subject split).
  HAS_SUBJECTS = True
  # The dataset's own test subjects, if its papers fix them.
  TEST_SUBJECTS: tuple[str, ...] | None = None
  # What the manual directory should hold, for error messages.
  EXPECTED = ''

  def scan(self, directory, options: dict[str, Any]) -> layout.Scan:
    """The images of the copy in `directory`, in a stable order."""
    raise NotImplementedError

  def expression_names(self) -> tuple[str, ...]:
    """Class names in label order (a builder whose classes depend on its
    options or its folder overrides this)."""
    return self.EXPRESSIONS

  @classmethod
  def default_crop(cls, options: dict[str, Any]) -> str:
    """The crop used when `config.data.crop` is None, with these options."""
    del options
    return cls.DEFAULT_CROP

  @classmethod
  def has_subjects(cls, options: dict[str, Any]) -> bool:
    """Whether images name their person, with these options."""
    del options
    return cls.HAS_SUBJECTS

  @property
  def options(self) -> dict[str, Any]:
    return dict(self.builder_config.options)

  def _info(self) -> tfds.core.DatasetInfo:
    size = self.builder_config.image_size
    scalar = tfds.features.Scalar
    return self.dataset_info_from_configs(
        features=tfds.features.FeaturesDict({
            'image': tfds.features.Image(shape=(size, size, 3),
                                         encoding_format='png'),
            'subject': scalar(np.int32, doc='Person number, -1 if unknown '
                              "(names: metadata['subjects'])."),
            'expression': tfds.features.ClassLabel(
                names=self.expression_names()),
            'angle': scalar(np.float32, doc='Camera yaw in degrees.'),
            'gaze': scalar(np.float32, doc='Gaze: -1 left, 0, 1 right.'),
            'catalog_row': scalar(np.int64, doc='-1: not rendered.'),
        }),
        metadata=tfds.core.MetadataDict(),
        disable_shuffling=True,
    )

  def _split_generators(self, dl_manager):
    del dl_manager  # Nothing is downloaded; the copy is the config's folder.
    config = self.builder_config
    directory = layout.require_directory(config.manual_dir, self.name,
                                         self.EXPECTED)
    scan = self.scan(directory, self.options)
    if not scan.items:
      raise layout.LayoutError(
          f'{self.name}: found no images in {directory} '
          f'({_skips_text(scan)}); expected {self.EXPECTED}.')
    num_found = len(scan.items) + sum(scan.skipped.values())
    # Cropped faces wait on disk, not in memory (AffectNet's ~290,000
    # would take gigabytes), beside the dataset being written (/tmp may be
    # memory itself); the folder goes when the builder does.
    parent = pathlib.Path(self.data_dir).parent
    parent.mkdir(parents=True, exist_ok=True)
    store = pathlib.Path(tempfile.mkdtemp(prefix='.leedjax-faces-',
                                          dir=parent))
    weakref.finalize(self, shutil.rmtree, store, ignore_errors=True)
    faces = self._faces(scan, store)
    kept = [(item, face) for item, face in zip(scan.items, faces)
            if face is not None]
    if not kept:
      raise layout.LayoutError(
          f'{self.name}: none of the {len(scan.items)} images in {directory} '
          f'could be used ({_skips_text(scan)}).')
    items = [item for item, _ in kept]
    self._check_every_class(items, scan)
    has_subjects = self.has_subjects(self.options)
    subjects = sorted({item.subject for item in items}) if (
        has_subjects) else []
    subject_ids = {name: number for number, name in enumerate(subjects)}
    self.info.metadata.update({
        'manual_dir': config.manual_dir,
        'subjects': subjects,
        'num_subjects': len(subjects),
        'num_found': num_found,
        'skipped': dict(scan.skipped),
        'skipped_examples': scan.skipped_examples,
    })
    splits = {'train': None, 'test': None}
    random_test = self._random_test(items)
    splits['train'] = np.flatnonzero(~random_test)
    splits['test'] = np.flatnonzero(random_test)
    if has_subjects:
      subject_test = self._subject_test(items, subjects)
      splits['subject_train'] = np.flatnonzero(~subject_test)
      splits['subject_test'] = np.flatnonzero(subject_test)
    pngs = [face for _, face in kept]
    # TFDS cannot write an empty split (too few images or people for it):
    # it is left out, and a run that needs it says so (`datasets.prepare`).
    return {name: self._generate_examples(items, pngs, indices, subject_ids)
            for name, indices in splits.items() if len(indices)}

  def _check_every_class(self, items, scan: layout.Scan) -> None:
    """A class without a usable image is an error: classifiers and
    StarGAN's domains need every class (checked after cropping, since a
    detector may miss every face of one)."""
    present = {item.expression for item in items}
    missing = [name for name in self.expression_names()
               if name not in present]
    if missing:
      raise layout.LayoutError(
          f'{self.name}: no usable image of the class(es) '
          f'{", ".join(missing)} in {self.builder_config.manual_dir} '
          f'({_skips_text(scan)}). Add them, or choose another crop '
          '(--config.data.crop) if their faces were not found.')

  def _random_test(self, items) -> np.ndarray:
    """Test mask of the image split: the dataset's own, else random."""
    fixed = [item.split for item in items]
    if all(split is not None for split in fixed):
      return np.array([split == 'test' for split in fixed])
    count = len(items)
    test = np.zeros(count, bool)
    num_test = _share(count, self.builder_config.test_fraction)
    order = np.random.default_rng(self.builder_config.split_seed).permutation(
        count)
    test[order[:num_test]] = True
    return test

  def _subject_test(self, items, subjects) -> np.ndarray:
    """Test mask of the subject-disjoint split."""
    if self.TEST_SUBJECTS is not None:
      held_out = set(self.TEST_SUBJECTS)
    else:
      order = np.random.default_rng(
          [self.builder_config.split_seed, 1]).permutation(len(subjects))
      num_test = _share(len(subjects), self.builder_config.test_fraction)
      held_out = {subjects[i] for i in order[:num_test]}
    return np.array([item.subject in held_out for item in items])

  def _faces(self, scan: layout.Scan, store: pathlib.Path
             ) -> list[pathlib.Path | None]:
    """Every item's face as a PNG file in `store` (None where skipped, the
    reason counted in `scan`), cropped on every core, progress on stderr."""
    faces, count = [], len(scan.items)
    step = max(1, count // 10)
    # Decoding, detecting and encoding release the GIL: threads suffice.
    with concurrent.futures.ThreadPoolExecutor(os.cpu_count()) as pool:
      cropped = pool.map(self._face, scan.items,
                         (store / f'{n}.png' for n in range(count)))
      for number, (item, (face, reason)) in enumerate(
          zip(scan.items, cropped), 1):
        if reason is not None:
          scan.skip(reason, item.path)
        faces.append(face)
        if number % step == 0 or number == count:
          print(f'  {self.name}: {number:,}/{count:,} images cropped',
                file=sys.stderr, flush=True)
    return faces

  def _face(self, item: layout.Item, path: pathlib.Path):
    """(path, None) with the item's face written there as PNG, or (None,
    why it was skipped)."""
    try:
      image = photos.read_photo(item.path)
    except photos.PhotoError:
      return None, 'unreadable image'
    box = self._crop_box(item, image)
    if box is None:
      return None, 'no face found'
    face = photos.crop_face(image, box, self.builder_config.image_size)
    Image.fromarray(face).save(path, format='png')
    return path, None

  def _crop_box(self, item: layout.Item, image: np.ndarray):
    """(left, top, side) of the square to cut, or None: no face found."""
    config = self.builder_config
    height, width = image.shape[:2]
    if config.crop == 'center':
      return photos.center_square_box(image.shape)
    if config.crop == 'fixed':
      centre_x, centre_y, side = (value * width
                                  for value in config.fixed_crop)
      return (round(centre_x - side / 2), round(centre_y - side / 2),
              round(side))
    if config.crop == 'box':
      if item.box is None:
        raise layout.LayoutError(
            f'{self.name}: crop=box needs the face boxes a dataset gives '
            f'(AffectNet\'s); {item.path} has none. Use crop=detect, fixed '
            'or center.')
      return photos.square_crop_box(item.box, config.crop_margin)
    from leedjax import faces  # pylint: disable=g-import-not-at-top
    scale = min(1.0, DETECT_SIDE / max(height, width))
    small = image if scale == 1.0 else photos.resize(
        image, (max(1, round(width * scale)), max(1, round(height * scale))))
    try:
      found = faces.detect_faces(small, min_size=max(
          20, round(min(small.shape[:2]) / 8)))
    except ImportError as error:
      raise layout.LayoutError(f'crop=detect: {error}') from error
    if not len(found):
      return None
    box = tuple(float(value) / scale for value in found[0])
    return photos.square_crop_box(box, config.crop_margin)

  def _generate_examples(self, items, pngs, indices, subject_ids):
    for index in indices:
      item = items[index]
      yield int(index), {
          'image': pngs[index].read_bytes(),
          'subject': subject_ids.get(item.subject, -1),
          'expression': item.expression,
          'angle': item.angle,
          'gaze': item.gaze,
          'catalog_row': -1,
      }


def _share(count: int, fraction: float) -> int:
  """How many of `count` go to test: at least one, and at least one left."""
  if count < 2:
    return 0
  return min(count - 1, max(1, round(count * fraction)))


def _skips_text(scan: layout.Scan) -> str:
  if not scan.skipped:
    return 'no files passed over'
  return 'passed over: ' + '; '.join(
      f'{count} {reason} (e.g. {scan.skipped_examples[reason][0]})'
      for reason, count in scan.skipped.most_common())

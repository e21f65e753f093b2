"""Any folder of face images with one sub-folder per expression.

  manual_dir/
    neutral/  *.jpg, *.png, ... (any names, any depth below)
    happy/
    ...

The class names are the sub-folders' names, lower-cased, in sorted order,
unless `config.data.options.classes` lists them (in label order; folders
are matched ignoring case, and folders it leaves out are skipped and
counted). Name the classes with RaFD's words (neutral, happy, sad, angry,
surprised, disgusted, fearful, contemptuous) where they mean the same:
the expression judge and the neutral class are found by these words.

The images are taken as faces already cut out and aligned, so the default
crop is the largest centred square; for photographs of whole scenes use
`--config.data.crop=detect`. Images name no person unless
`config.data.options.subject_pattern` (a regular expression searched in
each file's name, with a group `subject`) says how; without one there is
no subject split (`--config.data.split_scheme=random` only).
"""

import dataclasses
import hashlib
import pathlib
import re

from leedjax.data.real import builder
from leedjax.data.real import layout

NAMES_SHOWN = 12


def _class_folders(directory) -> list:
  """The sub-folders of `directory` that may be classes (hidden ones
  left out), sorted; none if it is not a folder."""
  directory = pathlib.Path(directory)
  if not directory.is_dir():
    return []
  return sorted(path for path in directory.iterdir()
                if path.is_dir() and not path.name.startswith('.'))


def _folder_classes(directory) -> tuple[str, ...]:
  """The class names the folder's listing gives, sorted."""
  return tuple(sorted({folder.name.lower()
                       for folder in _class_folders(directory)}))


def _given_classes(classes) -> tuple[str, ...] | None:
  """`options['classes']` as lower-cased names ('a,b' or a sequence), or
  None: every folder."""
  if not classes:
    return None
  if isinstance(classes, str):
    classes = classes.split(',')
  return tuple(str(name).strip().lower() for name in classes)


def _listed(names, count: int = NAMES_SHOWN) -> str:
  names = list(names)
  shown = ', '.join(repr(name) for name in names[:count])
  return shown + (f' and {len(names) - count} more'
                  if len(names) > count else '')


class ImageFolder(builder.RealFacesBuilder):
  """Face images sorted into a folder per class (see the module's
  docstring)."""

  name = 'image_folder'
  DEFAULT_CROP = 'center'
  # Empty defaults rather than None, so that flags can set them.
  OPTIONS = {
      # Class names in label order, each a sub-folder's name (any case);
      # (): every sub-folder, lower-cased and sorted.
      'classes': (),
      # A regular expression searched in each file's name whose group
      # `subject` names the person; '': images name no one.
      'subject_pattern': '',
  }
  EXPECTED = ('face images in one sub-folder per expression, e.g. '
              'neutral/, happy/, sad/ (the folder names are the class '
              'names; the images are taken as aligned faces unless '
              '--config.data.crop=detect)')
  MANUAL_DOWNLOAD_INSTRUCTIONS = f'A folder of {EXPECTED}.'

  def __init__(self, *, config: builder.RealFacesConfig, **kwargs):
    # Classes read from the folder's listing enter the config's name:
    # a copy given another class folder is then built anew, not read
    # back with labels numbered for the old list of classes.
    if _given_classes(dict(config.options).get('classes')) is None:
      names = '/'.join(_folder_classes(config.manual_dir))
      digest = hashlib.sha256(names.encode()).hexdigest()[:8]
      config = dataclasses.replace(config,
                                   name=f'{config.name}-folders{digest}')
    super().__init__(config=config, **kwargs)

  @classmethod
  def has_subjects(cls, options) -> bool:
    return bool(options.get('subject_pattern'))

  def expression_names(self) -> tuple[str, ...]:
    # Called by `_info`, before any scan: a folder that cannot be listed
    # gives no classes here, and the scan says what is wrong.
    given = _given_classes(self.options.get('classes'))
    if given is not None:
      return tuple(dict.fromkeys(given))
    return _folder_classes(self.builder_config.manual_dir)

  def scan(self, directory, options) -> layout.Scan:
    folders = _class_folders(directory)
    if not folders:
      files = [path.name for path in sorted(directory.iterdir())]
      raise layout.LayoutError(
          f'{self.name}: {directory} has no sub-folders (found '
          f'{len(files)} files: {_listed(files) or "nothing"}); expected '
          f'{self.EXPECTED}.')
    by_name = {}
    for folder in folders:
      name = folder.name.lower()
      if name in by_name:
        raise layout.LayoutError(
            f'{self.name}: folders {by_name[name].name!r} and '
            f'{folder.name!r} in {directory} are one class, {name!r}; '
            'merge them.')
      by_name[name] = folder
    classes = self._classes(options, by_name, directory)
    pattern = _subject_pattern(options.get('subject_pattern'))
    scan = layout.Scan()
    for path in sorted(directory.iterdir()):
      if path.is_file() and path.suffix.lower() in layout.IMAGE_SUFFIXES:
        scan.skip('not in a class folder', path)
    for name, folder in by_name.items():
      if name not in classes:
        for path in layout.image_files(folder):
          scan.skip('in a folder not among config.data.options.classes',
                    path)
    for name in classes:
      self._scan_class(scan, name, by_name[name], pattern)
    return scan

  def _classes(self, options, by_name, directory) -> tuple[str, ...]:
    """The class names, checked against the folders."""
    given = _given_classes(options.get('classes'))
    if given is None:
      return tuple(sorted(by_name))
    if len(set(given)) != len(given):
      raise layout.LayoutError(
          f'{self.name}: config.data.options.classes={given!r} should name '
          'each class once.')
    missing = [name for name in given if name not in by_name]
    if missing:
      raise layout.LayoutError(
          f'{self.name}: config.data.options.classes names '
          f'{_listed(missing)}, which {directory} has no folder of (folders '
          f'found: {_listed(folder.name for folder in by_name.values())}).')
    return given

  def _scan_class(self, scan, name, folder, pattern) -> None:
    """Adds the images of one class folder to `scan`."""
    files = layout.image_files(folder)
    if not files:
      raise layout.LayoutError(
          f'{self.name}: the folder of class {name!r}, {folder}, holds no '
          f'images ({", ".join(layout.IMAGE_SUFFIXES)}); every class needs '
          'some. Remove the folder or list the classes to use in '
          'config.data.options.classes.')
    count = len(scan.items)
    for path in files:
      subject = ''
      if pattern is not None:
        match = pattern.search(path.name)
        if match is None or not match['subject']:
          scan.skip(f'file name does not match subject_pattern '
                    f'{pattern.pattern!r}', path)
          continue
        subject = match['subject']
      scan.items.append(layout.Item(path=path, subject=subject,
                                    expression=name))
    if len(scan.items) == count:
      raise layout.LayoutError(
          f'{self.name}: none of the {len(files)} images of class {name!r} '
          f'in {folder} has a name that subject_pattern '
          f'{pattern.pattern!r} matches (e.g. {files[0].name!r}).')


def _subject_pattern(subject_pattern: str | None) -> re.Pattern | None:
  if not subject_pattern:
    return None
  try:
    pattern = re.compile(subject_pattern)
  except (re.error, TypeError) as error:
    raise layout.LayoutError(
        f'image_folder: config.data.options.subject_pattern='
        f'{subject_pattern!r} is not a regular expression ({error}).'
    ) from error
  if 'subject' not in pattern.groupindex:
    raise layout.LayoutError(
        f'image_folder: config.data.options.subject_pattern='
        f'{subject_pattern!r} needs a named group subject, e.g. '
        f'^(?P<subject>\\d+)_; its groups are '
        f'{sorted(pattern.groupindex) or "none"}.')
  return pattern

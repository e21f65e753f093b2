"""CFEE, the Compound Facial Expressions of Emotion database (Du, Tao and
Martinez, 2014): 230 subjects x 22 categories, 5,060 frontal photographs.

The categories are 6 basic expressions, neutral, 12 compounds of two basic
ones and 3 others, in CFEE's order (`EXPRESSIONS`; a folder or file may
name one by its 1-based number in this order). Copies are laid out in
more than one way, so the layout is an option (`config.data.options`):

  * layout='folders' (the default): one sub-folder of the manual directory
    per category, e.g. `HappilySurprised/`, `happily_surprised/`,
    `Happily Surprised/`, `08_HappilySurprised/` or `8/` (case, spaces,
    '_', '-' and '.' do not matter; a name wins over a number in front of
    it; nouns such as `Happiness`, `Fear` and adjective pairs such as
    `HappySurprised` are understood). `file_pattern`, a regular expression
    searched in each file's name, gives the subject in its group `subject`;
    by default ('') the first number in the name,
    `FOLDER_FILE_PATTERN`. Images in other folders are skipped and counted.
  * layout='pattern': the images anywhere under the manual directory;
    `file_pattern` is searched in each file's path relative to it ('/'
    between folders) and gives both the subject and the category (name or
    number) in groups `subject` and `category`; by default ('')
    `{subject}_{category}.jpg` (e.g. `001_08.jpg`,
    `S001_HappilySurprised.jpg`), `PATTERN_FILE_PATTERN`.

Files the pattern does not match are skipped and counted; a category with
no image at all stops the build (a class the models would never see).
The photographs are frontal, so faces are found with OpenCV's frontal-face
detector by default (`--config.data.crop=detect`).
"""

import collections
import re

from leedjax.data.real import builder
from leedjax.data.real import layout

# CFEE's categories in its own order, basic ones in RaFD's words.
EXPRESSIONS = (
    'neutral', 'happy', 'sad', 'fearful', 'angry', 'surprised', 'disgusted',
    'happily_surprised', 'happily_disgusted', 'sadly_fearful', 'sadly_angry',
    'sadly_surprised', 'sadly_disgusted', 'fearfully_angry',
    'fearfully_surprised', 'fearfully_disgusted', 'angrily_surprised',
    'angrily_disgusted', 'disgustedly_surprised', 'appalled', 'hatred',
    'awed')
LAYOUTS = ('folders', 'pattern')
# The subject of layout='folders': the first number in the file's name.
FOLDER_FILE_PATTERN = r'^\D*(?P<subject>\d+)'
# Subject and category of layout='pattern': `{subject}_{category}.{ext}`
# in the last path component (a letter prefix on the subject is allowed).
PATTERN_FILE_PATTERN = (r'(?:^|/)[^/\d]*(?P<subject>\d+)[-_. ]+'
                        r'(?P<category>\d+|[A-Za-z][A-Za-z _-]*?)\.\w+$')
REQUIRED_GROUPS = {'folders': ('subject',), 'pattern': ('subject', 'category')}
# The basic expression of each compound's first word.
ADVERBS = {'happily': 'happy', 'sadly': 'sad', 'fearfully': 'fearful',
           'angrily': 'angry', 'disgustedly': 'disgusted'}
# Other words copies use for a category (keys as `_key` writes them).
_NOUNS = {'happiness': 'happy', 'sadness': 'sad', 'fear': 'fearful',
          'anger': 'angry', 'surprise': 'surprised', 'disgust': 'disgusted',
          'hate': 'hatred', 'awe': 'awed'}
# How many folder names an error message lists.
NAMES_SHOWN = 12


def _key(text: str) -> str:
  """A name as compared: lower case, letters and digits only."""
  return re.sub(r'[^a-z0-9]', '', text.lower())


def _aliases() -> dict[str, str]:
  names = {_key(name): name for name in EXPRESSIONS}
  for name in EXPRESSIONS:
    adverb, _, second = name.partition('_')
    if second:  # 'happily_surprised' also as 'HappySurprised'
      names[_key(ADVERBS[adverb] + second)] = name
  names.update(_NOUNS)
  return names


_NAMES = _aliases()


def category_of(text: str) -> str | None:
  """The category a folder name or `category` group names, or None.

  A name (any case and separators, optionally after a number) or a
  1-based number in CFEE's order: 'HappilySurprised', '08_happily
  surprised' and '8' are all 'happily_surprised'.
  """
  number, rest = re.fullmatch(r'\s*(\d*)[-_. ]*(.*)', text, re.S).groups()
  if _key(rest):
    return _NAMES.get(_key(rest))
  if number and 1 <= int(number) <= len(EXPRESSIONS):
    return EXPRESSIONS[int(number) - 1]
  return None


def _subject_name(text: str) -> str:
  """Numbers as 3 digits, so that '7' and '007' are one person."""
  return f'{int(text):03d}' if text.isdigit() else text


def _listed(names, count: int = NAMES_SHOWN) -> str:
  names = list(names)
  shown = ', '.join(repr(name) for name in names[:count])
  return shown + (f' and {len(names) - count} more'
                  if len(names) > count else '')


class Cfeed(builder.RealFacesBuilder):
  """CFEE from the user's copy (see the module's docstring)."""

  name = 'cfeed'
  EXPRESSIONS = EXPRESSIONS
  DEFAULT_CROP = 'detect'
  OPTIONS = {
      # 'folders': a sub-folder per category; 'pattern': file_pattern
      # gives the category too.
      'layout': 'folders',
      # A regular expression with group `subject` (and `category` for
      # layout='pattern'); '': the layout's default, FOLDER_FILE_PATTERN
      # or PATTERN_FILE_PATTERN (a string, so that a flag can set it).
      'file_pattern': '',
  }
  HAS_SUBJECTS = True
  EXPECTED = ('the CFEE photographs, one sub-folder per category (e.g. '
              'Neutral/, Happy/, ..., HappilySurprised/, ..., Awed/, or '
              '1/ to 22/ in CFEE\'s order), the first number in a file\'s '
              'name its subject\'s number (230 subjects x 22 categories, '
              '5,060 images in the full set); for other layouts see '
              'config.data.options.layout and file_pattern')
  MANUAL_DOWNLOAD_INSTRUCTIONS = f'A folder of {EXPECTED}.'

  def scan(self, directory, options) -> layout.Scan:
    kind = options.get('layout', 'folders')
    if kind not in LAYOUTS:
      raise layout.LayoutError(
          f'{self.name}: config.data.options.layout={kind!r} is not a '
          f'layout; choose one of {LAYOUTS}.')
    pattern = _compiled(options.get('file_pattern'), kind)
    if kind == 'folders':
      scan, folders = _scan_folders(directory, pattern)
    else:
      scan, folders = _scan_pattern(directory, pattern), None
    _require_every_category(scan, directory, pattern, folders)
    return scan


def _compiled(file_pattern: str | None, kind: str) -> re.Pattern:
  """The layout's file pattern, checked for the groups it must have."""
  if not file_pattern:
    file_pattern = (FOLDER_FILE_PATTERN if kind == 'folders'
                    else PATTERN_FILE_PATTERN)
  try:
    pattern = re.compile(file_pattern)
  except (re.error, TypeError) as error:
    raise layout.LayoutError(
        f'cfeed: config.data.options.file_pattern={file_pattern!r} is not a '
        f'regular expression ({error}).') from error
  missing = [group for group in REQUIRED_GROUPS[kind]
             if group not in pattern.groupindex]
  if missing:
    found = sorted(pattern.groupindex) or 'none'
    raise layout.LayoutError(
        f'cfeed: config.data.options.file_pattern={file_pattern!r} needs '
        f'the named groups {REQUIRED_GROUPS[kind]} with layout={kind!r} '
        f'(e.g. (?P<{missing[0]}>\\d+)); it lacks {missing}, its groups '
        f'are {found}.')
  return pattern


def _scan_folders(directory, pattern):
  """Scan of layout='folders', and {category: its folder}."""
  subfolders = sorted(path for path in directory.iterdir()
                      if path.is_dir() and not path.name.startswith('.'))
  folders, others = {}, []
  for folder in subfolders:
    category = category_of(folder.name)
    if category is None:
      others.append(folder)
    elif category in folders:
      raise layout.LayoutError(
          f'cfeed: folders {folders[category].name!r} and {folder.name!r} '
          f'in {directory} both name the category {category!r}; keep one.')
    else:
      folders[category] = folder
  if not folders:
    raise layout.LayoutError(
        f'cfeed (layout=folders): none of the {len(subfolders)} folders in '
        f'{directory} names a CFEE category (found: '
        f'{_listed(path.name for path in subfolders) or "no folders"}); '
        f'expected one folder per category, named e.g. HappilySurprised, '
        f'happily_surprised, 08_HappilySurprised or 8 (categories: '
        f'{", ".join(EXPRESSIONS)}). If the category is in the file names, '
        'use config.data.options.layout=pattern.')
  scan = layout.Scan()
  for path in sorted(path for path in directory.iterdir() if path.is_file()
                     and path.suffix.lower() in layout.IMAGE_SUFFIXES):
    scan.skip('not in a category folder', path)
  for folder in others:
    for path in layout.image_files(folder):
      scan.skip('in a folder that names no CFEE category', path)
  for category in EXPRESSIONS:
    if category not in folders:
      continue
    for path in layout.image_files(folders[category]):
      match = pattern.search(path.name)
      if match is None or not match['subject']:
        scan.skip(f'file name does not match file_pattern '
                  f'{pattern.pattern!r}', path)
        continue
      scan.items.append(layout.Item(
          path=path, subject=_subject_name(match['subject']),
          expression=category))
  return scan, folders


def _scan_pattern(directory, pattern) -> layout.Scan:
  """Scan of layout='pattern'."""
  scan = layout.Scan()
  for path in layout.image_files(directory):
    match = pattern.search(path.relative_to(directory).as_posix())
    if match is None or not match['subject']:
      scan.skip(f'path does not match file_pattern {pattern.pattern!r}',
                path)
      continue
    category = category_of(match['category'] or '')
    if category is None:
      scan.skip('its category (file_pattern\'s group) names no CFEE '
                'category', path)
      continue
    scan.items.append(layout.Item(
        path=path, subject=_subject_name(match['subject']),
        expression=category))
  return scan


def _require_every_category(scan, directory, pattern, folders) -> None:
  """A `LayoutError` naming the categories no image was found of."""
  counts = collections.Counter(item.expression for item in scan.items)
  missing = [name for name in EXPRESSIONS if not counts[name]]
  if not missing:
    return
  if folders is not None:
    no_folder = [name for name in missing if name not in folders]
    unmatched = [name for name in missing if name in folders]
    found = []
    if no_folder:
      found.append('no folder names ' + ', '.join(no_folder))
    if unmatched:
      found.append('the folders of ' + ', '.join(unmatched) + ' hold no '
                   f'image whose name matches file_pattern '
                   f'{pattern.pattern!r}')
    names = sorted(path.name for path in directory.iterdir()
                   if path.is_dir() and not path.name.startswith('.'))
    found = '; '.join(found) + f' (folders found: {_listed(names)})'
  else:
    found = (f'no file under {directory} matches file_pattern '
             f'{pattern.pattern!r} with these categories')
  raise layout.LayoutError(
      f'cfeed: no images of {len(missing)} of the {len(EXPRESSIONS)} CFEE '
      f'categories: {found}. Every category needs images (found '
      f'{len(scan.items)} images of the other {len(EXPRESSIONS) - len(missing)}'
      f'; passed over {sum(scan.skipped.values())} files).')

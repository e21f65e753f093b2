"""What a dataset's layout reader finds in a manual directory.

A reader (one per dataset) lists the images it recognises as `Item`s and
counts what it had to pass over (`Scan.skip`), so the build can say what
it used and what it left out, and why. A folder that cannot be the dataset
at all raises `LayoutError` naming what was expected and what was found.
"""

import collections
import dataclasses
import pathlib

# Example paths kept per skip reason, for the summary.
EXAMPLES_PER_REASON = 3


class LayoutError(ValueError):
  """A manual directory that does not hold the dataset; the message says
  what was expected there and what was found."""


@dataclasses.dataclass(frozen=True)
class Item:
  """One image a layout reader recognised.

  Attributes:
    path: the image file.
    subject: the person's name in the dataset ('' when it has none).
    expression: the class name, one of the builder's `EXPRESSIONS`.
    angle: camera yaw in degrees (0 frontal).
    gaze: gaze direction (-1 left, 0 frontal, 1 right; 0 when unknown).
    box: the face box (x, y, width, height) in pixels, when the dataset
      gives one.
    split: 'train' or 'test' when the dataset fixes the split of this image.
  """
  path: pathlib.Path
  subject: str
  expression: str
  angle: float = 0.0
  gaze: float = 0.0
  box: tuple[int, int, int, int] | None = None
  split: str | None = None


@dataclasses.dataclass
class Scan:
  """The items found and the files passed over, by reason."""
  items: list[Item] = dataclasses.field(default_factory=list)
  skipped: collections.Counter = dataclasses.field(
      default_factory=collections.Counter)
  skipped_examples: dict[str, list[str]] = dataclasses.field(
      default_factory=dict)

  def skip(self, reason: str, path) -> None:
    self.skipped[reason] += 1
    examples = self.skipped_examples.setdefault(reason, [])
    if len(examples) < EXAMPLES_PER_REASON:
      examples.append(str(path))


IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff')


def image_files(directory: pathlib.Path) -> list[pathlib.Path]:
  """Image files under `directory` (recursively), in sorted order."""
  return sorted(path for path in directory.rglob('*')
                if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES)


def require_directory(manual_dir, dataset: str, expected: str) -> pathlib.Path:
  """`manual_dir` as an existing directory, or a `LayoutError` that says
  what should be there."""
  if manual_dir is None:
    raise LayoutError(
        f'{dataset}: no manual directory given. Pass the folder that holds '
        f'your copy: --config.data.manual_dir=DIR ({expected}).')
  directory = pathlib.Path(manual_dir)
  if not directory.is_dir():
    raise LayoutError(f'{dataset}: manual directory {directory} does not '
                      f'exist or is not a folder; it should hold {expected}.')
  return directory

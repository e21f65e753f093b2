"""Writing files so that a crash never leaves a half-written one behind."""

import contextlib
import os
import pathlib
import tempfile
from typing import Iterator

import numpy as np
from PIL import Image


def _umask() -> int:
  mask = os.umask(0)
  os.umask(mask)
  return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[pathlib.Path]:
  """Yields a temporary path beside `path`; renames it onto `path` on success.

  Usage: `with atomic_path('out.png') as tmp: image.save(tmp, format='PNG')`.
  If the body raises, the temporary file is removed and `path` is untouched.
  """
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.',
                                 suffix='.tmp')
  os.close(handle)
  try:
    yield pathlib.Path(tmp)
    # mkstemp makes the file private (0600); give it the usual permissions.
    os.chmod(tmp, 0o666 & ~_umask())
    os.replace(tmp, path)
  except BaseException:
    with contextlib.suppress(FileNotFoundError):
      os.remove(tmp)
    raise


def write_bytes(path: str | os.PathLike, data: bytes) -> None:
  with atomic_path(path) as tmp:
    tmp.write_bytes(data)


def write_text(path: str | os.PathLike, text: str) -> None:
  write_bytes(path, text.encode('utf-8'))


def write_png(path: str | os.PathLike, image: Image.Image | np.ndarray) -> None:
  """Writes a PIL image, or a uint8 (H, W) or (H, W, 3) array, as PNG."""
  if not isinstance(image, Image.Image):
    image = Image.fromarray(image)
  with atomic_path(path) as tmp:
    image.save(tmp, format='PNG')

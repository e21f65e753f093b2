"""Serializes a trained editor with `jax.export`, for serving without leedjax.

  python -m leedjax.main --config=... --workdir=DIR --mode=export

writes `DIR/export/edit.jaxexport` (the parameters are inside) and
`DIR/export/edit.json` (its signature). To call it, only JAX is needed:

  from jax import export
  edit = export.deserialize(open('edit.jaxexport', 'rb').read())
  out = edit.call(faces, references, alphas)  # uint8 (B,S,S,3) x2, f32 (B,)

The batch size is symbolic: any B works.
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
  with files.atomic_path(path) as tmp:
    pathlib.Path(tmp).write_bytes(exported.serialize())
  files.write_text(out_dir / SIGNATURE_FILE, json.dumps({
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
  return path

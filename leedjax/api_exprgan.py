"""A trained ExprGAN as an editor (`leedjax.load_editor` returns one for a
workdir that trained ExprGAN and not LEED, or with `system='exprgan'`).

  editor = load_editor('runs/exprgan')
  out = edit(editor, faces, references, alpha=1.0)      # transfer (Fig. 4)
  out = edit_to_expression(editor, faces, 'happy', 0.3)  # a class (Fig. 3)

A transfer reads the reference's class with the workdir's expression
classifier (Psi, the `classifier` stage), as the paper's transfer does with
its own classifier, and its code with Q given that class (a neutral
reference's at full magnitude); alpha scales the code's magnitude (1: the
reference's intensity). Editing to a class takes an
intensity in [0, 1] (exprgan_editing.py).
"""

import dataclasses
import json
import pathlib
from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections

from leedjax import checkpoints
from leedjax import exprgan_editing
from leedjax.data import datasets
from leedjax.data import synthfaces
from leedjax.trainers import classifier as classifier_lib
from leedjax.trainers import exprgan as exprgan_lib

# The nets an edit runs (not D_z).
EDIT_NETS = (exprgan_lib.ENCODER, exprgan_lib.GENERATOR,
             exprgan_lib.IMAGE_DISCRIMINATOR)


@dataclasses.dataclass(frozen=True)
class ExprGANSpec:
  """The static description of an ExprGAN editor's networks."""
  image_size: int
  width: float
  identity_dim: int
  code_dim: int
  class_names: tuple
  classifier_width: float
  classifier_stem_stride: int

  @property
  def num_classes(self) -> int:
    return len(self.class_names)

  def networks(self) -> dict[str, Any]:
    settings = ml_collections.ConfigDict(dict(
        width=self.width, identity_dim=self.identity_dim,
        code_dim=self.code_dim))
    return exprgan_lib.make_networks(settings, self.num_classes,
                                     self.image_size)

  def classifier(self):
    return classifier_lib.make_model(ml_collections.ConfigDict(dict(
        width=self.classifier_width,
        stem_stride=self.classifier_stem_stride)), self.num_classes)

  def class_index(self, expression) -> int:
    """The index of a class name (or an index), checked."""
    if isinstance(expression, str):
      if expression not in self.class_names:
        raise ValueError(f'Unknown expression {expression!r}: this editor '
                         f'knows {", ".join(self.class_names)}.')
      return self.class_names.index(expression)
    index = int(expression)
    if not 0 <= index < self.num_classes:
      raise ValueError(f'expression index {index} is not in 0..'
                       f'{self.num_classes - 1}.')
    return index


@flax.struct.dataclass
class ExprGANEditor:
  """A trained ExprGAN: parameters (pytree leaves) and their spec (static).

  Attributes:
    spec: the networks' shapes and class names.
    exprgan: {net: flax variables} of G_enc, G_dec and D_img (with Q).
    classifier: Psi's flax variables (reads a reference's class).
  """
  spec: ExprGANSpec = flax.struct.field(pytree_node=False)
  exprgan: Any
  classifier: Any


def trained(root: pathlib.Path, config: dict) -> str | None:
  """The last ExprGAN stage `config` lists if it finished in `root`."""
  last = exprgan_lib.last_listed_stage(config.get('stages', ()))
  if last and (root / last / 'done.json').is_file():
    return last
  return None


def load(root: pathlib.Path, config: dict, stage: str) -> ExprGANEditor:
  """The editor of a finished ExprGAN `stage` and `classifier` stage."""
  state = checkpoints.read_as_numpy(root / stage / 'checkpoints')['state']
  psi = checkpoints.read_as_numpy(root / 'classifier' / 'checkpoints')[
      'state']
  names = class_names_of(root)
  settings, psi_settings = config['exprgan'], config['classifier']
  spec = ExprGANSpec(
      image_size=int(config['data']['image_size']),
      width=float(settings['width']),
      identity_dim=int(settings['identity_dim']),
      code_dim=int(settings['code_dim']), class_names=names,
      classifier_width=float(psi_settings['width']),
      classifier_stem_stride=int(psi_settings['stem_stride']))
  variables = {name: checkpoints.net_variables(state, name)
               for name in EDIT_NETS}
  return ExprGANEditor(
      spec=spec, exprgan=jax.tree.map(jnp.asarray, variables),
      classifier=jax.tree.map(jnp.asarray,
                              checkpoints.net_variables(
                                  psi, classifier_lib.NET)))


def class_names_of(root: pathlib.Path) -> tuple:
  """The expression names, from the data stage's record (SynthFaces and
  RaFD order by default)."""
  done = root / 'data' / 'done.json'
  if done.is_file():
    names = json.loads(done.read_text()).get('expression_names')
    if names:
      return tuple(names)
  return tuple(synthfaces.EXPRESSIONS)


def reference_classes(editor: ExprGANEditor, references: jax.Array):
  """Psi's class of each reference face (in [-1, 1])."""
  logits, _ = classifier_lib.predict(editor.spec.classifier(),
                                     editor.classifier, references)
  return jnp.argmax(logits, axis=-1)


def transfer(editor: ExprGANEditor, faces, references, alpha):
  """G_dec(g(faces), alpha * c(references)), faces in [-1, 1]."""
  spec = editor.spec
  nets = spec.networks()
  labels = reference_classes(editor, references)
  code = exprgan_editing.reference_code(
      nets, editor.exprgan, references, labels, spec.num_classes,
      spec.code_dim, datasets.neutral_class(spec.class_names))
  identity = exprgan_editing.identity_of(nets, editor.exprgan, faces)
  return exprgan_editing.generate(nets, editor.exprgan, identity,
                                  code * alpha[:, None])


def to_expression(editor: ExprGANEditor, faces, labels, intensity):
  """The faces with expression `labels` (B,) at `intensity` (B,)."""
  spec = editor.spec
  return exprgan_editing.edit_to_class(
      spec.networks(), editor.exprgan, faces, labels, intensity,
      num_classes=spec.num_classes, code_dim=spec.code_dim)

"""Editing with a trained model: `load_editor`, `edit` and
`edit_to_expression`.

  from leedjax import edit, load_editor

  editor = load_editor('runs/synthetic')           # parameters + what edit needs
  out = edit(editor, faces, references, alpha=1.0)  # (B, S, S, 3) in [-1, 1]
  out = jax.jit(edit)(editor, faces, references, jnp.array([0.5, 1.0, 1.5]))

A workdir that trained LEED gives LEED's editor; one that trained ExprGAN
(and not LEED, or with `system='exprgan'`) gives ExprGAN's, with which
`edit` is ExprGAN's transfer and `edit_to_expression(editor, faces,
'happy', 0.3)` sets a class at an intensity (api_exprgan.py).

`edit` is pure: the editor is a pytree whose leaves are the networks'
parameters and whose static part describes the networks, so it can be jitted,
vmapped or differentiated like any JAX function.
"""

import dataclasses
import json
import pathlib
from typing import Any

import flax
import jax
import jax.numpy as jnp

from leedjax import api_exprgan
from leedjax import checkpoints
from leedjax import editing
from leedjax.data import datasets
from leedjax.data import pipeline
from leedjax.data import synthfaces
from leedjax.nets import leed as leed_nets
from leedjax.nets import stargan as stargan_nets
from leedjax.trainers import leed as leed_lib
from leedjax.trainers import stargan

EDIT_NETS = ('encoder', 'decoder', 'extractor', 'interpolator')
SYSTEMS = ('leed', 'exprgan')
ExprGANEditor = api_exprgan.ExprGANEditor


class EditorNotFoundError(FileNotFoundError):
  """A workdir holds no trained editor."""


@dataclasses.dataclass(frozen=True)
class EditorSpec:
  """The static description of an editor's networks."""
  image_size: int
  width: float                 # LEED's E, Dec, X and I (config.leed.width)
  g_conv_dim: int              # the StarGAN neutralizer's G
  num_residual_blocks: int
  num_classes: int             # G's domains (expressions)
  neutral_class: int = synthfaces.NEUTRAL
  code_stride: int = leed_nets.CODE_STRIDE  # config.leed.code_stride
  encoder_blocks: tuple = leed_nets.ENCODER_BLOCKS
  decoder_stages: tuple = leed_nets.DECODER_STAGES

  def leed_networks(self) -> dict[str, Any]:
    return {'encoder': leed_nets.Encoder(width=self.width,
                                         code_stride=self.code_stride,
                                         blocks=self.encoder_blocks),
            'decoder': leed_nets.Decoder(width=self.width,
                                         code_stride=self.code_stride,
                                         stages=self.decoder_stages),
            'extractor': leed_nets.Extractor(width=self.width),
            'interpolator': leed_nets.Interpolator(width=self.width)}

  def generator(self) -> stargan_nets.Generator:
    return stargan_nets.Generator(
        num_classes=self.num_classes, conv_dim=self.g_conv_dim,
        num_residual_blocks=self.num_residual_blocks)


@flax.struct.dataclass
class Editor:
  """A trained editor: parameters (pytree leaves) and their spec (static).

  Attributes:
    spec: the networks' shapes.
    neutralizer: the StarGAN generator's flax variables.
    leed: {net: flax variables} of LEED's encoder, decoder, extractor and
      interpolator.
  """
  spec: EditorSpec = flax.struct.field(pytree_node=False)
  neutralizer: Any
  leed: Any


def _as_float(images, name: str, size: int) -> jax.Array:
  images = jnp.asarray(images)
  if images.ndim != 4 or images.shape[1:] != (size, size, 3):
    raise ValueError(f'{name} must be a batch of RGB images of shape (B, '
                     f'{size}, {size}, 3), the size this editor was trained '
                     f'at; got shape {images.shape}.')
  if images.dtype == jnp.uint8:
    return pipeline.to_float(images)
  if not jnp.issubdtype(images.dtype, jnp.floating):
    raise ValueError(f'{name} must be uint8 in [0, 255] or floats in [-1, 1]; '
                     f'got dtype {images.dtype}.')
  return images.astype(jnp.float32)


def _alphas(alpha, count: int, name: str = 'alpha') -> jax.Array:
  alpha = jnp.asarray(alpha, jnp.float32)
  if alpha.ndim > 1 or (alpha.ndim == 1 and alpha.shape[0] != count):
    raise ValueError(f'{name} must be a scalar or have one value per image '
                     f'({count}); got shape {alpha.shape}.')
  return jnp.broadcast_to(alpha, (count,))


def edit(params, input, reference, alpha,  # pylint: disable=redefined-builtin
         mode: str = 'decode') -> jax.Array:
  """The input faces wearing the reference faces' expressions.

  LEED: I_B = Dec(I(E(N(I_A)), alpha * X(E(R_B), E(N(R_B))))), with N the
  trained StarGAN neutralizer (LEED eqs. 2 and 6; docs/design.md, Editing).
  ExprGAN: G_dec(G_enc(I_A), alpha * c_B), c_B Q's code of the reference
  given Psi's class of it, a neutral reference's at full magnitude
  (ExprGAN's transfer; `mode` does not apply).

  Args:
    params: an `Editor` or `ExprGANEditor`, e.g. from `load_editor`.
    input: (B, S, S, 3) faces to edit, uint8 in [0, 255] or floats in
      [-1, 1], S the editor's image size.
    reference: (B, S, S, 3) faces whose expressions to copy, same format.
    alpha: intensity, a scalar or one per example (B,): 0 gives the input's
      neutral face, 1 the reference's expression, above 1 exaggerates it
      (the paper's Fig. 7).
    mode: 'decode' (the paper's edit) or 'residual' (the same edit applied
      as a change to the input image; see `leedjax.editing`).

  Returns:
    (B, S, S, 3) float32 images in [-1, 1].
  """
  size = params.spec.image_size
  faces = _as_float(input, 'input', size)
  references = _as_float(reference, 'reference', size)
  if faces.shape != references.shape:
    raise ValueError(f'input {faces.shape} and reference {references.shape} '
                     'must hold the same number of images.')
  alpha = _alphas(alpha, faces.shape[0])
  if isinstance(params, ExprGANEditor):
    return jnp.clip(api_exprgan.transfer(params, faces, references, alpha),
                    -1.0, 1.0)
  neutral = stargan.neutralize(params.spec.generator(), params.neutralizer,
                               jnp.concatenate([faces, references]),
                               params.spec.neutral_class)
  faces_neutral, references_neutral = jnp.split(neutral, 2)
  edited = editing.edit_with_neutrals(
      params.spec.leed_networks(), params.leed, faces, faces_neutral,
      references, references_neutral, alpha, mode=mode)
  return jnp.clip(edited, -1.0, 1.0)


def edit_to_expression(params: ExprGANEditor, input, expression,  # pylint: disable=redefined-builtin
                       intensity) -> jax.Array:
  """The input faces with an expression class at an intensity (ExprGAN's
  Fig. 3; LEED, being label-free, has no classes: use `edit`).

  Args:
    params: an `ExprGANEditor`.
    input: (B, S, S, 3) faces, uint8 or floats in [-1, 1].
    expression: a class name (`params.spec.class_names`), an index, or
      (B,) indices.
    intensity: in [0, 1] (weak to strong), a scalar or (B,).

  Returns:
    (B, S, S, 3) float32 images in [-1, 1].
  """
  if not isinstance(params, ExprGANEditor):
    raise ValueError('edit_to_expression needs an ExprGAN editor; LEED '
                     'copies a reference\'s expression: use edit(editor, '
                     'input, reference, alpha).')
  faces = _as_float(input, 'input', params.spec.image_size)
  count = faces.shape[0]
  if isinstance(expression, (str, int)):
    labels = jnp.full((count,), params.spec.class_index(expression))
  else:
    labels = jnp.broadcast_to(jnp.asarray(expression, jnp.int32), (count,))
  intensity = _alphas(intensity, count, 'intensity')
  return jnp.clip(api_exprgan.to_expression(params, faces, labels,
                                            intensity), -1.0, 1.0)


def load_editor(workdir, system: str | None = None):
  """The editor `workdir` trained: LEED's (an `Editor`) or ExprGAN's (an
  `ExprGANEditor`).

  Needs only the workdir (its config.json and the checkpoints of the stages
  the editor uses), not the dataset.

  Args:
    workdir: a workdir of `python -m leedjax.main`.
    system: 'leed' or 'exprgan'; None takes LEED where it was trained,
      else ExprGAN.

  Raises:
    EditorNotFoundError: the workdir has no finished editor of that system,
      or LEED's neutral faces came from the renderer (an oracle no photo
      has).
  """
  root = pathlib.Path(workdir).expanduser()
  config_file = root / 'config.json'
  if system not in (None, *SYSTEMS):
    raise ValueError(f'Unknown system {system!r}: use one of {SYSTEMS}.')
  if system != 'leed' and config_file.is_file():
    config = json.loads(config_file.read_text())
    stage = api_exprgan.trained(root, config)
    leed_done = (root / 'leed' / 'done.json').is_file()
    if stage and (system == 'exprgan' or not leed_done):
      if not (root / 'classifier' / 'done.json').is_file():
        raise EditorNotFoundError(
            f'{root}: ExprGAN\'s transfer reads the reference\'s class with '
            'the workdir\'s expression classifier, and its \'classifier\' '
            'stage has not finished. List it in config.stages and train.')
      return api_exprgan.load(root, config, stage)
    if system == 'exprgan':
      raise EditorNotFoundError(
          f'{root} holds no trained ExprGAN: its stages have not finished. '
          'Train one with `python -m leedjax.main '
          '--config=configs/synthetic_exprgan.py '
          f'--workdir={root}`.')
  for stage in ('neutralizer', 'leed'):
    if not (root / stage / 'done.json').is_file() or not config_file.is_file():
      raise EditorNotFoundError(
          f'{root} holds no trained editor: its {stage!r} stage has not '
          'finished. Train one with `python -m leedjax.main --config=... '
          f'--workdir={root}`.')
  config = json.loads(config_file.read_text())
  if config['neutralizer'].get('use_renderer_neutral'):
    raise EditorNotFoundError(
        f'{root} was trained on SynthFaces\' rendered neutral faces '
        '(config.neutralizer.use_renderer_neutral), which no photo has, so '
        'it cannot neutralize a new face. Train with the StarGAN '
        'neutralizer (the default).')
  neutralizer_state = checkpoints.read_as_numpy(
      root / 'neutralizer' / 'checkpoints')['state']
  leed_state = checkpoints.read_as_numpy(
      root / 'leed' / 'checkpoints')['state']
  generator_params = stargan.generator_params(neutralizer_state['params'])
  spec = EditorSpec(
      image_size=int(config['data']['image_size']),
      width=float(config['leed']['width']),
      g_conv_dim=int(config['neutralizer']['g_conv_dim']),
      num_residual_blocks=int(config['neutralizer']['num_residual_blocks']),
      num_classes=_generator_classes(generator_params),
      neutral_class=datasets.neutral_class(api_exprgan.class_names_of(root)),
      # Workdirs from before these fields existed used the tables'.
      code_stride=int(config['leed'].get('code_stride',
                                         leed_nets.CODE_STRIDE)),
      encoder_blocks=leed_lib.layout(config['leed'].get(
          'encoder_blocks', leed_nets.ENCODER_BLOCKS)),
      decoder_stages=leed_lib.layout(config['leed'].get(
          'decoder_stages', leed_nets.DECODER_STAGES)))
  return Editor(
      spec=spec,
      neutralizer=jax.tree.map(jnp.asarray, {'params': generator_params}),
      leed=jax.tree.map(jnp.asarray, {name: checkpoints.net_variables(leed_state, name)
                                      for name in EDIT_NETS}))


def _generator_classes(generator_params) -> int:
  """G's domains, from its first convolution's input channels (3 + C)."""
  first = generator_params['stem']['kernel']
  return int(first.shape[2]) - 3

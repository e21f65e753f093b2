"""ExprGAN's evaluation beyond the shared method table (AAAI 2018, Sec. 5).

- `Editor`: a trained ExprGAN over numpy uint8 faces, in fixed-size
  batches: to a class at an intensity (Fig. 3), or a transfer from a
  reference (Fig. 4), a neutral reference at full magnitude.
- `intensity_figure`: one face as every class at five intensities (Fig. 3).
- `intensity_agreement` (SynthFaces): does the requested intensity set the
  rendered one? Each edit is matched to the nearest of the renderer's exact
  answers for that person and class at intensities 0, 0.1, ..., 1, and the
  requested and matched intensities are correlated.
- `retrieval`: top-1 retrieval by the expression code c, the label y and
  the pixels x (Fig. 7), with how often each finds the query's class and,
  on SynthFaces, how far its intensity is from the query's.
- `augmentation`: Table 1, Psi's recipe retrained on the real training
  images plus N images ExprGAN draws from its prior, tested on the real
  test images.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

from leedjax import exprgan_editing
from leedjax.data import pipeline
from leedjax.data import synthfaces
from leedjax.evaluation import plots
from leedjax.evaluation import real_plus_generated
from leedjax.nets import exprgan as exprgan_nets
from leedjax.stages import batched
from leedjax.stages import classifier as classifier_stage
from leedjax.trainers import base

# The intensities of Fig. 3's five rows, weak to strong.
FIGURE_INTENSITIES = (0.2, 0.4, 0.6, 0.8, 1.0)
# The renderer's intensities an edit is matched against.
MATCHED_INTENSITIES = tuple(np.round(np.linspace(0.0, 1.0, 11), 2))


class Editor:
  """A trained ExprGAN (a stage's outputs) editing uint8 faces."""

  def __init__(self, outputs: dict, batch_size: int):
    self._nets, self._variables = outputs['nets'], outputs['variables']
    self.num_classes = int(outputs['num_classes'])
    self.code_dim = int(outputs['code_dim'])
    self.identity_dim = int(outputs['identity_dim'])
    self._batch = batch_size
    shape = dict(num_classes=self.num_classes, code_dim=self.code_dim)
    self._to_class = _uint8_of(functools.partial(
        exprgan_editing.edit_to_class, self._nets, **shape), self._variables)
    self._transfer = _uint8_of(functools.partial(
        exprgan_editing.transfer, self._nets, **shape,
        neutral=outputs['neutral']), self._variables)
    self._code = jax.jit(lambda variables, x, labels:
                         exprgan_editing.reference_code(
                             self._nets, variables, pipeline.to_float(x),
                             labels, **shape))
    self._generate = _uint8_of(functools.partial(exprgan_editing.generate,
                                                 self._nets), self._variables)

  def to_class(self, images, labels, intensity) -> np.ndarray:
    """uint8 faces with expression `labels` at `intensity` (each (B,))."""
    count = len(images)
    return batched.in_batches(
        self._to_class,
        [images, np.broadcast_to(np.asarray(labels, np.int32), (count,)),
         np.broadcast_to(np.asarray(intensity, np.float32), (count,))],
        self._batch)

  def transfer(self, images, references, reference_labels) -> np.ndarray:
    """uint8 faces wearing the references' expressions."""
    return batched.in_batches(
        self._transfer,
        [images, references, np.asarray(reference_labels, np.int32)],
        self._batch)

  def codes(self, images, labels) -> np.ndarray:
    """Q's code c of each face given its class, (B, K*d) (neutral faces'
    too, which a transfer replaces by full magnitude)."""
    return batched.in_batches(functools.partial(self._code, self._variables),
                              [images, np.asarray(labels, np.int32)],
                              self._batch)

  def sample(self, rng: np.random.Generator, labels) -> np.ndarray:
    """New faces (Fig. 5): prior identities, the controller's codes of
    `labels` with intensities drawn as in training."""
    labels = np.asarray(labels, np.int32)
    count = len(labels)
    identity = rng.uniform(-1, 1, (count, self.identity_dim))
    intensity = rng.uniform(-1, 1, (count, self.code_dim))
    code = np.asarray(exprgan_nets.expression_controller(
        jax.nn.one_hot(labels, self.num_classes), jnp.asarray(intensity)))
    return batched.in_batches(
        self._generate,
        [identity.astype(np.float32), code.astype(np.float32)], self._batch)


def _uint8_of(function, variables):
  """`function(variables, *arrays)`, jitted, over numpy arrays (uint8 ones
  read as faces in [-1, 1]), its faces returned as uint8."""
  # The variables are an argument, not constants baked into the program.
  compiled = jax.jit(lambda variables, *arrays: function(variables, *(
      pipeline.to_float(a) if a.dtype == jnp.uint8 else a for a in arrays)))
  return lambda *arrays: base.to_uint8(compiled(variables, *arrays))


def intensity_figure(path, editor: Editor, face: np.ndarray,
                     class_names) -> None:
  """One face (H, W, 3) as every class (columns) at `FIGURE_INTENSITIES`
  (rows, weak to strong), its input repeated above."""
  count = len(class_names)
  faces = np.repeat(face[None], count, axis=0)
  rows = [faces] + [editor.to_class(faces, np.arange(count), intensity)
                    for intensity in FIGURE_INTENSITIES]
  plots.label_grid_png(rows, ['input'] + [f'intensity {t:g}'
                                          for t in FIGURE_INTENSITIES],
                       list(class_names), path)


def intensity_agreement(editor: Editor, catalog, records, image_size: int,
                        num_inputs: int) -> dict:
  """Requested vs rendered intensity of ExprGAN's edits on SynthFaces.

  The first `num_inputs` test faces are edited to every non-neutral class at
  each of `FIGURE_INTENSITIES`; each edit's rendered intensity is that of
  the nearest (mean squared pixel error) of the renderer's faces of the
  same person, pose and class at `MATCHED_INTENSITIES`.

  Returns:
    {'pearson': correlation of requested and matched intensities,
     'matched_mean': the mean matched intensity at each requested one,
     'num_edits': how many edits were matched}.
  """
  count = min(num_inputs, len(records['image']))
  images, rows = records['image'][:count], records['catalog_row'][:count]
  classes = [c for c in range(editor.num_classes) if c != synthfaces.NEUTRAL]
  requested, matched = [], []
  for expression in classes:
    answers = np.stack([catalog.render_expression(rows, expression, level,
                                                  image_size)
                        for level in MATCHED_INTENSITIES], axis=1)
    answers = answers.astype(np.float32)
    for intensity in FIGURE_INTENSITIES:
      edits = editor.to_class(images, expression, intensity).astype(
          np.float32)
      errors = np.mean((answers - edits[:, None]) ** 2, axis=(2, 3, 4))
      matched.append(np.asarray(MATCHED_INTENSITIES)[np.argmin(errors, 1)])
      requested.append(np.full(count, intensity))
  requested, matched = np.concatenate(requested), np.concatenate(matched)
  pearson = (float(np.corrcoef(requested, matched)[0, 1])
             if np.std(matched) > 0 else 0.0)
  return {'pearson': pearson,
          'matched_mean': {f'{t:g}': float(np.mean(matched[requested == t]))
                           for t in FIGURE_INTENSITIES},
          'num_edits': int(len(requested))}


def retrieval(path, editor: Editor, records, num_figure_queries: int,
              seed: int, intensity=None) -> dict:
  """Top-1 retrieval among the other subjects' test faces by the code c
  (Q's, given the true class), the label y (a seeded draw among that
  class's faces) and the pixels x (Fig. 7).

  Args:
    path: where the figure goes (query, then each method's top-1), or
      None for no figure.
    editor: the trained ExprGAN.
    records: test records (image, expression, subject).
    num_figure_queries: rows of the figure.
    seed: the label draw's seed.
    intensity: (N,) each record's expression intensity (SynthFaces), or
      None.

  Returns:
    {method: {'same_class': rate, 'intensity_gap': mean |difference|}}.
  """
  images, labels = records['image'], records['expression']
  subjects = records['subject']
  codes = editor.codes(images, labels)
  pixels = images.reshape(len(images), -1).astype(np.float32)
  rng = np.random.default_rng([seed, 9])
  found = {'c': [], 'y': [], 'x': []}
  for index in range(len(images)):
    others = np.flatnonzero(subjects != subjects[index])
    for name, features in (('c', codes), ('x', pixels)):
      distances = np.sum((features[others] - features[index]) ** 2, axis=1)
      found[name].append(others[np.argmin(distances)])
    same = others[labels[others] == labels[index]]
    found['y'].append(rng.choice(same) if len(same) else rng.choice(others))
  table = {}
  for name, chosen in found.items():
    chosen = np.asarray(chosen)
    table[name] = {'same_class': float(np.mean(labels[chosen] == labels))}
    if intensity is not None:
      table[name]['intensity_gap'] = float(np.mean(
          np.abs(intensity[chosen] - intensity)))
  if path is None:
    return table
  shown = np.arange(min(num_figure_queries, len(images)))
  plots.label_grid_png(
      [images[shown]] + [images[np.asarray(found[name])[shown]]
                         for name in ('c', 'y', 'x')],
      ['query', 'by code c', 'by label y', 'by pixels x'],
      [f'query {i}' for i in shown], path)
  return table


def augmentation(context, stage_dir, editor: Editor, counts,
                 seed: int) -> dict:
  """Table 1: {count: Psi's recipe's test accuracy trained on the real
  training images plus `count` ExprGAN faces of balanced classes}; 0 is Psi
  itself."""
  table = {}
  for count in counts:
    if count == 0:
      table['0'] = classifier_stage.test_accuracy(context)
      continue
    rng = np.random.default_rng([seed, 10, count])
    labels = np.arange(count) % editor.num_classes
    faces = editor.sample(rng, labels)
    generated = real_plus_generated.ArraySource(
        faces, subject=np.full(count, -1, np.int32),
        expression=labels.astype(np.int32),
        angle=np.zeros(count, np.float32),
        catalog_row=np.full(count, -1, np.int32))
    result = real_plus_generated.accuracy(
        context, stage_dir, generated,
        subdir=f'exprgan_augmentation_{count}')
    table[str(count)] = result['accuracy']
  return table

"""Table 2's R+G protocol: does adding edited images train a better classifier?

LEED (Sec. 4.3) trains an expression classifier on the real training images
plus edited ones and tests it on the real test images (R tests the one
trained on real images only: here Psi, `config.classifier`). The edited images
here are edits of training pairs (each training image edited once towards a
training reference of another subject, labelled with the reference's
expression), so no test image, and no test subject under the subject split,
reaches the classifier. It trains with Psi's recipe and number of steps, so
R and R+G differ only in their data.
"""

import copy

import numpy as np

from leedjax import loop
from leedjax.data import pipeline
from leedjax.trainers import classifier as classifier_lib

STAGE_SUBDIR = 'real_plus_generated'
_FIELDS = ('subject', 'expression', 'angle', 'catalog_row')


class ArraySource:
  """Random-access records held in arrays: `image` and the label fields."""

  def __init__(self, image: np.ndarray, **fields: np.ndarray):
    missing = set(_FIELDS) - set(fields)
    if missing:
      raise ValueError(f'ArraySource needs {sorted(missing)} too.')
    self._image = image
    self._fields = fields

  def __len__(self) -> int:
    return len(self._image)

  def __getitem__(self, index: int) -> dict:
    return {'image': self._image[index],
            **{name: values[index] for name, values in self._fields.items()}}


class ConcatenatedSource:
  """Records of several sources, one after another."""

  def __init__(self, *sources):
    self._sources = sources
    self._ends = np.cumsum([len(source) for source in sources])

  def __len__(self) -> int:
    return int(self._ends[-1])

  def __getitem__(self, index: int) -> dict:
    part = int(np.searchsorted(self._ends, index, side='right'))
    start = 0 if part == 0 else int(self._ends[part - 1])
    return self._sources[part][index - start]


def accuracy(context, stage_dir, generated: ArraySource,
             subdir: str = STAGE_SUBDIR) -> dict:
  """Trains Psi's recipe on the real training images and `generated`
  (resuming from its checkpoints in `stage_dir / subdir`) and returns its
  test accuracy."""
  config = context.config
  settings = copy.deepcopy(config.classifier)
  num_classes = classifier_lib.num_classes_of(settings.label_key,
                                              context.builder)
  train = context.source('train')
  trainer = classifier_lib.ClassifierTrainer(
      settings, config.data, ConcatenatedSource(train, generated),
      num_classes=num_classes, name='classifier_real_plus_generated')
  state = loop.train(trainer, settings, stage_dir / subdir,
                     mesh=context.mesh, seed=config.seed)
  test_accuracy = classifier_lib.evaluate(
      trainer.model, state.variables(classifier_lib.NET),
      pipeline.eval_batches(context.source('test'), config.data,
                            settings.eval_batch_size),
      label_key=settings.label_key, mesh=context.mesh)
  return {'accuracy': test_accuracy, 'num_real': len(train),
          'num_generated': len(generated), 'steps': int(state.step)}

"""ExprGAN's editing functions and its evaluation's measures.

The measures are checked on editors whose answers are known: one that
renders SynthFaces' exact faces at the requested intensity must agree
perfectly, one that ignores the intensity must not; retrieval by a code
that holds class and intensity must find both.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import default
from leedjax import exprgan_editing
from leedjax.data import synthfaces
from leedjax.evaluation import exprgan as exprgan_eval
from leedjax.nets import exprgan as exprgan_nets
from leedjax.trainers import exprgan

SIZE = 16
K, D = 8, 3


def test_class_code_is_the_controller_at_the_intensity():
  code = np.asarray(exprgan_editing.class_code(jnp.array([2, 5]),
                                               jnp.array([0.3, 1.0]), K, D))
  slots = code.reshape(2, K, D)
  np.testing.assert_allclose(slots[0, 2], 0.3)
  np.testing.assert_allclose(slots[1, 5], 1.0)
  others = np.delete(slots[0], 2, axis=0)
  np.testing.assert_allclose(others, -0.3)


@pytest.fixture(scope='module')
def trained_shape():
  """ExprGAN's networks at a tiny size with random weights."""
  section = default.get_config().exprgan
  section.width = 1 / 16
  section.identity_dim = 6
  section.code_dim = D
  nets = exprgan.make_networks(section, K, SIZE)
  rng = jax.random.key(0)
  images = jax.random.uniform(rng, (4, SIZE, SIZE, 3), minval=-1, maxval=1)
  onehot = jax.nn.one_hot(jnp.arange(4), K)
  variables = {
      exprgan.ENCODER: nets[exprgan.ENCODER].init(rng, images),
      exprgan.GENERATOR: nets[exprgan.GENERATOR].init(
          rng, jnp.zeros((4, 6)), jnp.zeros((4, K * D))),
      exprgan.IMAGE_DISCRIMINATOR: nets[exprgan.IMAGE_DISCRIMINATOR].init(
          rng, images, onehot, train=False)}
  return nets, variables, images


def test_reference_code_takes_q_slot_of_the_given_class(trained_shape):
  nets, variables, images = trained_shape
  labels = jnp.array([1, 4, 4, 7])
  code = np.asarray(exprgan_editing.reference_code(nets, variables, images,
                                                   labels, K, D))
  _, predicted = nets[exprgan.IMAGE_DISCRIMINATOR].apply(
      variables[exprgan.IMAGE_DISCRIMINATOR], images,
      jax.nn.one_hot(labels, K), train=False)
  predicted = np.asarray(predicted).reshape(4, K, D)
  slots = code.reshape(4, K, D)
  for row, label in enumerate(np.asarray(labels)):
    own = np.abs(predicted[row, label])
    np.testing.assert_allclose(slots[row, label], own, atol=1e-6)
    np.testing.assert_allclose(np.delete(slots[row], label, axis=0),
                               np.broadcast_to(-own, (K - 1, D)), atol=1e-6)


def test_reference_code_gives_neutral_references_full_magnitude(
    trained_shape):
  nets, variables, images = trained_shape
  labels = jnp.array([1, 4, 4, 7])
  plain = np.asarray(exprgan_editing.reference_code(nets, variables, images,
                                                    labels, K, D))
  code = np.asarray(exprgan_editing.reference_code(
      nets, variables, images, labels, K, D, neutral=4)).reshape(4, K, D)
  for row in (1, 2):  # class 4: its slot 1, every other -1
    np.testing.assert_allclose(code[row, 4], np.ones(D), atol=1e-6)
    np.testing.assert_allclose(np.delete(code[row], 4, axis=0),
                               -np.ones((K - 1, D)), atol=1e-6)
  # The other classes keep Q's code, which is not at full magnitude.
  np.testing.assert_allclose(code[[0, 3]].reshape(2, -1), plain[[0, 3]],
                             atol=1e-6)
  assert float(np.max(np.abs(plain[1]))) < 0.99


def test_edit_to_class_generates_from_the_input_identity(trained_shape):
  nets, variables, images = trained_shape
  labels = jnp.array([0, 1, 2, 3])
  edits = exprgan_editing.edit_to_class(nets, variables, images, labels, 0.5,
                                        num_classes=K, code_dim=D)
  identity = nets[exprgan.ENCODER].apply(variables[exprgan.ENCODER], images)
  code = exprgan_nets.expression_controller(jax.nn.one_hot(labels, K),
                                            jnp.full((4, D), 0.5))
  expected = nets[exprgan.GENERATOR].apply(variables[exprgan.GENERATOR],
                                           identity, code)
  np.testing.assert_allclose(edits, expected, atol=1e-5)
  # A different identity gives different faces: the input is used.
  flipped = exprgan_editing.edit_to_class(nets, variables, images[::-1],
                                          labels, 0.5, num_classes=K,
                                          code_dim=D)
  assert float(jnp.max(jnp.abs(flipped - edits))) > 1e-3


class _RenderingEditor:
  """Answers with SynthFaces' exact faces: perfect (or intensity-blind)."""

  num_classes = synthfaces.NUM_EXPRESSIONS

  def __init__(self, catalog, rows, blind: bool):
    self._catalog, self._rows, self._blind = catalog, rows, blind

  def to_class(self, images, labels, intensity):
    intensity = 0.7 if self._blind else intensity
    return self._catalog.render_expression(self._rows[:len(images)], labels,
                                           intensity, SIZE)


@pytest.fixture(scope='module')
def catalog_records():
  catalog = synthfaces.Catalog(synthfaces.CatalogSpec(
      num_subjects=3, angles=(0.0,), intensities=(0.4, 1.0)))
  rows = np.arange(len(catalog))
  return catalog, {'image': catalog.render(rows, SIZE), 'catalog_row': rows,
                   'expression': catalog.expression[rows],
                   'subject': catalog.subject[rows]}


def test_intensity_agreement_of_exact_answers_is_perfect(catalog_records):
  catalog, records = catalog_records
  perfect = exprgan_eval.intensity_agreement(
      _RenderingEditor(catalog, records['catalog_row'], blind=False),
      catalog, records, SIZE, num_inputs=4)
  assert perfect['pearson'] > 0.99
  for requested, matched in perfect['matched_mean'].items():
    assert abs(float(requested) - matched) < 0.06
  blind = exprgan_eval.intensity_agreement(
      _RenderingEditor(catalog, records['catalog_row'], blind=True),
      catalog, records, SIZE, num_inputs=4)
  assert abs(blind['pearson']) < 0.2
  assert perfect['num_edits'] == 4 * (synthfaces.NUM_EXPRESSIONS - 1) * 5


class _CodeEditor:
  """Codes that hold each face's class and intensity exactly."""

  def __init__(self, catalog):
    self._catalog = catalog

  def codes(self, images, labels):
    del images
    return np.eye(synthfaces.NUM_EXPRESSIONS)[labels] * self.intensity[:,
                                                                         None]


def test_retrieval_by_an_exact_code_finds_class_and_intensity(
    catalog_records, tmp_path):
  catalog, records = catalog_records
  editor = _CodeEditor(catalog)
  editor.intensity = catalog.intensity[records['catalog_row']]
  table = exprgan_eval.retrieval(tmp_path / 'retrieval.png', editor, records,
                                 num_figure_queries=3, seed=0,
                                 intensity=editor.intensity)
  assert table['c'] == {'same_class': 1.0, 'intensity_gap': 0.0}
  assert table['y']['same_class'] == 1.0
  # The label knows the class, not how strong the expression is.
  assert table['y']['intensity_gap'] > 0.1
  assert (tmp_path / 'retrieval.png').stat().st_size > 0


def test_the_headline_is_leed_where_trained_else_exprgan():
  from leedjax.stages import evaluate  # pylint: disable=g-import-not-at-top
  assert evaluate.primary_method({'stargan': 0, 'exprgan': 0, 'leed': 0}) == (
      'leed')
  assert evaluate.primary_method({'copy_input': 0, 'exprgan': 0}) == 'exprgan'
  with pytest.raises(ValueError, match='neither LEED'):
    evaluate.primary_method({'copy_input': 0})

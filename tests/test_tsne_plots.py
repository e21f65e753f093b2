"""Tests for exact t-SNE, the neighbourhood agreement and the PIL figures.

The two 300-point embeddings (blobs, noise) are made once per module; each
takes about a second on CPU.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from PIL import Image

from leedjax.evaluation import plots
from leedjax.evaluation import tsne

NUM_BLOBS = 4
BLOB_SIZE = 75


@pytest.fixture(scope='module')
def blobs():
  """(features, labels, embedding): 4 separated Gaussian blobs in 100-D."""
  rng = np.random.default_rng(0)
  labels = np.repeat(np.arange(NUM_BLOBS), BLOB_SIZE)
  centres = 3 * rng.normal(size=(NUM_BLOBS, 100))  # ~40 apart, radius ~10
  features = centres[labels] + rng.normal(size=(labels.size, 100))
  return features, labels, tsne.tsne(features, seed=0)


@pytest.fixture(scope='module')
def noise():
  """(labels, embedding): structureless features with random labels."""
  rng = np.random.default_rng(1)
  features = rng.normal(size=(NUM_BLOBS * BLOB_SIZE, 100))
  labels = rng.integers(0, NUM_BLOBS, features.shape[0])
  return labels, tsne.tsne(features, seed=0)


# t-SNE.

def test_blobs_form_separate_clusters(blobs):
  _, labels, embedding = blobs
  assert embedding.shape == (labels.size, 2)
  assert embedding.dtype == np.float32
  assert tsne.neighbourhood_agreement(embedding, labels) > 0.95
  centroids = np.stack([embedding[labels == c].mean(0)
                        for c in range(NUM_BLOBS)])
  spread = max(np.sqrt(np.mean(np.sum((embedding[labels == c]
                                       - centroids[c]) ** 2, axis=1)))
               for c in range(NUM_BLOBS))
  gaps = np.linalg.norm(centroids[:, None] - centroids[None], axis=-1)
  assert gaps[~np.eye(NUM_BLOBS, dtype=bool)].min() > 5 * spread


def test_noise_agrees_only_by_chance(noise):
  labels, embedding = noise
  counts = np.bincount(labels)
  chance = np.sum(counts * (counts - 1)) / (labels.size * (labels.size - 1))
  assert abs(tsne.neighbourhood_agreement(embedding, labels) - chance) < 0.08


def test_optimisation_lowers_kl(blobs):
  features, _, embedding = blobs
  joint = tsne.joint_probabilities(features)
  shuffled = np.random.default_rng(0).permutation(embedding)
  assert (tsne.kl_divergence(joint, embedding)
          < 0.5 * tsne.kl_divergence(joint, shuffled))


def test_same_seed_same_output_other_seed_differs(blobs):
  features, _, embedding = blobs
  np.testing.assert_array_equal(tsne.tsne(features, seed=0), embedding)
  assert not np.allclose(tsne.tsne(features, seed=1), embedding)


@pytest.mark.parametrize('perplexity', [2.0, 10.0, 30.0, 60.0])
def test_bandwidth_search_hits_perplexity(perplexity):
  rng = np.random.default_rng(0)
  points = rng.normal(size=(200, 5))
  points[0] += 1e3  # far from all: exp() underflows without the row shift
  conditional = tsne.conditional_probabilities(
      tsne.squared_distances(points), perplexity)
  np.testing.assert_allclose(tsne.perplexities(conditional), perplexity,
                             atol=1e-3)
  np.testing.assert_allclose(conditional.sum(1), 1, atol=1e-12)
  assert np.all(np.diag(conditional) == 0)


def test_joint_probabilities_symmetric_and_normalised(blobs):
  joint = tsne.joint_probabilities(blobs[0], perplexity=10.0)
  np.testing.assert_allclose(joint, joint.T, atol=1e-15)
  assert abs(joint.sum() - 1) < 1e-12
  assert np.all(joint >= 0) and np.all(np.diag(joint) == 0)


@pytest.mark.parametrize('num_points', [30, 60])  # D = 40 above, below N
def test_principal_components(num_points):
  rng = np.random.default_rng(0)
  low_rank = rng.normal(size=(num_points, 3)) @ rng.normal(size=(3, 40)) + 5
  scores = tsne.principal_components(low_rank, 10)
  assert scores.shape == (num_points, 10)
  np.testing.assert_allclose(tsne.squared_distances(scores),
                             tsne.squared_distances(low_rank), atol=1e-8)
  full_rank = rng.normal(size=(num_points, 40))
  singular = np.linalg.svd(full_rank - full_rank.mean(0), compute_uv=False)
  np.testing.assert_allclose(
      np.linalg.norm(tsne.principal_components(full_rank, 10), axis=0),
      singular[:10])


def test_gradient_is_that_of_kl():
  rng = np.random.default_rng(0)
  joint = rng.uniform(size=(6, 6))
  joint = joint + joint.T
  np.fill_diagonal(joint, 0)
  joint = jnp.asarray(joint / joint.sum(), jnp.float32)
  embedding = jnp.asarray(rng.normal(size=(6, 2)), jnp.float32)

  def cross_entropy(points):  # KL(P || Q) up to a constant in the points
    sq = jnp.sum((points[:, None] - points[None]) ** 2, axis=-1)
    inverse = (1 / (1 + sq)) * (1 - jnp.eye(6))
    similarity = inverse / inverse.sum()
    return -jnp.sum(joint * jnp.log(similarity + jnp.eye(6)))

  # Jitted: eager op-by-op dispatch would compile every primitive (~4 s).
  np.testing.assert_allclose(jax.jit(tsne._gradient)(joint, embedding),
                             jax.jit(jax.grad(cross_entropy))(embedding),
                             atol=1e-5)
  kl = tsne.kl_divergence(np.asarray(joint), np.asarray(embedding))
  entropy = -np.sum(np.where(joint > 0, joint * np.log(
      np.where(joint > 0, joint, 1)), 0))
  np.testing.assert_allclose(kl, float(jax.jit(cross_entropy)(embedding)) - entropy,
                             rtol=1e-5)


def test_neighbourhood_agreement_by_hand():
  # On a line: 0 0 1 1 at 0, 1, 10, 11; k=1 pairs each with its partner.
  line = np.array([[0.0], [1.0], [10.0], [11.0]])
  assert tsne.neighbourhood_agreement(line, np.array([0, 0, 1, 1]), k=1) == 1
  assert tsne.neighbourhood_agreement(line, np.array([0, 1, 0, 1]), k=1) == 0
  # k=2 for point 0: neighbours 1 (same) and 10 (other) -> 1/2 each.
  assert tsne.neighbourhood_agreement(
      line, np.array([0, 0, 1, 1]), k=2) == 0.5


@pytest.mark.parametrize('features, kwargs, message', [
    (np.zeros((100,)), {}, '2-D'),
    (np.zeros((100, 4, 2)), {}, '2-D'),
    (np.full((100, 4), np.nan), {}, 'non-finite'),
    (np.array([[np.inf] * 4] * 100), {}, 'non-finite'),
    (np.zeros((50, 4)), {}, r'perplexity <= 16.33'),
    (np.zeros((100, 4)), {'perplexity': 0.0}, 'perplexity must be positive'),
    (np.zeros((100, 4)), {'num_iterations': 0}, 'num_iterations'),
    (np.zeros((100, 4)), {'pca_dims': 0}, 'pca_dims'),
])
def test_bad_inputs_raise(features, kwargs, message):
  with pytest.raises(ValueError, match=message):
    tsne.tsne(features, **kwargs)


def test_bad_agreement_inputs_raise():
  with pytest.raises(ValueError, match='k must be'):
    tsne.neighbourhood_agreement(np.zeros((5, 2)), np.zeros(5), k=5)
  with pytest.raises(ValueError, match='labels'):
    tsne.neighbourhood_agreement(np.zeros((5, 2)), np.zeros(4), k=2)


# Figures.

def _pixels(path):
  with Image.open(path) as image:
    assert image.mode == 'RGB'
    return np.asarray(image)


def _colour_mask(pixels, colour):
  return np.all(pixels == np.array(colour, np.uint8), axis=-1)


def test_scatter_png_layout_and_colours(tmp_path):
  # Class c sits at corner c of a square: (0,0), (1,0), (0,1), (1,1).
  corners = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
  labels = np.arange(4)
  panel_size = 200
  path = tmp_path / 'scatter.png'
  plots.scatter_png([('first', corners), ('mirrored', -corners)], labels,
                    ['neutral', 'happy', 'sad', 'angry'], path,
                    panel_size=panel_size)
  pixels = _pixels(path)
  assert pixels.shape == (plots.TITLE_HEIGHT + panel_size
                          + plots.LEGEND_ROW_HEIGHT, 2 * panel_size, 3)
  panel_rows = slice(plots.TITLE_HEIGHT, plots.TITLE_HEIGHT + panel_size)
  for panel, sign in enumerate([1, -1]):
    area = pixels[panel_rows, panel * panel_size:(panel + 1) * panel_size]
    expected = plots.to_panel_pixels(sign * corners, panel_size)
    for label in labels:
      ys, xs = np.nonzero(_colour_mask(area, plots.PALETTE[label]))
      assert xs.size > 0, (panel, label)
      # The dot is centred where the embedding says, image y pointing down.
      np.testing.assert_allclose([xs.mean(), ys.mean()], expected[label],
                                 atol=1.5)
    # Corners land inside the margin-reduced square.
    margin = plots.PANEL_MARGIN * panel_size
    np.testing.assert_allclose(np.sort(np.unique(expected)),
                               [margin, panel_size - margin])
  first = plots.to_panel_pixels(corners, panel_size)
  assert first[1, 0] > first[0, 0] and first[2, 1] < first[0, 1]
  legend = pixels[plots.TITLE_HEIGHT + panel_size:]
  for label in labels:
    assert _colour_mask(legend, plots.PALETTE[label]).any()
  assert not _colour_mask(legend, plots.PALETTE[4]).any()


def test_scatter_png_palette_covers_eight_distinct_classes():
  colours = np.array(plots.PALETTE[:8], float)
  distances = np.linalg.norm(colours[:, None] - colours[None], axis=-1)
  assert distances[~np.eye(8, dtype=bool)].min() > 50


def test_scatter_png_colours_cfees_22_classes_apart(tmp_path):
  colours = np.array(plots.COLOURS[:22], float)
  distances = np.linalg.norm(colours[:, None] - colours[None], axis=-1)
  assert distances[~np.eye(22, dtype=bool)].min() > 20
  points = np.random.default_rng(0).normal(size=(44, 2))
  labels = np.arange(44) % 22
  path = tmp_path / 'many.png'
  plots.scatter_png([('all', points)], labels,
                    [f'class {k}' for k in range(22)], path, panel_size=200)
  legend = _pixels(path)[plots.TITLE_HEIGHT + 200:]
  assert _colour_mask(legend, plots.COLOURS[21]).any()


def test_scatter_png_rejects_bad_inputs(tmp_path):
  path = tmp_path / 'bad.png'
  points = np.zeros((3, 2))
  with pytest.raises(ValueError, match='labels must lie'):
    plots.scatter_png([('a', points)], np.array([0, 1, 2]), ['x', 'y'], path)
  with pytest.raises(ValueError, match='shape'):
    plots.scatter_png([('a', np.zeros((4, 2)))], np.array([0, 1, 0]),
                      ['x', 'y'], path)
  with pytest.raises(ValueError, match='non-finite'):
    plots.scatter_png([('a', np.full((3, 2), np.nan))], np.array([0, 1, 0]),
                      ['x', 'y'], path)
  assert not path.exists()


def test_label_grid_png_places_upscaled_images(tmp_path):
  size, scale = 4, 3
  rng = np.random.default_rng(0)
  # Random pixels, kept off white and black so they never match the page.
  rows = [rng.integers(20, 200, (count, size, size, 3), dtype=np.uint8)
          for count in (3, 1, 2)]
  path = tmp_path / 'grid.png'
  plots.label_grid_png(rows, ['input', 'edited', 'ablation'],
                       ['a', 'b', 'c'], path, scale=scale)
  pixels = _pixels(path)
  first = rows[0][0, 0, 0]
  ys, xs = np.nonzero(_colour_mask(pixels, first))
  top, left = ys.min(), xs.min()
  assert left > plots.GRID_PAD and top > plots.GRID_PAD  # labels there
  cell = size * scale
  step = cell + plots.GRID_GAP
  assert pixels.shape == (top + 3 * cell + 2 * plots.GRID_GAP
                          + plots.GRID_PAD,
                          left + 3 * cell + 2 * plots.GRID_GAP
                          + plots.GRID_PAD, 3)
  upscale = lambda face: np.repeat(np.repeat(face, scale, 0), scale, 1)
  for row, images in enumerate(rows):
    for column in range(3):
      block = pixels[top + row * step:top + row * step + cell,
                     left + column * step:left + column * step + cell]
      if column < len(images):
        np.testing.assert_array_equal(block, upscale(images[column]))
      else:
        assert np.all(block == 255)  # short rows are padded with white
  # The label column and header hold dark text.
  assert pixels[:, :left].min() < 100 and pixels[:top].min() < 100


def test_display_scale_shows_small_faces_at_128_px_or_more():
  assert plots.DISPLAY_SIDE == 128
  cases = {(32, 32): 4, (64, 64): 2, (48, 48): 3, (100, 100): 2,
           (128, 128): 1, (256, 256): 1, (32, 64): 4}
  for (height, width), scale in cases.items():
    assert plots.display_scale(height, width) == scale, (height, width)


def test_label_grid_upscales_32_px_faces_4x_without_a_header():
  rng = np.random.default_rng(1)
  rows = [rng.integers(20, 200, (2, 32, 32, 3), dtype=np.uint8)
          for _ in range(3)]
  labels = ['input', 'alpha 1', 'true edit']
  pixels = np.asarray(plots.label_grid(rows, labels))
  cell, step = 128, 128 + plots.GRID_GAP
  left = pixels.shape[1] - plots.GRID_PAD - (2 * cell + plots.GRID_GAP)
  top = plots.GRID_PAD  # no column labels: no header band
  assert pixels.shape[0] == top + 3 * cell + 2 * plots.GRID_GAP + (
      plots.GRID_PAD)
  for row, images in enumerate(rows):
    for column, face in enumerate(images):
      block = pixels[top + row * step:top + row * step + cell,
                     left + column * step:left + column * step + cell]
      np.testing.assert_array_equal(
          block, np.kron(face, np.ones((4, 4, 1), np.uint8)))
  # Each row's label is drawn beside it, in dark text, and they differ.
  strips = [pixels[top + row * step:top + row * step + cell, :left]
            for row in range(3)]
  for strip in strips:
    assert strip.min() < 100
  assert not np.array_equal(strips[0], strips[1])
  assert not np.array_equal(strips[1], strips[2])
  assert np.all(pixels[:top] == 255)


def test_label_grid_leaves_128_px_faces_as_they_are():
  face = np.random.default_rng(2).integers(0, 256, (1, 128, 128, 3),
                                           dtype=np.uint8)
  pixels = np.asarray(plots.label_grid([face], ['input'], ['pair 0']))
  assert pixels.shape[1] - plots.GRID_PAD - 128 > 0
  block = pixels[-plots.GRID_PAD - 128:-plots.GRID_PAD,
                 -plots.GRID_PAD - 128:-plots.GRID_PAD]
  np.testing.assert_array_equal(block, face[0])


def test_label_grid_rejects_bad_inputs():
  face = np.zeros((1, 4, 4, 3), np.uint8)
  with pytest.raises(ValueError, match='uint8'):
    plots.label_grid([face.astype(np.float32)], ['r'], ['c'])
  with pytest.raises(ValueError, match='one row label per row'):
    plots.label_grid([face], ['r', 's'], ['c'])
  with pytest.raises(ValueError, match='one column label per column'):
    plots.label_grid([face], ['r'], ['c', 'd'])
  with pytest.raises(ValueError, match='same height and width'):
    plots.label_grid([face, np.zeros((1, 5, 5, 3), np.uint8)], ['r', 's'],
                     ['c'])
  with pytest.raises(ValueError, match='scale must be a positive integer'):
    plots.label_grid([face], ['r'], scale=0)

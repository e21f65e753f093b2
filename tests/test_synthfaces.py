"""Tests of the SynthFaces renderer and catalogue."""

import dataclasses

import jax
import numpy as np
import pytest

from leedjax.data import synthfaces
from leedjax.data.synthfaces import __main__ as synthfaces_cli
from leedjax.data.synthfaces import layout
from leedjax.evaluation import plots

LABELS = synthfaces.LABELS
UNCHANGING = (LABELS['background'], LABELS['hair'], LABELS['clothing'])


@pytest.fixture(scope='module')
def catalog():
  return synthfaces.Catalog(synthfaces.CatalogSpec(num_subjects=30, seed=7))


def _render(identity, aus, yaw, gaze=0.0, size=64, with_labels=False):
  count = len(aus)
  return jax.tree.map(np.asarray, synthfaces.render(
      identity, np.asarray(aus, np.float32),
      np.broadcast_to(np.float32(yaw), (count,)) if np.ndim(yaw) == 0
      else np.asarray(yaw, np.float32),
      np.broadcast_to(np.float32(gaze), (count,)), size=size,
      with_labels=with_labels))


def _repeat(identity, times):
  return identity.take(np.repeat(np.arange(identity.batch_size), times))


def test_rendering_is_deterministic(catalog):
  rows = np.arange(0, len(catalog), 97)
  first = catalog.render(rows, 48)
  again = synthfaces.Catalog(catalog.spec).render(rows, 48)
  np.testing.assert_array_equal(first, again)
  other_seed = synthfaces.Catalog(
      dataclasses.replace(catalog.spec, seed=8)).render(rows, 48)
  assert np.abs(first.astype(int) - other_seed).mean() > 5


def test_output_shape_dtype_and_any_resolution(catalog):
  for size in (16, 40, 64, 128):
    images = catalog.render(np.arange(3), size)
    assert images.shape == (3, size, size, 3) and images.dtype == np.uint8


def test_antialiased_at_any_resolution(catalog):
  """A 64 px render matches a 256 px render box-filtered down to 64 px."""
  rows = catalog.row_of(np.arange(6), 1, 2, 2)
  small = catalog.render(rows, 64).astype(np.float32)
  large = catalog.render(rows, 256).astype(np.float32)
  pooled = large.reshape(6, 64, 4, 64, 4, 3).mean(axis=(2, 4))
  assert np.abs(small - pooled).mean() < 2.0
  # Edges are blended, not stair-stepped: partially covered pixels exist.
  _, labels = _render(catalog.identities.take(np.arange(6)),
                      catalog.aus[rows], 0.0, with_labels=True)
  assert (labels & synthfaces.MIXED > 0).mean() > 0.05


def test_expression_changes_only_the_face(catalog):
  """Hair, background and clothing pixels are identical under every
  expression, at every angle, while the face does change."""
  people = catalog.identities.take(np.arange(12))
  for angle in synthfaces.ANGLES:
    neutral, neutral_labels = _render(
        people, np.zeros((12, synthfaces.NUM_AUS)), angle, with_labels=True)
    for expression in range(1, synthfaces.NUM_EXPRESSIONS):
      aus = synthfaces.expression_controls(np.full(12, expression),
                                           np.full(12, 1.5))
      edited, edited_labels = _render(people, aus, angle, with_labels=True)
      kept = (np.isin(neutral_labels, UNCHANGING)
              & (neutral_labels == edited_labels))
      assert kept.mean() > 0.3
      np.testing.assert_array_equal(edited[kept], neutral[kept])
      face = neutral_labels != edited_labels
      assert face.any()
      assert np.abs(edited.astype(int) - neutral).sum() > 0


def test_profile_hides_the_far_eye(catalog):
  # Glasses' lenses lie over the eyes; take people without them.
  people = catalog.identities.take(
      np.flatnonzero(catalog.identities.glasses == 0)[:8])
  no_expression = np.zeros((8, synthfaces.NUM_AUS))

  def eye_pixels(yaw):
    _, labels = _render(people, no_expression, yaw, size=128,
                        with_labels=True)
    touching = labels & ~np.uint8(synthfaces.MIXED)
    return ((touching == LABELS['eye_image_left']).sum(axis=(1, 2)),
            (touching == LABELS['eye_image_right']).sum(axis=(1, 2)))

  left, right = eye_pixels(0.0)
  assert (left > 20).all() and (right > 20).all()
  # Turned to image-right, the face shows its image-left eye only.
  left, right = eye_pixels(90.0)
  assert (left > 5).all() and (right == 0).all()
  left, right = eye_pixels(-90.0)
  assert (left == 0).all() and (right > 5).all()
  # At 45 degrees both show, the far one foreshortened.
  left, right = eye_pixels(45.0)
  assert (right > 0).all() and (left > right).all()


def _ridge_classifier(features, labels, num_classes, penalty=10.0):
  """One-vs-all ridge regression on centred features."""
  mean = features.mean(0)
  centred = features - mean
  targets = np.eye(num_classes)[labels]
  gram = centred @ centred.T + penalty * np.eye(len(centred))
  weights = centred.T @ np.linalg.solve(gram, targets)
  return lambda x: np.argmax((x - mean) @ weights, axis=1)


def _pixels(images):
  return images.astype(np.float32).reshape(len(images), -1) / 255.0


@pytest.mark.parametrize('angle', [0.0, 45.0, -90.0])
def test_expressions_are_readable_across_identities(angle):
  """A linear classifier trained on some people recognises the eight
  expressions of people it has never seen, at each camera angle."""
  catalog = synthfaces.Catalog(synthfaces.CatalogSpec(
      num_subjects=40, intensities=(0.7, 1.0), angles=(angle,), seed=3))
  images = _pixels(catalog.render(np.arange(len(catalog)), 32))
  train = catalog.subject < 30
  classify = _ridge_classifier(images[train], catalog.expression[train],
                               synthfaces.NUM_EXPRESSIONS)
  accuracy = (classify(images[~train]) == catalog.expression[~train]).mean()
  assert accuracy > 0.6, accuracy  # chance is 0.125


def test_identities_are_recognisable_across_expressions():
  """People are recognised under expressions never seen for them."""
  catalog = synthfaces.Catalog(synthfaces.CatalogSpec(
      num_subjects=30, intensities=(1.0,), angles=(0.0,), seed=4))
  images = _pixels(catalog.render(np.arange(len(catalog)), 32))
  train = catalog.expression < 4  # neutral, happy, sad, angry
  classify = _ridge_classifier(images[train], catalog.subject[train], 30,
                               penalty=1.0)
  accuracy = (classify(images[~train]) == catalog.subject[~train]).mean()
  assert accuracy > 0.9, accuracy  # chance is 1/30


def test_feature_window_and_bands_lose_nothing(monkeypatch):
  """Painting features everywhere gives the same pixels as painting them in
  their window and bands, even at extreme controls, poses and gazes."""
  rng = np.random.default_rng(0)
  count = 64
  people = synthfaces.sample_identities(11, np.arange(count))
  aus = rng.choice([0.0, 1.5], size=(count, synthfaces.NUM_AUS))
  aus[:8] = 1.5
  aus[8:16] = 0.0
  yaw = rng.choice(synthfaces.ANGLES, size=count)
  gaze = rng.uniform(-1, 1, count).astype(np.float32)
  args = (people, aus.astype(np.float32), yaw.astype(np.float32), gaze)
  banded = np.asarray(synthfaces.render(*args, size=64))
  monkeypatch.setattr(layout, 'FEATURE_X', (-2.0, 2.0))
  monkeypatch.setattr(layout, 'FEATURE_Y', (-2.0, 2.0))
  monkeypatch.setattr(layout, 'FEATURE_BANDS', {
      band: (-2.0, 2.0) for band in layout.FEATURE_BANDS})
  jax.clear_caches()
  try:
    everywhere = np.asarray(synthfaces.render(*args, size=64))
  finally:
    jax.clear_caches()
  # A different window changes how XLA fuses the arithmetic, which may move
  # a pixel by one level of rounding; a missed feature moves it by far more.
  np.testing.assert_allclose(banded.astype(int), everywhere, rtol=0, atol=1)


def test_render_edit_gives_the_exact_answer(catalog):
  rows = np.arange(0, len(catalog), 61)
  # Editing an image towards its own expression at alpha 1 changes nothing.
  np.testing.assert_array_equal(catalog.render_edit(rows, rows, 1.0, 32),
                                catalog.render(rows, 32))
  # Alpha 0 gives the neutral face: identical to the neutral image with the
  # same gaze, and differing from the expressive image.
  neutral = catalog.render_neutral(rows, 32)
  expressive = catalog.expression[rows] != synthfaces.NEUTRAL
  assert np.abs(neutral[expressive].astype(int)
                - catalog.render(rows[expressive], 32)).sum() > 0
  neutral_rows = catalog.neutral_rows(rows)
  assert (catalog.expression[neutral_rows] == synthfaces.NEUTRAL).all()
  assert (catalog.subject[neutral_rows] == catalog.subject[rows]).all()
  assert (catalog.angle[neutral_rows] == catalog.angle[rows]).all()


def test_catalogue_grid_and_splits():
  catalog = synthfaces.Catalog()
  assert len(catalog) == 8040 == catalog.spec.num_images
  cell = catalog.row_of(catalog.subject, catalog.expression,
                        catalog.intensity_level, catalog.angle_index(
                            np.arange(len(catalog))))
  np.testing.assert_array_equal(cell, np.arange(len(catalog)))
  random = catalog.split('random')
  assert len(random['test']) == 804
  assert not np.intersect1d(random['train'], random['test']).size
  by_subject = catalog.split('subject')
  assert not np.intersect1d(catalog.subject[by_subject['train']],
                            catalog.subject[by_subject['test']]).size
  assert len(by_subject['train']) + len(by_subject['test']) == len(catalog)
  with pytest.raises(ValueError, match='split scheme'):
    catalog.split('by_angle')


def test_contact_sheet_shows_32_px_faces_upscaled_4x():
  sheet = synthfaces_cli._contact_sheet(  # pylint: disable=protected-access
      32, identities=1, seed=0)
  spec = synthfaces.CatalogSpec(num_subjects=1, intensities=(1.0,),
                                max_gaze=0.0, seed=0)
  catalog = synthfaces.Catalog(spec)
  frontal = catalog.row_of(0, np.arange(synthfaces.NUM_EXPRESSIONS), 0,
                           spec.angles.index(0.0))
  faces = catalog.render(frontal, 32)
  # Two rows (the identity, then its poses) of eight 128-px columns, laid
  # out from the bottom-right corner.
  cell, step = 128, 128 + plots.GRID_GAP
  height, width = sheet.shape[:2]
  top = height - plots.GRID_PAD - 2 * cell - plots.GRID_GAP
  left = width - plots.GRID_PAD - 8 * cell - 7 * plots.GRID_GAP
  for column, face in enumerate(faces):
    start = left + column * step
    np.testing.assert_array_equal(sheet[top:top + cell, start:start + cell],
                                  np.kron(face, np.ones((4, 4, 1), np.uint8)))
  assert sheet[:top, left:].min() < 100  # the expression names
  assert sheet[top:, :left].min() < 100  # the row labels

"""The evaluation's parts: targets, scores, the R+G data, the report."""

import numpy as np
import pytest

from leedjax.data import synthfaces
from leedjax.evaluation import real_plus_generated
from leedjax.evaluation import report as report_lib
from leedjax.evaluation import scores
from leedjax.evaluation import targets
from leedjax.stages import evaluate


def test_pairs_never_pair_a_subject_with_itself_and_respect_angles():
  subject = np.repeat(np.arange(4), 6)
  angle = np.tile([-45.0, 0.0, 45.0], 8)
  for pairing in ('any_angle', 'same_angle'):
    references = evaluate.make_pairs(subject, angle, pairing, seed=0)
    assert np.all(subject[references] != subject)
    if pairing == 'same_angle':
      assert np.all(angle[references] == angle)
  with pytest.raises(ValueError, match='pairing'):
    evaluate.make_pairs(subject, angle, 'nearest', seed=0)


def test_paper_target_is_the_dataset_image_of_the_person_with_that_expression():
  catalog = synthfaces.Catalog(synthfaces.CatalogSpec(num_subjects=3))
  input_rows = catalog.row_of(0, 2, 1, [0, 3])
  reference_rows = catalog.row_of(1, 4, 2, [2, 2])
  got = targets.paper_targets_synthfaces(catalog, input_rows, reference_rows,
                                         32)
  # Subject 0, the reference's expression and intensity level, the input's
  # angle: exactly that record's rendering.
  np.testing.assert_array_equal(
      got, catalog.render(catalog.row_of(0, 4, 2, [0, 3]), 32))


def test_paper_target_indices_look_up_subject_expression_and_angle():
  subject = np.array([0, 0, 1, 1, 0])
  expression = np.array([0, 3, 3, 0, 3])
  angle = np.array([0.0, 0.0, 0.0, 45.0, 45.0])
  references = np.array([2, 3, 1, 4, 2])
  # 0 wants (0, expr 3, 0 deg) -> 1; 1 wants (0, 0, 0) -> 0; 2 wants
  # (1, 3, 0) -> itself; 3 wants (1, 3, 45) -> none; 4 wants (0, 3, 45) -> 4.
  np.testing.assert_array_equal(
      targets.paper_target_indices(subject, expression, angle, references),
      [1, 0, 2, -1, 4])


def test_ssim_is_one_on_identical_images_and_lower_on_noise():
  rng = np.random.default_rng(0)
  images = rng.integers(0, 256, (5, 32, 32, 3), dtype=np.uint8)
  np.testing.assert_allclose(scores.ssim(images, images, 4), 1.0, atol=1e-5)
  noisy = np.clip(images + rng.normal(0, 40, images.shape), 0, 255).astype(
      np.uint8)
  assert np.all(scores.ssim(images, noisy, 4) < 0.9)


def test_fer_judges_only_the_classes_it_has():
  names = list(synthfaces.EXPRESSIONS)
  labels = np.arange(len(names))
  judgeable = scores.fer_judgeable(names, labels)
  assert judgeable.sum() == len(names) - 1
  assert not judgeable[names.index('contemptuous')]
  assert scores.mean([]) is None


def test_concatenated_source_reads_each_part_in_order():
  def part(start, count):
    return real_plus_generated.ArraySource(
        np.arange(start, start + count)[:, None, None, None] * np.ones(
            (1, 2, 2, 3), np.uint8),
        subject=np.arange(count), expression=np.full(count, start),
        angle=np.zeros(count), catalog_row=np.full(count, -1))
  source = real_plus_generated.ConcatenatedSource(part(0, 3), part(10, 2))
  assert len(source) == 5
  assert [int(source[i]['image'][0, 0, 0]) for i in range(5)] == [
      0, 1, 2, 10, 11]
  assert int(source[4]['expression']) == 10
  with pytest.raises(ValueError, match='catalog_row'):
    real_plus_generated.ArraySource(np.zeros((1, 2, 2, 3)), subject=[0],
                                    expression=[0], angle=[0])


def test_markdown_report_shows_every_method_and_protocol():
  row = {'fid': 12.5, 'ssim_paper': 0.5, 'lpips_paper': 0.2,
         'expression_accuracy': 0.75, 'identity_retention': None}
  report = {
      'settings': {'num_pairs': 10, 'pairing': 'any_angle', 'alpha': 1.0,
                   'edit_mode': 'decode', 'dataset': 'synth_faces',
                   'image_size': 32, 'split_scheme': 'subject',
                   'judges': ['psi'], 'neutral_faces': 'stargan'},
      'methods': {'leed': row,
                  'copy_input': dict(row, fid=0.0, identity_retention=1.0)},
      'classification_protocols': {
          'R': 0.5, 'G': 0.75, 'R+G': 0.625,
          'R+G_details': {'num_real': 8, 'num_generated': 8, 'steps': 4}},
      'judge_ceilings': {'expression_accuracy': 0.9},
      'tsne_neighbour_agreement': {'encoder': 0.25},
      'figures': {'edits': 'edits.png', 'tsne': 'tsne.png'},
      'evaluate_seconds': 3.0,
  }
  text = report_lib.markdown(report)
  for needle in ('| LEED | 12.50 | 0.5000 | 0.2000 | 75.0% | - |',
                 '| copy the input (edits nothing) | 0.00 |', '| 100.0% |',
                 'R+G', '62.5%', '![edits](edits.png)', '![tsne](tsne.png)',
                 '| encoder | 0.250 |'):
    assert needle in text, needle
  # A column no method has (exact-answer SSIM here) is left out.
  assert 'exact answer |' not in text.split('## Expression')[0]


def test_a_seeded_subset_of_test_records_when_num_pairs_is_set():
  records = {'image': np.arange(10)[:, None], 'subject': np.arange(10) % 3}
  assert evaluate._chosen(records, None, 0) is records
  assert evaluate._chosen(records, 50, 0) is records
  chosen = evaluate._chosen(records, 4, 0)
  assert len(chosen['image']) == 4
  # Records stay in order and keep their fields aligned.
  assert np.all(np.diff(chosen['image'][:, 0]) > 0)
  np.testing.assert_array_equal(chosen['subject'], chosen['image'][:, 0] % 3)
  np.testing.assert_array_equal(evaluate._chosen(records, 4, 0)['image'],
                                chosen['image'])
  with pytest.raises(ValueError, match='num_pairs'):
    evaluate._chosen(records, 1, 0)


def test_angle_figure_takes_one_person_per_angle_both_subjects_have():
  names = list(synthfaces.EXPRESSIONS)
  surprised = names.index('surprised')
  records = {
      'subject': np.array([0, 0, 0, 1, 1, 1, 1]),
      'expression': np.array([0, 0, 0, surprised, surprised, 2, surprised]),
      'angle': np.array([-45.0, 0.0, 45.0, 0.0, 45.0, -45.0, 0.0]),
  }
  inputs, references, angles = evaluate._angle_figure_indices(
      records, names, 'surprised')
  assert angles == [0.0, 45.0]
  assert inputs == [1, 2] and references == [3, 4]
  assert evaluate._angle_figure_indices(records, names, 'bored') is None

"""The whole default job at smoke scale: `python -m leedjax.main` with
configs/synthetic.py:smoke runs every stage, writes results.json with the
documented keys, sample grids and TensorBoard files, and started again skips
every finished stage."""

import json

import numpy as np
from PIL import Image
import pytest

from conftest import run_main
from leedjax.evaluation import plots

RESULT_KEYS = ('expression_accuracy', 'identity_retention', 'ssim_edit',
               'ssim_copy_input', 'ssim_copy_reference', 'wall_seconds')

pytestmark = pytest.mark.xdist_group('smoke_job')


def test_every_stage_runs_and_results_hold_the_documented_keys(smoke_job):
  workdir, result, seconds, _ = smoke_job
  config = json.loads((workdir / 'config.json').read_text())
  for stage in config['stages']:
    assert (workdir / stage / 'done.json').is_file(), stage
  results = json.loads((workdir / 'results.json').read_text())
  for key in RESULT_KEYS:
    assert key in results, key
  for key in RESULT_KEYS[:2]:
    assert 0.0 <= results[key] <= 1.0, (key, results[key])
  for key in RESULT_KEYS[2:5]:  # SSIM lies in [-1, 1]
    assert -1.0 <= results[key] <= 1.0, (key, results[key])
  assert 0 < results['wall_seconds'] <= seconds
  # The judges' ceilings: their scores of SynthFaces' exact answers.
  for key in ('expression_accuracy_of_true_edits',
              'identity_retention_of_true_edits'):
    assert 0.0 <= results[key] <= 1.0, key
  neutralizer = json.loads((workdir / 'neutralizer' / 'done.json').read_text())
  for key in ('psi_calls_neutral', 'ssim_to_true_neutral',
              'ssim_input_to_true_neutral'):
    assert key in neutralizer, key
  # The unedited input resembles its own neutral face more than noise does.
  assert neutralizer['ssim_input_to_true_neutral'] > 0.5
  # The copies are exact answers in part (same identity, or same
  # expression), so they must resemble the truth more than chance does.
  assert results['ssim_copy_input'] > 0.2
  # Printed at the end of the run, too.
  printed = json.loads(result.stdout[result.stdout.index('{'):])
  assert printed == results


def test_trained_stages_write_samples_and_tensorboard(smoke_job):
  workdir, _, _, _ = smoke_job
  for stage in ('classifier', 'neutralizer', 'leed', 'identity_judge'):
    assert list((workdir / stage / 'tensorboard').glob('events.out.*')), stage
    assert (workdir / stage / 'metrics.jsonl').read_text().strip(), stage
  # Labelled rows of 32 px faces upscaled 4x (tests/test_sample_grids.py):
  # LEED's 8 (with the exact answer), StarGAN's input and 8 translations.
  for stage, num_rows in (('leed', 8), ('neutralizer', 9)):
    samples = sorted((workdir / stage / 'samples').glob('*.png'))
    assert samples, stage
    with Image.open(samples[-1]) as image:
      pixels = np.asarray(image)
    assert pixels.shape[0] == (2 * plots.GRID_PAD + num_rows * 128
                               + (num_rows - 1) * plots.GRID_GAP), stage
    end = -plots.GRID_PAD
    corner = pixels[end - 128:end, end - 128:end]
    np.testing.assert_array_equal(
        corner, np.kron(corner[::4, ::4], np.ones((4, 4, 1), np.uint8)))
  assert (workdir / 'evaluate' / 'edits.png').is_file()


def test_started_again_it_skips_every_finished_stage(smoke_job):
  workdir, _, _, data_dir = smoke_job
  before = (workdir / 'results.json').read_text()
  again = run_main(workdir, f'--config.data.data_dir={data_dir}')
  assert again.returncode == 0, again.stderr[-4000:]
  config = json.loads((workdir / 'config.json').read_text())
  for stage in config['stages']:
    assert f'Stage {stage}: already done.' in again.stdout
  assert (workdir / 'results.json').read_text() == before

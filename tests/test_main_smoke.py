"""The whole default job at smoke scale: `python -m leedjax.main` with
configs/synthetic.py:smoke runs every stage, writes results.json with the
documented keys, sample grids and TensorBoard files, and started again skips
every finished stage."""

import json
import os
import pathlib
import subprocess
import sys
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
RESULT_KEYS = ('expression_accuracy', 'identity_retention', 'ssim_edit',
               'ssim_copy_input', 'ssim_copy_reference', 'wall_seconds')


def _main(workdir, data_dir):
  return subprocess.run(
      [sys.executable, '-m', 'leedjax.main',
       '--config=configs/synthetic.py:smoke', f'--workdir={workdir}',
       f'--config.data.data_dir={data_dir}'],
      cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)),
      capture_output=True, text=True, timeout=900, check=False)


@pytest.fixture(scope='module')
def smoke_run(tmp_path_factory):
  workdir = tmp_path_factory.mktemp('smoke')
  start = time.perf_counter()
  result = _main(workdir, tmp_path_factory.mktemp('tfds'))
  assert result.returncode == 0, result.stderr[-4000:]
  return workdir, result, time.perf_counter() - start


def test_every_stage_runs_and_results_hold_the_documented_keys(smoke_run):
  workdir, result, seconds = smoke_run
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
  # The copies are exact answers in part (same identity, or same
  # expression), so they must resemble the truth more than chance does.
  assert results['ssim_copy_input'] > 0.2
  # Printed at the end of the run, too.
  printed = json.loads(result.stdout[result.stdout.index('{'):])
  assert printed['evaluate']['expression_accuracy'] == results[
      'expression_accuracy']


def test_trained_stages_write_samples_and_tensorboard(smoke_run):
  workdir, _, _ = smoke_run
  for stage in ('classifier', 'neutralizer', 'leed', 'identity_judge'):
    assert list((workdir / stage / 'tensorboard').glob('events.out.*')), stage
    assert (workdir / stage / 'metrics.jsonl').read_text().strip(), stage
  leed_samples = sorted((workdir / 'leed' / 'samples').glob('*.png'))
  assert leed_samples
  assert (workdir / 'evaluate' / 'edits.png').is_file()


def test_started_again_it_skips_every_finished_stage(smoke_run,
                                                     tmp_path_factory):
  workdir, _, _ = smoke_run
  before = (workdir / 'results.json').read_text()
  again = _main(workdir, tmp_path_factory.getbasetemp() / 'tfds0')
  assert again.returncode == 0, again.stderr[-4000:]
  config = json.loads((workdir / 'config.json').read_text())
  for stage in config['stages']:
    assert f'Stage {stage}: already done.' in again.stdout
  assert (workdir / 'results.json').read_text() == before

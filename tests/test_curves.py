"""Learning curves: `python -m leedjax.curves` on a copy of the smoke job's
workdir measures every kept checkpoint, and its last points are the figures
the job itself reported; the line chart it draws."""

import json
import os
import shutil

import numpy as np
from PIL import Image
import pytest

from conftest import REPO
from conftest import run_command
from leedjax.evaluation import plots

pytestmark = pytest.mark.xdist_group('smoke_job')


def _done(workdir, stage):
  return json.loads((workdir / stage / 'done.json').read_text())


def test_curves_measure_every_kept_checkpoint(smoke_job, tmp_path):
  workdir, _, _, data_dir = smoke_job
  user_dir = tmp_path / 'user'
  shutil.copytree(workdir, user_dir / 'run')
  config = os.path.relpath(REPO / 'configs' / 'synthetic.py', user_dir)
  result = run_command('leedjax.curves', f'--config={config}:smoke',
                       '--workdir=run', f'--config.data.data_dir={data_dir}',
                       cwd=user_dir)
  assert result.returncode == 0, result.stderr[-4000:]
  copy = user_dir / 'run'
  curves = json.loads((copy / 'curves' / 'curves.json').read_text())
  assert list(curves) == ['classifier', 'neutralizer', 'leed',
                          'identity_judge']
  for stage, points in curves.items():
    kept = sorted(int(path.name) for path in
                  (copy / stage / 'checkpoints').iterdir()
                  if path.name.isdigit())
    assert [point['step'] for point in points] == kept, stage
    assert Image.open(copy / 'curves' / f'{stage}.png').size[0] >= 640
  assert [point['step'] for point in curves['classifier']] == [2, 4]

  # The last point of each stage is what the job measured at its end.
  assert curves['classifier'][-1]['test_accuracy'] == pytest.approx(
      _done(copy, 'classifier')['test_accuracy'], abs=1e-6)
  assert 0.0 <= curves['classifier'][0]['test_accuracy_at_16px'] <= 1.0
  assert curves['identity_judge'][-1]['held_out_accuracy'] == pytest.approx(
      _done(copy, 'identity_judge')['held_out_accuracy'], abs=1e-6)
  neutral = _done(copy, 'neutralizer')
  for key in ('psi_calls_neutral', 'ssim_to_true_neutral'):
    assert curves['neutralizer'][-1][key] == pytest.approx(neutral[key],
                                                           abs=1e-6)
  # The identity judge trains after the neutralizer in the job; the curve
  # judges its neutral faces with it.
  assert 0.0 <= curves['neutralizer'][-1]['identity_retention'] <= 1.0
  results = json.loads((copy / 'results.json').read_text())
  leed = curves['leed'][-1]
  for key in ('expression_accuracy', 'identity_retention', 'ssim_edit'):
    assert leed[key] == pytest.approx(results[key], abs=1e-6), key
  assert 0.0 < leed['reconstruction_ssim'] < 1.0

  table = (copy / 'curves' / 'curves.md').read_text()
  assert '## leed' in table and '| step | expression_accuracy' in table
  assert 'curves: classifier step 2' in result.stdout
  assert 'Traceback' not in result.stderr


def test_curves_of_an_untrained_workdir_exit_2(tmp_path):
  result = run_command('leedjax.curves',
                       '--config=configs/synthetic.py:smoke',
                       f'--workdir={tmp_path / "empty"}')
  assert result.returncode == 2, result.stderr[-2000:]
  assert 'Cannot draw learning curves' in result.stderr
  assert 'train first' in result.stderr and 'Traceback' not in result.stderr
  assert not (tmp_path / 'empty' / 'curves').exists()


def test_line_chart_draws_each_series_in_its_colour(tmp_path):
  path = tmp_path / 'chart.png'
  plots.line_chart_png('title', [0, 50, 100],
                       {'rising': [0.0, 0.5, 1.0], 'gap': [0.2, None, 0.2]},
                       path, width=200, height=100)
  pixels = np.asarray(Image.open(path).convert('RGB')).reshape(-1, 3)
  colours = {tuple(pixel) for pixel in pixels}
  assert plots.COLOURS[0] in colours and plots.COLOURS[1] in colours
  with pytest.raises(ValueError, match='2 values for 3 steps'):
    plots.line_chart_png('t', [0, 1, 2], {'short': [0.1, 0.2]}, path)

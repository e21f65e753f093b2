"""`python -m leedjax.bench` measures a trainer's step on 1 and 2 devices and
prints step time, images/s, FLOPs and GFLOP/s (the classifier only, to stay
fast; every trainer runs the same code path)."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]


def test_bench_prints_and_writes_step_figures(tmp_path):
  figures = tmp_path / 'bench.json'
  result = subprocess.run(
      [sys.executable, '-m', 'leedjax.bench',
       '--config=configs/synthetic.py:smoke',
       f'--config.data.data_dir={tmp_path / "tfds"}', '--devices=1,2',
       '--trainers=classifier', '--steps=2', '--warmup=1',
       f'--json={figures}'],
      cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)),
      capture_output=True, text=True, timeout=600, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  rows = json.loads(figures.read_text())
  assert [(row['trainer'], row['devices']) for row in rows] == [
      ('classifier', 1), ('classifier', 2)]
  for row in rows:
    assert row['step_seconds'] > 0
    assert np.isclose(row['images_per_second'] * row['step_seconds'], 8)
    assert row['gflop_per_step'] > 0
    assert np.isclose(row['gflop_per_second'],
                      row['gflop_per_step'] / row['step_seconds'])
  assert 'GFLOP/s' in result.stdout and 'classifier' in result.stdout


def test_compare_times_both_lowerings_side_by_side(tmp_path):
  figures = tmp_path / 'bench.json'
  result = subprocess.run(
      [sys.executable, '-m', 'leedjax.bench',
       '--config=configs/synthetic.py:smoke',
       f'--config.data.data_dir={tmp_path / "tfds"}', '--devices=1',
       '--trainers=neutralizer', '--steps=1', '--warmup=0',
       '--compare=plain', f'--json={figures}'],
      cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)),
      capture_output=True, text=True, timeout=600, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  rows = json.loads(figures.read_text())
  assert [(row['trainer'], row['lowering']) for row in rows] == [
      ('neutralizer', 'plain'), ('neutralizer', 'optimized')]
  # The same work either way, give or take the sub-pixel form's zeros.
  plain, optimized = (row['gflop_per_step'] for row in rows)
  assert 0.5 * plain < optimized < 3 * plain
  assert 'neutralizer on 1 device(s): optimized' in result.stdout
  assert 'faster than plain' in result.stdout

"""ExprGAN's three stages at smoke scale through `python -m leedjax.main`:
each trains, checkpoints, writes its samples, and the next starts from it."""

import json
import os

import pytest

from conftest import REPO
from conftest import run_main
from leedjax.trainers import exprgan

# About two minutes on 2 cores: in the slow selection (`pytest -m slow`),
# keeping the default one within its ten minutes. The trainer itself is
# tested by tests/test_trainer_exprgan.py in the default selection.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group('exprgan_smoke')]
STAGES = exprgan.STAGE_NAMES


def test_every_exprgan_stage_trains_and_a_second_run_skips_them(
    tmp_path_factory):
  user_dir = tmp_path_factory.mktemp('user')
  data_dir = tmp_path_factory.mktemp('tfds')
  config = os.path.relpath(REPO / 'configs' / 'synthetic_exprgan.py',
                           user_dir)
  args = ('runs/exprgan', f'--config.data.data_dir={data_dir}')
  result = run_main(*args, config=f'{config}:smoke', cwd=user_dir)
  assert result.returncode == 0, result.stderr[-4000:]
  workdir = user_dir / 'runs' / 'exprgan'
  sizes = None
  for stage in STAGES:
    summary = json.loads((workdir / stage / 'done.json').read_text())
    assert summary['steps'] == 2
    # One set of networks, carried from stage to stage.
    sizes = sizes or summary['parameters']
    assert summary['parameters'] == sizes
    assert list((workdir / stage / 'samples').glob('expressions_*.png'))
    assert list((workdir / stage / 'tensorboard').iterdir())
    lines = (workdir / stage / 'metrics.jsonl').read_text().splitlines()
    assert 'g_loss' in json.loads(lines[-1])
  again = run_main(*args, config=f'{config}:smoke', cwd=user_dir)
  assert again.returncode == 0, again.stderr[-4000:]
  for stage in STAGES:
    assert f'Stage {stage}: already done.' in again.stdout

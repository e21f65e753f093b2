"""ExprGAN's three stages at smoke scale through `python -m leedjax.main`:
each trains, checkpoints, writes its samples, and the next starts from it;
the evaluation reports ExprGAN as its headline method with its own figures
and tables; the workdir's editor edits through the API, the photo editor and
`jax.export`."""

import json
import os
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image
import pytest
import skimage.data

import leedjax
from leedjax import api_exprgan
from leedjax import exprgan_editing
from leedjax.data import pipeline
from leedjax.trainers import exprgan
from conftest import REPO
from conftest import run_command
from conftest import run_main

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
  _check_evaluation(workdir)
  _check_editor(workdir, user_dir)
  _check_curves(workdir, data_dir, user_dir)
  again = run_main(*args, config=f'{config}:smoke', cwd=user_dir)
  assert again.returncode == 0, again.stderr[-4000:]
  for stage in STAGES:
    assert f'Stage {stage}: already done.' in again.stdout


def _check_evaluation(workdir):
  results = json.loads((workdir / 'results.json').read_text())
  assert results['headline_method'] == 'exprgan'
  assert results['expression_accuracy'] == results[
      'exprgan_expression_accuracy']
  for key in ('identity_retention', 'ssim_edit', 'ssim_copy_input',
              'exprgan_intensity_correlation'):
    assert isinstance(results[key], float), key
  # Table 1's rows: Psi itself, and Psi's recipe retrained with 16 faces.
  assert set(results['exprgan_augmentation_accuracy']) == {'0', '16'}
  evaluate = workdir / 'evaluate'
  report = json.loads((evaluate / 'report.json').read_text())
  assert set(report['exprgan']['retrieval']) == {'c', 'y', 'x'}
  assert 'stargan' not in report['methods']
  for name in ('exprgan_intensity.png', 'exprgan_retrieval.png',
               'edits.png'):
    assert (evaluate / name).stat().st_size > 0
  text = (evaluate / 'report.md').read_text()
  assert 'ExprGAN transfer' in text and 'Table 1' in text


def _check_curves(workdir, data_dir, user_dir):
  """`python -m leedjax.curves` measures the transfers of each kept
  checkpoint; the last are the figures the evaluation reported."""
  config = os.path.relpath(REPO / 'configs' / 'synthetic_exprgan.py',
                           user_dir)
  result = run_command('leedjax.curves', f'--config={config}:smoke',
                       '--workdir=runs/exprgan',
                       f'--config.data.data_dir={data_dir}', cwd=user_dir)
  assert result.returncode == 0, result.stderr[-4000:]
  curves = json.loads((workdir / 'curves' / 'curves.json').read_text())
  assert list(curves) == ['classifier', 'exprgan_reconstruction',
                          'exprgan_refinement', 'identity_judge']
  for stage in ('exprgan_reconstruction', 'exprgan_refinement'):
    assert [point['step'] for point in curves[stage]] == [2], stage
    assert (workdir / 'curves' / f'{stage}.png').stat().st_size > 0
  results = json.loads((workdir / 'results.json').read_text())
  last = curves['exprgan_refinement'][-1]
  reported = {'expression_accuracy': 'exprgan_expression_accuracy',
              'identity_retention': 'exprgan_identity_retention',
              'ssim_edit': 'exprgan_ssim'}
  for key, name in reported.items():
    assert last[key] == pytest.approx(results[name], abs=1e-6), key
  assert 0.0 <= last['to_class_accuracy'] <= 1.0


def _check_editor(workdir, user_dir):
  editor = leedjax.load_editor(workdir)
  assert isinstance(editor, leedjax.ExprGANEditor)
  assert editor.spec.class_names[1] == 'happy'
  faces = np.random.default_rng(0).integers(0, 256, (3, 32, 32, 3),
                                            dtype=np.uint8)
  transfer = jax.jit(leedjax.edit)(editor, faces, faces[::-1],
                                   jnp.array([0.0, 1.0, 1.5]))
  assert transfer.shape == (3, 32, 32, 3)
  # The API's transfer is the editing function's, with Psi's classes and
  # the editor's neutral class (at full magnitude).
  references = pipeline.to_float(jnp.asarray(faces[::-1]))
  expected = exprgan_editing.transfer(
      editor.spec.networks(), editor.exprgan,
      pipeline.to_float(jnp.asarray(faces)), references,
      api_exprgan.reference_classes(editor, references),
      num_classes=editor.spec.num_classes, code_dim=editor.spec.code_dim,
      neutral=editor.spec.class_names.index('neutral'))
  np.testing.assert_allclose(transfer[1], expected[1], atol=1e-4)
  weak, strong = (leedjax.edit_to_expression(editor, faces, 'happy', t)
                  for t in (0.0, 1.0))
  assert float(jnp.max(jnp.abs(strong - weak))) > 0  # intensity is used
  with pytest.raises(ValueError, match='knows neutral, happy'):
    leedjax.edit_to_expression(editor, faces, 'joyful', 0.5)
  with pytest.raises(leedjax.api.EditorNotFoundError, match='neutralizer'):
    leedjax.load_editor(workdir, system='leed')

  result = run_main(workdir, '--mode=export',
                    config=f'{REPO}/configs/synthetic_exprgan.py:smoke')
  assert result.returncode == 0, result.stderr[-3000:]
  export_dir = workdir / 'export'
  assert json.loads((export_dir / 'edit.json').read_text())[
      'system'] == 'exprgan'
  from jax import export  # pylint: disable=g-import-not-at-top
  served = export.deserialize(
      (export_dir / 'edit_to_expression.jaxexport').read_bytes())
  classes = np.array([1, 1, 4], np.int32)
  intensity = np.array([0.2, 1.0, 0.5], np.float32)
  np.testing.assert_allclose(
      served.call(faces, classes, intensity),
      leedjax.edit_to_expression(editor, faces, classes, intensity),
      atol=1e-5)

  photo = user_dir / 'astronaut.png'
  Image.fromarray(skimage.data.astronaut()).save(photo)
  out = user_dir / 'happier.png'
  edit = subprocess.run(
      [sys.executable, '-m', 'leedjax.edit', f'--workdir={workdir}',
       f'--input={photo}', '--expression=happy', '--intensity=0.2,1',
       f'--out={out}'], cwd=user_dir,
      env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True,
      text=True, timeout=300, check=False)
  assert edit.returncode == 0, edit.stderr[-3000:]
  assert Image.open(out).size == (3 * 512, 512)
  bad = subprocess.run(
      [sys.executable, '-m', 'leedjax.edit', f'--workdir={workdir}',
       f'--input={photo}', '--expression=joyful', f'--out={out}.png'],
      cwd=user_dir, env=dict(os.environ, PYTHONPATH=str(REPO)),
      capture_output=True, text=True, timeout=300, check=False)
  assert bad.returncode == 2 and 'not one of this editor' in bad.stderr
  assert 'Traceback' not in bad.stderr
  assert not os.path.exists(f'{out}.png')

"""The paper configs' `:smoke` variants, every stage, on fixture copies of
the real datasets in their owners' layouts (`tests/real_layouts`): a user
with a copy runs `python -m leedjax.main --config=configs/rafd.py
--config.data.manual_dir=DIR` and gets a report and an editor.

Minutes each: `python -m pytest -m paper_configs` (.ci/run runs them).
"""

import json

import numpy as np
import pytest

from conftest import REPO, run_main
import leedjax
from real_layouts import cfee
from real_layouts import oulu
from real_layouts import rafd

pytestmark = pytest.mark.paper_configs


def run_paper_config(tmp_path, config, copy, *overrides):
  # Relative paths, from the folder holding the copy, as a user types them.
  result = run_main('run', f'--config.data.manual_dir={copy.name}',
                    '--config.data.data_dir=tfds', *overrides, config=config,
                    cwd=copy.parent)
  assert result.returncode == 0, result.stderr[-3000:]
  workdir = tmp_path / 'run'
  results = json.loads((workdir / 'results.json').read_text())
  data = json.loads((workdir / 'data' / 'done.json').read_text())
  return workdir, results, data


def test_rafd_smoke_trains_evaluates_and_edits(tmp_path):
  written = rafd.write(tmp_path / 'RaFD', num_subjects=4)
  workdir, results, data = run_paper_config(
      tmp_path, str(REPO / 'configs' / 'rafd.py') + ':smoke',
      tmp_path / 'RaFD')
  assert data['dataset'] == 'rafd' and data['skipped'] == {}
  assert data['num_train'] + data['num_test'] == len(written)
  assert data['num_subjects'] == 4
  for key in ('expression_accuracy', 'identity_retention',
              'ssim_edit_to_input', 'fid_edit'):
    assert results[key] is not None, key
  # No exact answers on photographs: the paper's targets (the input's
  # person with the reference's expression, from the dataset) instead.
  assert results['ssim_paper_edit'] is not None
  assert 'ssim_edit' not in results
  editor = leedjax.load_editor(workdir)
  faces = np.zeros((2, 32, 32, 3), np.float32)
  assert leedjax.edit(editor, faces, faces, 1.0).shape == (2, 32, 32, 3)


def test_oulu_smoke_trains_exprgan_and_evaluates(tmp_path):
  copy = tmp_path / 'OriginalImg'
  written = oulu.write(copy, subjects=('P001', 'P002', 'P003', 'P073',
                                       'P074'))
  # SynthFaces' drawn faces defeat OpenCV's detector more often than not
  # (tests/test_real_oulu.py): the fixture's frames are cut where the
  # faces were pasted.
  fixed = ','.join(str(value) for value in oulu.FIXED_CROP)
  workdir, results, data = run_paper_config(
      tmp_path, str(REPO / 'configs' / 'oulu.py') + ':smoke', copy,
      '--config.data.crop=fixed', f'--config.data.fixed_crop=({fixed})')
  assert data['dataset'] == 'oulu' and data['num_subjects'] == 5
  assert data['test_split'] == 'subject_test'
  assert data['num_train'] + data['num_test'] == sum(
      1 for frame in written.values() if frame[2] == 'apex')
  assert results['headline_method'] == 'exprgan'
  assert results['expression_accuracy'] is not None
  editor = leedjax.load_editor(workdir)
  assert isinstance(editor, leedjax.ExprGANEditor)
  faces = np.zeros((1, 32, 32, 3), np.uint8)
  assert leedjax.edit_to_expression(editor, faces, 'happy', 0.5).shape == (
      1, 32, 32, 3)


def test_cfeed_smoke_trains_evaluates_and_edits(tmp_path):
  copy = tmp_path / 'CFEE'
  written = cfee.write(copy, cfee.renders(4))
  # The fixture's faces fill each photo's width: a centre crop cuts them.
  workdir, results, data = run_paper_config(
      tmp_path, str(REPO / 'configs' / 'cfeed.py') + ':smoke', copy,
      '--config.data.crop=center')
  assert data['dataset'] == 'cfeed' and len(data['expression_names']) == 22
  assert data['num_train'] + data['num_test'] == len(written)
  assert results['expression_accuracy'] is not None
  # Each test pair's target (the input's person with the reference's
  # category) is found, among the training images if not the test ones.
  assert results['ssim_paper_edit'] is not None
  assert leedjax.load_editor(workdir).spec.num_classes == 22

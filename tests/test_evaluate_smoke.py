"""The evaluation of the smoke job: report.json, report.md and figures;
`--mode=evaluate` again with fer as a second judge; the ablation stages
(slow)."""

import json
import shutil

from PIL import Image
import pytest

from conftest import run_main

pytestmark = pytest.mark.xdist_group('smoke_job')

METHODS = ('leed', 'stargan', 'copy_input', 'copy_reference')
METRICS = ('fid', 'ssim_paper', 'ssim_true', 'lpips_paper', 'lpips_true',
           'expression_accuracy', 'identity_retention')
FIGURES = ('edits', 'interpolation', 'angles', 'tsne')
ALL_STAGES = ('data', 'classifier', 'neutralizer', 'cache', 'leed',
              'leed_without_q', 'leed_without_s', 'identity_judge',
              'evaluate')


def _report(workdir):
  return json.loads((workdir / 'evaluate' / 'report.json').read_text())


def test_report_scores_every_method_with_every_metric(smoke_job):
  workdir = smoke_job[0]
  report = _report(workdir)
  results = json.loads((workdir / 'results.json').read_text())
  assert report['settings']['num_pairs'] == 32
  for method in METHODS:
    for metric in METRICS:
      value = report['methods'][method][metric]
      assert value is not None and value >= 0.0, (method, metric)
  copy_input = report['methods']['copy_input']
  copy_reference = report['methods']['copy_reference']
  # The input is the exact answer but for the expression; the reference is
  # another person: every similarity must rank them so.
  assert copy_input['fid'] == 0.0 < copy_reference['fid']
  assert copy_input['ssim_true'] > copy_reference['ssim_true']
  assert copy_input['lpips_true'] < copy_reference['lpips_true']
  assert copy_input['ssim_paper'] > copy_reference['ssim_paper']
  # results.json repeats the headline numbers of the report.
  assert results['expression_accuracy'] == report['methods']['leed'][
      'expression_accuracy']
  assert results['ssim_copy_input'] == copy_input['ssim_true']
  assert results['fid_edit'] == report['methods']['leed']['fid']
  protocols = report['classification_protocols']
  assert protocols['G'] == results['expression_accuracy']
  assert protocols['R'] == results['psi_accuracy_on_real_test_images']
  assert 0.0 <= protocols['R+G'] <= 1.0
  assert protocols['R+G_details']['num_generated'] == protocols[
      'R+G_details']['num_real']
  assert set(report['tsne_neighbour_agreement']) == {'encoder', 'residual',
                                                     'extractor'}


def test_report_markdown_and_figures(smoke_job):
  stage_dir = smoke_job[0] / 'evaluate'
  report = _report(smoke_job[0])
  markdown = (stage_dir / 'report.md').read_text()
  for figure in FIGURES:
    name = report['figures'][figure]
    with Image.open(stage_dir / name) as image:
      assert image.width > 100 and image.height > 100, figure
    assert f'({name})' in markdown
  assert '| LEED |' in markdown and 'R+G' in markdown
  # Fig. 7's grid: a column per alpha (8 by default) and the two inputs,
  # 32 px faces upscaled 4x.
  with Image.open(stage_dir / 'interpolation.png') as image:
    assert image.width > (8 + 2) * 4 * 32


def test_evaluate_mode_evaluates_again_with_the_fer_judge(smoke_job,
                                                          tmp_path):
  workdir, _, _, data_dir = smoke_job
  copy = tmp_path / 'run'
  shutil.copytree(workdir, copy)
  evaluated = run_main(copy, f'--config.data.data_dir={data_dir}',
                       '--mode=evaluate', '--judge=fer',
                       '--config.evaluate.num_pairs=16',
                       '--config.evaluate.real_plus_generated=False')
  assert evaluated.returncode == 0, evaluated.stderr[-4000:]
  assert 'Stage leed: already done.' in evaluated.stdout
  report = _report(copy)
  assert report['settings']['num_pairs'] == 16
  assert report['settings']['judges'] == ['psi', 'fer']
  for method in report['methods'].values():
    assert 0.0 <= method['fer_expression_accuracy'] <= 1.0
  assert 0.0 <= report['classification_protocols']['R_fer'] <= 1.0
  assert 'R+G' not in report['classification_protocols']
  assert 'expression (fer)' in (copy / 'evaluate' / 'report.md').read_text()


@pytest.mark.slow
def test_ablation_stages_train_and_are_evaluated(smoke_job, tmp_path):
  workdir, _, _, data_dir = smoke_job
  copy = tmp_path / 'run'
  shutil.copytree(workdir, copy)
  (copy / 'evaluate' / 'done.json').unlink()
  result = run_main(copy, f'--config.data.data_dir={data_dir}',
                    f'--config.stages={ALL_STAGES}',
                    '--config.evaluate.num_pairs=16',
                    '--config.evaluate.real_plus_generated=False')
  assert result.returncode == 0, result.stderr[-4000:]
  assert 'Stage leed: already done.' in result.stdout
  for stage in ('leed_without_q', 'leed_without_s'):
    assert json.loads((copy / stage / 'done.json').read_text())['steps'] == 2
  report = _report(copy)
  for method in ('leed_without_q', 'leed_without_s'):
    assert report['methods'][method]['fid'] > 0.0
  assert (copy / 'evaluate' / report['figures']['ablation']).is_file()
  assert 'LEED without Q (ablation)' in (
      copy / 'evaluate' / 'report.md').read_text()


def test_evaluate_mode_needs_trained_stages(tmp_path):
  result = run_main(tmp_path / 'empty', '--mode=evaluate')
  assert result.returncode == 2
  assert 'Cannot evaluate' in result.stderr and 'train first' in result.stderr
  assert not (tmp_path / 'empty' / 'evaluate').exists()

"""Config checks at start, and `python -m leedjax.main` end to end (data stage)."""

import json
import pathlib
import sys

import pytest

from leedjax import config_checks
from leedjax import run
from leedjax.trainers import exprgan

REPO = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / 'configs'))
import synthetic  # pylint: disable=g-import-not-at-top,wrong-import-position
import synthetic_exprgan  # pylint: disable=g-import-not-at-top,wrong-import-position

from conftest import run_main  # pylint: disable=g-import-not-at-top,wrong-import-position


def _smoke():
  return synthetic.get_config('smoke')


def _check(config, num_devices=1, num_processes=1):
  config_checks.check(config, num_devices=num_devices,
                      num_processes=num_processes,
                      known_stages=tuple(run.STAGES))


def test_shipped_configs_pass():
  _check(synthetic.get_config())
  _check(_smoke())
  ablations = synthetic.get_config('ablations')
  _check(ablations)
  stages = tuple(ablations.stages)
  assert stages.index('leed') < stages.index('leed_without_q') < (
      stages.index('evaluate'))
  assert 'leed_without_s' in stages
  with pytest.raises(ValueError, match='variant'):
    synthetic.get_config('tiny')


def test_exprgan_config_passes_and_its_stages_keep_their_order():
  for variant in ('', 'smoke'):
    config = synthetic_exprgan.get_config(variant)
    _check(config)
    stages = tuple(config.stages)
    assert stages == (('data', 'classifier') + exprgan.STAGE_NAMES
                      + ('identity_judge', 'evaluate'))
  config = synthetic_exprgan.get_config('smoke')
  config.stages = ('data', 'exprgan_reconstruction')
  with pytest.raises(config_checks.ConfigError,
                     match='list exprgan_controller before it'):
    _check(config)
  config.stages = ('data', 'exprgan_controller', 'exprgan_refinement')
  with pytest.raises(config_checks.ConfigError,
                     match='list exprgan_reconstruction before it'):
    _check(config)
  # Evaluation needs Psi to judge and an editor to judge.
  config.stages = ('data', 'classifier', 'identity_judge', 'evaluate')
  with pytest.raises(config_checks.ConfigError, match='needs an editor'):
    _check(config)
  config.stages = ('data', 'leed', 'evaluate')
  with pytest.raises(config_checks.ConfigError,
                     match="list 'classifier' before it"):
    _check(config)
  config = synthetic_exprgan.get_config('smoke')
  config.exprgan.batch_size = 6
  with pytest.raises(config_checks.ConfigError,
                     match='config.exprgan.batch_size=6'):
    _check(config, num_devices=4)
  both = synthetic_exprgan.get_config('with_leed')
  _check(both)
  assert tuple(both.stages) == (
      ('data', 'classifier', 'neutralizer', 'cache', 'leed')
      + exprgan.STAGE_NAMES + ('identity_judge', 'evaluate'))
  with pytest.raises(ValueError, match='variant'):
    synthetic_exprgan.get_config('ablations')


@pytest.mark.parametrize('field, value, message', [
    ('data.dataset', 'celeba', "config.data.dataset 'celeba'"),
    ('data.dataset', 'rafd', 'Radboud Faces Database'),
    ('data.image_size', 48, 'config.data.image_size=48'),
    ('data.image_size', 512, 'config.data.image_size=512'),
    ('data.split_scheme', 'by_angle', 'config.data.split_scheme'),
    ('data.test_fraction', 1.0, 'config.data.test_fraction=1.0'),
    ('data.synthfaces.num_subjects', 1, 'config.data.synthfaces.num_subjects'),
    ('data.synthfaces.angles', (0.0, 120.0), 'config.data.synthfaces.angles'),
    ('data.synthfaces.intensities', (), 'config.data.synthfaces.intensities'),
    ('stages', ('data', 'teleport'), 'config.stages'),
    ('leed.code_stride', 3, 'config.leed.code_stride=3'),
    ('neutralizer.lambda_identity', -1.0,
     'config.neutralizer.lambda_identity=-1.0'),
])
def test_bad_values_name_their_field(field, value, message):
  config = _smoke()
  *parents, leaf = field.split('.')
  node = config
  for parent in parents:
    node = node[parent]
  node[leaf] = value
  with pytest.raises(config_checks.ConfigError, match=message.replace(
      '(', r'\(').replace(')', r'\)')):
    _check(config)


def test_batch_must_split_over_devices_and_processes():
  config = _smoke()
  config.stages = ('data', 'leed')
  config.leed.batch_size = 12
  _check(config, num_devices=4)
  with pytest.raises(config_checks.ConfigError, match='config.leed.batch_size=12'):
    _check(config, num_devices=8)
  with pytest.raises(config_checks.ConfigError, match='multiple of 40'):
    _check(config, num_devices=8, num_processes=5)
  config.stages = ('data', 'classifier', 'leed')
  config.leed.batch_size = 40
  config.classifier.batch_size = 12
  with pytest.raises(config_checks.ConfigError,
                     match='config.classifier.batch_size=12'):
    _check(config, num_devices=8, num_processes=5)


def test_main_rejects_a_bad_config_before_writing_anything(tmp_path):
  workdir = tmp_path / 'run'
  result = run_main(workdir, '--config.data.image_size=48')
  assert result.returncode != 0
  assert 'config.data.image_size=48' in result.stderr
  assert not workdir.exists()


@pytest.mark.parametrize('name, owner', [('rafd', 'Radboud Faces Database'),
                                         ('cfeed', 'Compound Facial'),
                                         ('oulu', 'Oulu-CASIA')])
def test_paper_configs_say_what_data_they_need(tmp_path, name, owner):
  workdir = tmp_path / 'run'
  result = run_main(workdir, config=f'configs/{name}.py')
  assert result.returncode == 2, result.stderr[-2000:]
  assert owner in result.stderr and 'configs/synthetic.py' in result.stderr
  assert not workdir.exists()


def test_oulu_config_holds_exprgans_recipe():
  import oulu  # pylint: disable=g-import-not-at-top
  config = oulu.get_config()
  assert (config.data.image_size, config.data.split_scheme,
          config.data.flip) == (128, 'subject', True)
  assert round(config.data.test_fraction * 80) == 8  # P073-P080
  assert tuple(config.stages) == (('data', 'classifier')
                                  + exprgan.STAGE_NAMES
                                  + ('identity_judge', 'evaluate'))
  section = config.exprgan
  assert (section.width, section.batch_size, section.learning_rate,
          section.betas, section.code_dim, section.identity_dim) == (
              1.0, 48, 2e-4, (0.5, 0.999), 5, 50)
  assert (section.lambda_image_adversarial, section.lambda_latent_adversarial,
          section.lambda_tv) == (0.01, 0.01, 0.001)
  for stage in exprgan.STAGES:
    assert section[stage].num_steps == 1_350  # 50 epochs of 27 steps


def test_paper_configs_hold_the_papers_recipe():
  import cfeed  # pylint: disable=g-import-not-at-top
  import rafd  # pylint: disable=g-import-not-at-top
  for config, images in ((rafd.get_config(), 8_040),
                         (cfeed.get_config(), 5_060)):
    assert config.data.image_size == 128
    assert config.data.split_scheme == 'random'
    leed = config.leed
    assert (leed.batch_size, leed.learning_rate, leed.b1, leed.b2) == (
        24, 1e-4, 0.5, 0.999)
    assert (leed.lambda_q, leed.lambda_recon, leed.lambda_s,
            leed.lambda_gp) == (0.01, 10.0, 1000.0, 100.0)
    # 100 epochs of the 90% training split.
    assert leed.num_steps * leed.batch_size >= 100 * round(0.9 * images)
    assert (leed.num_steps - 1) * leed.batch_size < 100 * round(0.9 * images)
    assert leed.width == 1.0
    # StarGAN's release recipe, without this project's identity term.
    neutralizer = config.neutralizer
    assert (neutralizer.n_critic, neutralizer.g_learning_rate,
            neutralizer.lambda_rec, neutralizer.lambda_identity) == (
                5, 1e-4, 10.0, 0.0)


def test_main_prepares_the_dataset_and_resumes(tmp_path):
  workdir = tmp_path / 'run'
  data_dir = tmp_path / 'tfds'
  data_only = "--config.stages=('data',)"
  first = run_main(workdir, f'--config.data.data_dir={data_dir}', data_only)
  assert first.returncode == 0, first.stderr[-2000:]
  done = json.loads((workdir / 'data' / 'done.json').read_text())
  assert done['dataset'] == 'synth_faces'
  assert (done['num_train'], done['num_test']) == (320, 80)
  assert list(data_dir.glob('synth_faces/*/1.0.0/*.array_record*'))
  config = json.loads((workdir / 'config.json').read_text())
  assert config['data']['image_size'] == 32
  # Started again, it finds the data and keeps the first run's record.
  second = run_main(workdir, f'--config.data.data_dir={data_dir}', data_only)
  assert second.returncode == 0, second.stderr[-2000:]
  again = json.loads((workdir / 'data' / 'done.json').read_text())
  assert again == done


def test_real_datasets_are_checked_at_start(tmp_path):
  import image_folder  # pylint: disable=g-import-not-at-top
  config = image_folder.get_config('smoke')
  config.data.manual_dir = str(tmp_path)
  # Without a pattern naming each image's person, LEED cannot pair people.
  with pytest.raises(config_checks.ConfigError, match='does not say who is '
                     r"in each image.*--config.stages=data,classifier"):
    _check(config)
  config.data.options.subject_pattern = '^(?P<subject>[^_]+)_'
  _check(config)
  config.stages = ('data', 'classifier')
  config.data.options.subject_pattern = ''
  _check(config)
  config.neutralizer.use_renderer_neutral = True
  with pytest.raises(config_checks.ConfigError,
                     match='only SynthFaces can render'):
    _check(config)

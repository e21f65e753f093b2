"""grain pipelines: determinism, exact resume, flips, per-process shards."""

import importlib.abc
import importlib.machinery
import json
import os
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

from configs import default
from leedjax.data import pipeline
from leedjax.data import datasets

BATCH = 8
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def tiny_data_config(data_dir):
  config = default.get_config().data
  config.data_dir = str(data_dir)
  config.image_size = 32
  config.synthfaces.num_subjects = 5
  config.synthfaces.intensities = (1.0,)
  config.prefetch = 2
  return config


@pytest.fixture(scope='module')
def data_config(tmp_path_factory):
  return tiny_data_config(tmp_path_factory.mktemp('tfds'))


@pytest.fixture(scope='module')
def source(data_config):
  builder = datasets.prepare(data_config)
  return builder.as_data_source(datasets.split_names(data_config)[0])


def take(iterator, count):
  return [next(iterator) for _ in range(count)]


def assert_same_batches(first, second):
  assert len(first) == len(second)
  for a, b in zip(first, second):
    jax.tree.map(np.testing.assert_array_equal, a, b)


def views(batches):
  """Every view of pair batches, as one batch (input and reference)."""
  parts = [b[role] for b in batches for role in ('input', 'reference')]
  return jax.tree.map(lambda *rows: np.concatenate(rows), *parts)


@pytest.mark.parametrize('make', [pipeline.pair_batches,
                                  pipeline.image_batches,
                                  pipeline.eval_batches])
def test_resume_gives_the_same_batches(source, data_config, make):
  iterator = make(source, data_config, BATCH)
  before = take(iterator, 2)
  state = json.loads(json.dumps(iterator.get_state()))
  after = take(iterator, 4)
  resumed = make(source, data_config, BATCH)
  resumed.set_state(state)
  assert_same_batches(take(resumed, 4), after)
  fresh = make(source, data_config, BATCH)
  assert_same_batches(take(fresh, 6), before + after)


def test_seed_decides_the_batches(source, data_config):
  first = take(pipeline.pair_batches(source, data_config, BATCH), 3)
  again = take(pipeline.pair_batches(source, data_config, BATCH), 3)
  assert_same_batches(first, again)
  other = data_config.copy_and_resolve_references()
  other.shuffle_seed += 1
  different = take(pipeline.pair_batches(source, other, BATCH), 3)
  assert not np.array_equal(views(first)['index'], views(different)['index'])


def test_threads_and_workers_do_not_change_the_batches(source, data_config):
  config = data_config.copy_and_resolve_references()
  config.prefetch = 0
  expected = take(pipeline.pair_batches(source, config, BATCH), 5)
  config.prefetch, config.num_workers = 2, 1
  iterator = pipeline.pair_batches(source, config, BATCH)
  assert_same_batches(take(iterator, 2), expected[:2])
  state = json.loads(json.dumps(iterator.get_state()))
  iterator.close()
  resumed = pipeline.pair_batches(source, config, BATCH)
  resumed.set_state(state)
  assert_same_batches(take(resumed, 3), expected[2:])
  resumed.close()


def test_epochs_visit_every_record_once_in_new_orders(source, data_config):
  num_records = len(source)
  batches = take(pipeline.pair_batches(source, data_config, BATCH),
                 2 * num_records // BATCH)
  inputs = np.concatenate([b['input']['index'] for b in batches])
  references = np.concatenate([b['reference']['index'] for b in batches])
  first, second = inputs[:num_records], inputs[num_records:2 * num_records]
  np.testing.assert_array_equal(np.sort(first), np.arange(num_records))
  np.testing.assert_array_equal(np.sort(second), np.arange(num_records))
  assert not np.array_equal(first, second)
  assert np.all(references != inputs)
  assert len(np.unique(references)) > num_records // 2


def test_flips_are_fair_and_match_the_pixels(source, data_config):
  batches = take(pipeline.pair_batches(source, data_config, BATCH), 40)
  seen = views(batches)
  assert 0.4 < seen['flipped'].mean() < 0.6
  for i, index in enumerate(seen['index']):
    record = source[int(index)]
    expected = record['image'][:, ::-1] if seen['flipped'][i] else (
        record['image'])
    np.testing.assert_array_equal(seen['image'][i], expected)
    assert seen['catalog_row'][i] == record['catalog_row']
    assert seen['subject'][i] == record['subject']
    assert seen['expression'][i] == record['expression']
  unflipped = data_config.copy_and_resolve_references()
  unflipped.flip = False
  batches = take(pipeline.pair_batches(source, unflipped, BATCH), 5)
  assert not views(batches)['flipped'].any()


def test_images_carry_their_labels(source, data_config):
  batch = next(pipeline.image_batches(source, data_config, BATCH))
  assert batch['image'].shape == (BATCH, 32, 32, 3)
  assert batch['image'].dtype == np.uint8
  for i, index in enumerate(batch['index']):
    record = source[int(index)]
    assert batch['angle'][i] == record['angle']
    assert batch['catalog_row'][i] == record['catalog_row']


def test_evaluation_reads_each_record_once_in_order(source, data_config):
  batches = list(pipeline.eval_batches(source, data_config, BATCH))
  assert len(batches) == -(-len(source) // BATCH)
  index = np.concatenate([b['index'] for b in batches])
  mask = np.concatenate([b['mask'] for b in batches])
  np.testing.assert_array_equal(index[mask], np.arange(len(source)))
  assert not mask[len(source):].any()
  assert not np.concatenate([b['flipped'] for b in batches]).any()


def test_each_process_reads_its_own_rows(source, data_config, monkeypatch):
  whole = take(pipeline.pair_batches(source, data_config, BATCH), 3)
  parts = []
  for process in range(2):
    monkeypatch.setattr(jax, 'process_count', lambda: 2)
    monkeypatch.setattr(jax, 'process_index', lambda p=process: p)
    parts.append(take(pipeline.pair_batches(source, data_config, BATCH), 3))
  for step, batch in enumerate(whole):
    local = [part[step] for part in parts]
    assert local[0]['input']['image'].shape[0] == BATCH // 2
    assert_same_batches(
        [jax.tree.map(lambda *rows: np.concatenate(rows), *local)], [batch])


def test_global_batches_shard_over_eight_devices(source, data_config):
  script = textwrap.dedent("""
      import json, sys
      import jax, ml_collections, numpy as np
      from leedjax.data import datasets, pipeline, sharding
      config = ml_collections.ConfigDict(json.loads(sys.argv[1]))
      source = datasets.prepare(config).as_data_source('train')
      mesh = sharding.make_mesh()
      assert mesh.shape == {'data': 8}, mesh
      assert mesh.axis_types == (jax.sharding.AxisType.Auto,)
      local = next(pipeline.pair_batches(source, config, 16))
      batch = sharding.global_batch(local, mesh)
      for rows, array in zip(jax.tree.leaves(local), jax.tree.leaves(batch)):
        assert array.sharding == sharding.batch_sharding(mesh)
        assert [s.data.shape[0] for s in array.addressable_shards] == [2] * 8
        np.testing.assert_array_equal(np.asarray(array), rows)
      print('sharded')
  """)
  env = dict(os.environ, XLA_FLAGS='--xla_force_host_platform_device_count=8',
             JAX_PLATFORMS='cpu',
             PYTHONPATH=os.pathsep.join(filter(None, [
                 REPO_ROOT, os.environ.get('PYTHONPATH')])))
  result = subprocess.run(
      [sys.executable, '-c', script, data_config.to_json()], env=env,
      capture_output=True, text=True, timeout=120, check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  assert 'sharded' in result.stdout


class RefuseTensorFlow(importlib.abc.MetaPathFinder, importlib.abc.Loader):
  """Makes TensorFlow look installed, and records and fails any import of it."""

  def __init__(self):
    self.imports = []

  def find_spec(self, name, path=None, target=None):
    del path, target
    if name.split('.')[0] == 'tensorflow':
      return importlib.machinery.ModuleSpec(name, self)
    return None

  def create_module(self, spec):
    self.imports.append(spec.name)
    raise ImportError(f'{spec.name} must never be imported')

  def exec_module(self, module):
    pass


def test_tensorflow_is_never_imported(tmp_path, monkeypatch):
  refuse = RefuseTensorFlow()
  monkeypatch.setattr(sys, 'meta_path', [refuse] + sys.meta_path)
  config = tiny_data_config(tmp_path)
  config.synthfaces.num_subjects = 4  # a fresh build, under the watch
  source = datasets.prepare(config).as_data_source('train')
  next(pipeline.pair_batches(source, config, BATCH))
  next(pipeline.image_batches(source, config, BATCH))
  list(pipeline.eval_batches(source, config, BATCH))
  assert not refuse.imports
  assert not [name for name in sys.modules
              if name.split('.')[0] == 'tensorflow']

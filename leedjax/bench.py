"""Step-time benchmark of every trainer of a config.

  python -m leedjax.bench --config=configs/synthetic.py
  python -m leedjax.bench --config=configs/synthetic.py --devices=1 \
      --config.data.image_size=128 --config.leed.width=1   # a GPU, paper size

For each trainer (Psi, the StarGAN neutralizer, LEED, and on request
ExprGAN's stages, `--trainers=exprgan_reconstruction`) it prints the median
step time after warm-up, images per second, the FLOPs of one step from XLA's
cost analysis and the GFLOP/s achieved, once per device count in --devices
(on a CPU, extra counts are fake devices: `--xla_force_host_platform_device_
count`, sharing the same cores). It also times what the `cache` stage saves
each LEED step: StarGAN's neutral faces of the inputs and references and
Psi's features of the references, which LEED's step would otherwise compute.

It reads batches of the config's SynthFaces data (built if missing); LEED's
cached neutral faces and features are stand-ins of the right shapes (step
time does not depend on their values), so no earlier stage must have run.
Each device count runs in its own process, as XLA fixes it at start.

`--compare=plain` also times every step with XLA's own convolutions (the
'plain' lowering of `leedjax.nets.lowering`) in the same process, right
before the optimized one, and prints how much faster the optimized step is:

  python -m leedjax.bench --config=configs/synthetic.py --devices=1 \
      --compare=plain
"""

import functools
import json
import os
import statistics
import subprocess
import sys
import time

from absl import app
from absl import flags
import jax
import jax.numpy as jnp
from ml_collections import config_flags
import numpy as np
import tensorflow_datasets as tfds

from leedjax import cli
from leedjax import files
from leedjax import loop
from leedjax.data import datasets
from leedjax.data import pipeline
from leedjax.data import sharding
from leedjax.nets import lowering
from leedjax.stages import cache as cache_lib
from leedjax.stages import exprgan as exprgan_stages
from leedjax.trainers import classifier as classifier_lib
from leedjax.trainers import exprgan as exprgan_lib
from leedjax.trainers import leed as leed_lib
from leedjax.trainers import stargan
from leedjax.weights import vgg16

_CONFIG = config_flags.DEFINE_config_file(
    'config', None, 'A config file, e.g. configs/synthetic.py.',
    lock_config=True)
_DEVICES = flags.DEFINE_list(
    'devices', ['1', '8'], 'Device counts to measure on; on a CPU, counts '
    'above 1 are fake devices sharing the cores.')
_TRAINERS = flags.DEFINE_list(
    'trainers', ['classifier', 'neutralizer', 'leed'], 'Trainers to time.')
_WARMUP = flags.DEFINE_integer('warmup', 2, 'Untimed steps after compiling.')
_STEPS = flags.DEFINE_integer('steps', 5, 'Timed steps (the median is kept).')
_JSON = flags.DEFINE_string('json', None, 'Also write the figures here.')
_COMPARE = flags.DEFINE_enum(
    'compare', None, ['plain'], 'Also time each step with XLA\'s own '
    'convolutions (plain lowering) and print the speed-up.')
_CHILD = flags.DEFINE_integer('child', 0, 'Internal: measure on this many '
                              'devices in this process, print JSON lines.')
flags.mark_flags_as_required(['config'])


def _class_names(config) -> list[str]:
  return datasets.expression_names(datasets.builder(config.data))


def _trainer(name, config, source):
  if name == 'classifier':
    return classifier_lib.ClassifierTrainer(
        config.classifier, config.data, source,
        num_classes=classifier_lib.num_classes_of(
            config.classifier.label_key, datasets.builder(config.data)),
        name='classifier')
  if name == 'neutralizer':
    return stargan.StarGANTrainer(config.neutralizer, config.data, source,
                                  class_names=_class_names(config))
  if name == 'leed':
    stand_in = _stand_in_cache(config, len(source))
    return leed_lib.LeedTrainer(
        config, lambda: cache_lib.CachedPairs(pipeline.pair_batches(
            source, config.data, config.leed.batch_size), stand_in),
        stand_in.feature_dim, vgg16.load_vgg16_params())
  if name in exprgan_stages.STAGE_NAMES:
    return exprgan_lib.ExprGANTrainer(
        config.exprgan, config.data, source, vgg16.load_vgg16_params(),
        stage=exprgan_stages.STAGE_NAMES[name],
        class_names=_class_names(config))
  raise app.UsageError(
      f'Unknown trainer {name!r}: use classifier, neutralizer, leed or '
      f'one of {tuple(exprgan_stages.STAGE_NAMES)}.')


def _psi(config):
  model = classifier_lib.make_model(config.classifier, 8)
  size = config.data.image_size
  variables = jax.jit(functools.partial(model.init, train=False))(
      jax.random.key(0), jnp.zeros((1, size, size, 3)))
  return functools.partial(classifier_lib.predict, model), variables


def _stand_in_cache(config, count):
  """Zero neutral faces and features of the real shapes, without memory."""
  predict, variables = _psi(config)
  size = config.data.image_size
  feature_dim = jax.eval_shape(predict, variables,
                               jnp.zeros((1, size, size, 3)))[1].shape[-1]
  return cache_lib.Cache(
      neutral=np.broadcast_to(np.zeros((), np.uint8),
                              (count, 2, size, size, 3)),
      features=np.broadcast_to(np.zeros((), np.float32),
                               (count, 2, feature_dim)))


def _images_per_step(name, trainer, config):
  if name == 'neutralizer':
    return trainer.images_per_step
  if name == 'leed':
    return 2 * config.leed.batch_size  # input and reference of each pair
  if name in exprgan_stages.STAGE_NAMES:
    return config.exprgan.batch_size
  return config.classifier.batch_size


def _flops(compiled) -> float:
  analysis = compiled.cost_analysis()
  if isinstance(analysis, (list, tuple)):
    analysis = analysis[0]
  return float(analysis.get('flops', float('nan')))


def _time(function, *args) -> float:
  start = time.perf_counter()
  jax.block_until_ready(function(*args))
  return time.perf_counter() - start


def measure_trainer(name, config, source, mesh,
                    lowering_name: str = 'auto') -> dict:
  """One trainer's step under a convolution lowering ('auto': the
  optimized one on a CPU)."""
  trainer = _trainer(name, config, source)
  batch = sharding.global_batch(next(trainer.batches()), mesh)
  replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())
  rng = jax.device_put(jax.random.key(0), replicated)
  frozen = jax.device_put(trainer.frozen, replicated)
  with lowering.use_lowering(lowering_name):
    state = jax.jit(trainer.init, out_shardings=replicated)(rng, batch)
    start = time.perf_counter()
    compiled = loop.jit_step(trainer, mesh).lower(state, batch, rng,
                                                  frozen).compile()
    compile_seconds = time.perf_counter() - start
    used = lowering.lowering()
  for _ in range(_WARMUP.value):
    state, _ = compiled(state, batch, rng, frozen)
  times = []
  for _ in range(_STEPS.value):
    start = time.perf_counter()
    state, metrics = compiled(state, batch, rng, frozen)
    jax.block_until_ready((state, metrics))
    times.append(time.perf_counter() - start)
  median = statistics.median(times)
  # The cost analysis of an SPMD program is one device's share.
  flops = _flops(compiled) * mesh.size
  return {'trainer': name, 'devices': mesh.size, 'lowering': used,
          'platform': jax.devices()[0].platform,
          'step_seconds': median,
          'images_per_second': _images_per_step(name, trainer, config) / median,
          'gflop_per_step': flops / 1e9,
          'gflop_per_second': flops / 1e9 / median,
          'compile_seconds': compile_seconds}


def measure_cache_savings(config, mesh) -> dict:
  """Per LEED step: G's neutral faces of 2 x batch images plus Psi's
  features of the batch's references, the work the cache stage removes."""
  pairs = config.leed.batch_size
  size = config.data.image_size
  batch_sharding = sharding.batch_sharding(mesh)
  generator = stargan.make_generator(config.neutralizer, 8)
  images = jax.device_put(jnp.zeros((2 * pairs, size, size, 3)),
                          batch_sharding)
  g_variables = jax.jit(generator.init)(
      jax.random.key(0), images[:1], jnp.zeros((1, 8)))
  predict, psi_variables = _psi(config)

  @jax.jit
  def uncached(images):
    neutral = stargan.neutralize(generator, g_variables, images)
    features = predict(psi_variables, images[pairs:])[1]
    return neutral, features

  uncached(images)  # compile
  for _ in range(_WARMUP.value):
    _time(uncached, images)
  median = statistics.median(_time(uncached, images)
                             for _ in range(_STEPS.value))
  return {'trainer': 'cache_savings', 'devices': mesh.size,
          'platform': jax.devices()[0].platform,
          'step_seconds': median}


def _child(config, num_devices):
  mesh = sharding.make_mesh(num_devices)
  builder = datasets.prepare(config.data)
  train, _ = datasets.split_names(config.data)
  source = builder.as_data_source(train)
  for name in _TRAINERS.value:
    if _COMPARE.value:
      print(json.dumps(measure_trainer(name, config, source, mesh,
                                       _COMPARE.value)), flush=True)
    print(json.dumps(measure_trainer(name, config, source, mesh)), flush=True)
  if 'leed' in _TRAINERS.value:
    print(json.dumps(measure_cache_savings(config, mesh)), flush=True)


def _run_child(num_devices: int) -> list[dict]:
  env = dict(os.environ)
  if jax.default_backend() == 'cpu':
    env['XLA_FLAGS'] = (env.get('XLA_FLAGS', '') + ' --xla_force_host_'
                        f'platform_device_count={num_devices}')
  argv = [arg for arg in sys.argv[1:] if not arg.startswith('--json')]
  result = subprocess.run(
      [sys.executable, '-m', 'leedjax.bench', *argv,
       f'--child={num_devices}'], env=env, capture_output=True, text=True,
      check=False)
  if result.returncode:
    sys.stderr.write(result.stderr[-4000:])
    raise SystemExit(f'bench: the run on {num_devices} device(s) failed.')
  return [json.loads(line) for line in result.stdout.splitlines()
          if line.startswith('{')]


def _table(rows: list[dict]) -> str:
  width = max([13] + [len(row['trainer']) + 1 for row in rows])
  lines = [f'{"trainer":<{width}}{"devices":>8}{"lowering":>11}{"step ms":>10}'
           f'{"images/s":>10}{"GFLOP/step":>12}{"GFLOP/s":>10}'
           f'{"compile s":>11}']
  leed_steps = {row['devices']: row['step_seconds'] for row in rows
                if row['trainer'] == 'leed'}
  for row in rows:
    if row['trainer'] == 'cache_savings':
      share = row['step_seconds'] / leed_steps[row['devices']]
      lines.append(f'{"cache saves":<{width}}{row["devices"]:>8}{"":>11}'
                   f'{1e3 * row["step_seconds"]:>10.1f}  ms a LEED step '
                   f'({100 * share:.0f}% of its step time)')
      continue
    lines.append(
        f'{row["trainer"]:<{width}}{row["devices"]:>8}{row["lowering"]:>11}'
        f'{1e3 * row["step_seconds"]:>10.1f}'
        f'{row["images_per_second"]:>10.1f}{row["gflop_per_step"]:>12.2f}'
        f'{row["gflop_per_second"]:>10.1f}{row["compile_seconds"]:>11.1f}')
  return '\n'.join(lines + _speed_ups(rows))


def _speed_ups(rows: list[dict]) -> list[str]:
  """'trainer on N devices: optimized 2.41x faster than plain' for every
  trainer timed under both lowerings."""
  by_lowering = {}
  for row in rows:
    if 'lowering' in row:
      by_lowering.setdefault((row['trainer'], row['devices']), {})[
          row['lowering']] = row['step_seconds']
  lines = []
  for (trainer, devices), seconds in by_lowering.items():
    if {'plain', 'optimized'} <= set(seconds):
      lines.append(f'{trainer} on {devices} device(s): optimized '
                   f'{seconds["plain"] / seconds["optimized"]:.2f}x faster '
                   f'than plain ({1e3 * seconds["optimized"]:.1f} ms vs '
                   f'{1e3 * seconds["plain"]:.1f} ms)')
  return lines


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  cli.quiet_library_logs()
  tfds.disable_progress_bar()
  config = _CONFIG.value
  if _CHILD.value:
    cli.guarded(lambda: _child(config, _CHILD.value),
                program='leedjax.bench (child)')
    return
  counts = [int(count) for count in _DEVICES.value]
  if jax.default_backend() != 'cpu' and any(
      count > jax.device_count() for count in counts):
    raise app.UsageError(f'--devices={_DEVICES.value}: this machine has '
                         f'{jax.device_count()} {jax.default_backend()} '
                         'device(s).')

  def measure_and_print():
    rows = [row for count in counts for row in _run_child(count)]
    print(f'{config.data.dataset} {config.data.image_size}px on '
          f'{jax.devices()[0].device_kind} ({jax.default_backend()}); median '
          f'of {_STEPS.value} steps after {_WARMUP.value} warm-up steps')
    print(_table(rows))
    if _JSON.value:
      files.write_text(_JSON.value, json.dumps(rows, indent=2))

  cli.guarded(measure_and_print, program='leedjax.bench')


if __name__ == '__main__':
  app.run(main, flags_parser=cli.flags_parser('Invalid command line'))

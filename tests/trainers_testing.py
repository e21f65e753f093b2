"""Helpers shared by the trainer tests (tests/test_trainer_*.py)."""

import functools
import os
import subprocess
import sys

import jax
import numpy as np
import optax

from configs import default
from leedjax.data import synthfaces
from leedjax.trainers.state import TrainState

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
IMAGE_SIZE = 32


@functools.lru_cache
def tiny_source(num_subjects: int = 3, angles=(-45.0, 0.0),
                size: int = IMAGE_SIZE) -> list[dict]:
  """SynthFaces records in memory, shaped like the TFDS split's records.

  Rendered directly (no TFDS build): every expression of a few subjects at
  full intensity. Cached: the trainer tests share one render (the renderer
  compiles once per batch shape); do not modify the records.
  """
  catalog = synthfaces.Catalog(synthfaces.CatalogSpec(
      num_subjects=num_subjects, intensities=(1.0,), angles=tuple(angles)))
  rows = np.arange(len(catalog))
  images = catalog.render(rows, size)
  return [{'image': images[row], 'subject': catalog.subject[row],
           'expression': catalog.expression[row],
           'angle': catalog.angle[row], 'catalog_row': row} for row in rows]


def tiny_data_config():
  """config.data for in-memory sources: no flips (deterministic batches)."""
  data = default.get_config().data
  data.image_size = IMAGE_SIZE
  data.flip = False
  data.prefetch = 0
  return data


# Little LLVM optimisation: a tiny network's step compiles in ~60% of the
# time; the tests run a few steps. XLA:CPU's older fusion code generator
# compiles LEED's tiny step in a third of the time of the MLIR emitters.
FAST_COMPILE = {'xla_backend_optimization_level': 0,
                'xla_llvm_disable_expensive_passes': True,
                'xla_cpu_use_fusion_emitters': False}


def jit(fun, **kwargs):
  """`jax.jit` with `FAST_COMPILE`."""
  return jax.jit(fun, compiler_options=FAST_COMPILE, **kwargs)


def loop_step(trainer):
  """The trainer's step as the loop runs it: jitted, with the trainer's
  frozen parameters, advancing `state.step`."""

  def step(state, batch, rng):
    new_state, metrics = trainer.train_step(state, batch, rng, trainer.frozen)
    return new_state.replace(step=state.step + 1), metrics

  return jit(step)


def init_key(seed: int = 0) -> jax.Array:
  """The key the tests trace `trainer.init` with."""
  return jax.random.key(seed)


def fast_init(trainer, batch, seed: int = 0) -> TrainState:
  """`trainer.init`'s state, traced only (`jax.eval_shape`), with variables
  filled from numpy: He-normal kernels, zero biases and running means, unit
  scales and running variances. Compiling flax's initialisers takes ~20 s
  per trainer on two CPU cores (threefry keys; ~3 s with 'rbg' keys);
  `test_init_*` checks the traced structure."""
  abstract = jax.eval_shape(trainer.init, init_key(seed), batch)
  rng = np.random.default_rng(seed)

  def fill(path, leaf):
    name = path[-1].key
    if name in ('bias', 'mean'):
      return np.zeros(leaf.shape, leaf.dtype)
    if name in ('scale', 'var'):
      return np.ones(leaf.shape, leaf.dtype)
    fan_in = int(np.prod(leaf.shape[:-1]))
    return (rng.standard_normal(leaf.shape) *
            np.sqrt(2.0 / fan_in)).astype(leaf.dtype)

  variables = {
      name: {'params': abstract.params[name],
             'batch_stats': abstract.batch_stats[name]}
      for name in abstract.params}
  return TrainState.create(jax.tree.map_with_path(fill, variables),
                           abstract.optimizers)


def sgd_state(state: TrainState, learning_rate: float = 0.1) -> TrainState:
  """The same variables with plain SGD for every net.

  An update is then linear in the gradient, so two computations of one step
  can be compared tightly (Adam's first update is lr * sign(g): where g is
  ~0, rounding flips it). The optimizers keep an update count.
  """
  names = tuple(state.params)
  return TrainState.create(
      {name: state.variables(name) for name in names},
      {name: optax.sgd(lambda count: learning_rate) for name in names})


def update_counts(opt_state) -> set[int]:
  """The distinct optax update counters in an optimizer state."""
  return {int(leaf) for path, leaf in
          jax.tree_util.tree_leaves_with_path(opt_state)
          if 'count' in jax.tree_util.keystr(path)}


def save_arrays(path, **trees) -> None:
  """Saves pytrees of arrays (leaves in tree order) to an .npz file."""
  arrays = {}
  for name, tree in trees.items():
    for index, leaf in enumerate(jax.tree.leaves(tree)):
      arrays[f'{name}/{index:05d}'] = np.asarray(leaf)
  np.savez(path, **arrays)


def load_leaves(path, name: str) -> list[np.ndarray]:
  """The leaves of one tree saved by `save_arrays`, in tree order."""
  with np.load(path) as data:
    keys = sorted(key for key in data.files if key.startswith(name + '/'))
    return [data[key] for key in keys]


def assert_finite_scalars(metrics, names) -> None:
  assert set(names) <= set(metrics), sorted(set(names) - set(metrics))
  for name, value in metrics.items():
    assert value.shape == () and value.dtype == np.float32, name
    assert np.isfinite(float(value)), (name, value)


def tree_equal(a, b) -> bool:
  return all(jax.tree.leaves(jax.tree.map(
      lambda x, y: bool(np.array_equal(np.asarray(x), np.asarray(y))), a, b)))


def run_with_devices(script: str, num_devices: int = 2,
                     timeout: int = 180) -> str:
  """Runs a Python script in a fresh process with fake CPU devices (the
  flag must be set before jax initialises); returns its stdout."""
  env = dict(os.environ, JAX_PLATFORMS='cpu',
             XLA_FLAGS=f'--xla_force_host_platform_device_count={num_devices}',
             PYTHONPATH=os.pathsep.join(filter(None, [
                 REPO_ROOT, os.environ.get('PYTHONPATH')])))
  result = subprocess.run([sys.executable, '-c', script], env=env,
                          capture_output=True, text=True, timeout=timeout,
                          check=False)
  assert result.returncode == 0, result.stderr[-3000:]
  return result.stdout

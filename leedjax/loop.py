"""The step loop shared by every trainer.

It knows no losses: a `Trainer` (trainers/base.py) supplies batches, init and
a pure step. The loop owns the rest:

- mesh and shardings: batches split over the `data` axis, the state
  replicated, its old buffers donated; `rng = fold_in(base_rng, step)`;
- resumption: an orbax checkpoint holds the state, the rng and the input
  iterator's state, so a run killed at any moment and started again ends with
  the parameters of a run never interrupted;
- SIGTERM (preemption): save, then exit;
- NaN/inf in any metric: stop with a message naming it and the step; the last
  checkpoint saved is from before it (metrics are checked before every save);
- metrics averaged over each logging interval (clu.metrics), written to
  TensorBoard and JSON lines, with a progress bar; sample images at intervals.
"""

import functools
import pathlib
import re
import signal
import sys
import time
import zlib

from absl import logging
from clu import metrics as clu_metrics
import jax
from jax.experimental import multihost_utils
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import ml_collections
import numpy as np
import tqdm

from leedjax import checkpoints
from leedjax import metric_writers
from leedjax.data import sharding
from leedjax.trainers import base
from leedjax.trainers.state import TrainState


class NonFiniteError(RuntimeError):
  """A metric became NaN or infinite; training stopped."""


class Preempted(Exception):
  """SIGTERM arrived; a checkpoint was saved and the run should exit."""


class _TermSignal:
  """Records SIGTERM instead of dying at once, so the loop can save first."""

  def __init__(self):
    self.received = False

  def __enter__(self):
    self._previous = signal.signal(signal.SIGTERM, self._handle)
    return self

  def _handle(self, signum, frame):
    del signum, frame
    self.received = True

  def __exit__(self, *exc):
    signal.signal(signal.SIGTERM, self._previous)

  def preempted(self, step: int) -> bool:
    if jax.process_count() > 1:  # every host must stop at the same step
      try:
        return multihost_utils.reached_preemption_sync_point(step)
      except RuntimeError:  # no preemption service: fall back to the signal
        pass
    return self.received


def _field(name: str) -> str:
  """A metric name as a Python identifier (clu's collections are dataclasses;
  'grad_norm/encoder' becomes 'grad_norm__encoder')."""
  return re.sub(r'\W', '__', name)


class _Averages:
  """Means of each metric over a logging interval (clu.metrics.Average)."""

  def __init__(self, names):
    self.names = {_field(name): name for name in names}
    self.collection = clu_metrics.Collection.create(**{
        field: clu_metrics.Average.from_output(field) for field in self.names})
    self.accumulated = None

  def add(self, metrics):
    update = self.collection.single_from_model_output(
        **{_field(name): value for name, value in metrics.items()})
    self.accumulated = (update if self.accumulated is None
                        else self.accumulated.merge(update))

  def pop(self) -> dict[str, float]:
    means = {self.names[field]: float(value)
             for field, value in self.accumulated.compute().items()}
    self.accumulated = None
    return means


def _first_non_finite(pending: list[tuple[int, dict]]):
  """(step, name, value) of the first non-finite metric, or None."""
  for step, metrics in jax.device_get(pending):
    for name, value in sorted(metrics.items()):
      if not np.all(np.isfinite(value)):
        return step, name, value
  return None


def _step(trainer: base.Trainer, state: TrainState, batch: base.Batch,
          base_rng: jax.Array, frozen):
  rng = jax.random.fold_in(base_rng, state.step)
  new_state, metrics = trainer.train_step(state, batch, rng, frozen)
  return new_state.replace(step=state.step + 1), metrics


def jit_step(trainer: base.Trainer, mesh: jax.sharding.Mesh):
  """The trainer's step as the loop runs it: `(state, global_batch,
  base_rng, frozen) -> (state, metrics)`, the batch split over the mesh's
  `data` axis, everything else replicated, the old state donated."""
  replicated = NamedSharding(mesh, P())
  return jax.jit(
      functools.partial(_step, trainer),
      in_shardings=(replicated, sharding.batch_sharding(mesh), replicated,
                    replicated),
      out_shardings=(replicated, replicated),
      donate_argnums=(0,))


class _Run:
  """One stage's training: the state, its checkpoints and its writers."""

  def __init__(self, trainer: base.Trainer,
               stage_config: ml_collections.ConfigDict,
               stage_dir: pathlib.Path, mesh: jax.sharding.Mesh, seed: int,
               step: int | None = None):
    self.trainer, self.config, self.mesh = trainer, stage_config, mesh
    self.replicated = NamedSharding(mesh, P())
    # crc32, not hash(): Python salts str hashes per process.
    self.rng = jax.random.fold_in(jax.random.key(seed),
                                  zlib.crc32(trainer.name.encode()))
    init_rng, self.rng = jax.random.split(self.rng)
    # Replicated like the state: orbax saves no process-local array in a
    # multi-process job.
    init_rng, self.rng = sharding.replicate((init_rng, self.rng), mesh)
    self.batches = trainer.batches()
    # A fixed batch for shapes and samples.
    self.sample_batch = sharding.global_batch(
        trainer.sample_batch() if hasattr(trainer, 'sample_batch')
        else next(trainer.batches()), mesh)
    self.frozen = sharding.replicate(getattr(trainer, 'frozen', None), mesh)
    self.checkpoints = checkpoints.StageCheckpoints(
        stage_dir / 'checkpoints', keep=stage_config.keep_checkpoints)
    if self.checkpoints.latest_step() is None:
      # A stage that continues an earlier one starts from its networks,
      # passed in as arrays (not baked into a compiled init as constants).
      initial = getattr(trainer, 'initial_state', lambda: None)()
      self.state = (
          sharding.replicate(initial, mesh) if initial is not None
          else jax.jit(trainer.init, out_shardings=self.replicated)(
              init_rng, self.sample_batch))
    else:
      abstract = jax.tree.map(
          lambda leaf: jax.ShapeDtypeStruct(leaf.shape, leaf.dtype,
                                            sharding=self.replicated),
          jax.eval_shape(trainer.init, init_rng, self.sample_batch))
      self.state, self.rng, data_state = self.checkpoints.restore(
          abstract, self.rng, step=step)
      if data_state is not None:
        self.batches.set_state(data_state)
      logging.info('%s: resumed from step %d.', trainer.name,
                   int(self.state.step))
    self.start = int(self.state.step)
    self.stage_dir = stage_dir
    self.writer = None  # opened by `loop`
    self.step_fn = jit_step(trainer, mesh)
    self.pending = []  # (step, metrics) not yet checked for NaN/inf

  def check_finite(self):
    bad = _first_non_finite(self.pending)
    self.pending = []
    if bad is not None:
      step, name, value = bad
      last = self.checkpoints.latest_step()
      kept = ('no checkpoint was saved before it' if last is None else
              f'the last good checkpoint (step {last}) is kept')
      raise NonFiniteError(
          f'{self.trainer.name}: {name} is {value} at step {step}; training '
          f'stopped and {kept}. Lower the learning rate or check the '
          'inputs, then run again.')

  def save(self, step: int, force: bool = False):
    self.check_finite()
    self.checkpoints.save(step, self.state, self.rng,
                          self.batches.get_state(), force=force)

  def write_samples(self, step: int):
    grids = self.trainer.samples(self.state, self.sample_batch)
    if jax.process_count() > 1:
      # Rows computed from the sharded sample batch span every process's
      # devices: all processes gather them (a collective); process 0 writes.
      grids = multihost_utils.process_allgather(grids, tiled=True)
    if grids:
      self.writer.write_images(step, {
          name: grid.picture() for name, grid in grids.items()})

  def loop(self) -> TrainState:
    cfg, total = self.config, self.trainer.num_steps
    self.writer = metric_writers.MetricWriter(self.stage_dir,
                                              resume_step=self.start)
    averages = None
    progress = tqdm.tqdm(
        total=total, initial=self.start, unit='step', dynamic_ncols=True,
        desc=self.trainer.name, mininterval=1.0 if sys.stderr.isatty() else 30,
        disable=jax.process_index() != 0)
    tick, ticked_step = time.perf_counter(), self.start
    with _TermSignal() as term:
      for step in range(self.start + 1, total + 1):
        batch = sharding.global_batch(next(self.batches), self.mesh)
        self.state, metrics = self.step_fn(self.state, batch, self.rng,
                                           self.frozen)
        # The metrics are replicated scalars: their copy on this process's
        # first device holds them whole. Averaging them there keeps clu's
        # eager arithmetic off the mesh, where each op would be a program
        # over every process's devices (seen to hang a two-process job).
        metrics = jax.tree.map(lambda value: value.addressable_data(0),
                               metrics)
        self.pending.append((step, metrics))
        if averages is None:
          averages = _Averages(metrics)
        averages.add(metrics)
        progress.update()
        last = step == total
        if step % cfg.log_every == 0 or last:
          self.check_finite()
          scalars = averages.pop()
          now = time.perf_counter()
          scalars['steps_per_second'] = (step - ticked_step) / (now - tick)
          tick, ticked_step = now, step
          self.writer.write_scalars(step, scalars)
          progress.set_postfix({name: f'{value:.3g}' for name, value in
                                list(scalars.items())[:3]}, refresh=False)
        if step % cfg.sample_every == 0 or last:
          self.write_samples(step)
        preempted = term.preempted(step)
        if step % cfg.checkpoint_every == 0 or last or preempted:
          self.save(step, force=preempted or last)
        if preempted:
          self.checkpoints.wait()
          progress.close()
          raise Preempted(f'{self.trainer.name}: SIGTERM received; saved a '
                          f'checkpoint at step {step}. Run the same command '
                          'to resume.')
    progress.close()
    self.checkpoints.wait()
    return self.state

  def close(self):
    self.checkpoints.wait()
    self.checkpoints.close()
    if self.writer is not None:
      self.writer.close()


def train(trainer: base.Trainer, stage_config: ml_collections.ConfigDict,
          stage_dir: pathlib.Path, *, mesh: jax.sharding.Mesh,
          seed: int) -> TrainState:
  """Trains `trainer` to `trainer.num_steps`, resuming from its checkpoints.

  Args:
    trainer: the system to train.
    stage_config: the stage's config section (log_every, sample_every,
      checkpoint_every, keep_checkpoints).
    stage_dir: the stage's directory (checkpoints/, tensorboard/,
      metrics.jsonl, samples/).
    mesh: the data-parallel mesh.
    seed: the run's seed (the stage's rng is derived from it).

  Returns:
    The final state (replicated over the mesh).

  Raises:
    NonFiniteError: a metric became NaN or infinite.
    Preempted: SIGTERM arrived; a checkpoint was saved first.
  """
  run = _Run(trainer, stage_config, stage_dir, mesh, seed)
  try:
    if run.start >= trainer.num_steps:
      return run.state
    return run.loop()
  finally:
    run.close()


def restore_final(trainer: base.Trainer, stage_config, stage_dir: pathlib.Path,
                  *, mesh: jax.sharding.Mesh, seed: int,
                  step: int | None = None) -> TrainState | None:
  """The final state of a finished stage (None if it has not finished), or
  the state its checkpoint of `step` saved (`checkpoints.saved_steps`)."""
  if step is not None and step not in checkpoints.saved_steps(
      stage_dir / 'checkpoints'):
    raise ValueError(f'{stage_dir} kept no checkpoint of step {step}.')
  run = _Run(trainer, stage_config, stage_dir, mesh, seed, step=step)
  try:
    if step is not None or run.start >= trainer.num_steps:
      return run.state
    return None
  finally:
    run.close()

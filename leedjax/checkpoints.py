"""Orbax checkpoints of a stage: train state, rng and input-iterator state.

One `CheckpointManager` per stage, saving asynchronously and keeping the last
few. Orbax writes each checkpoint to a temporary directory and renames it
when complete, so a process killed mid-save (even `kill -9`) leaves the last
complete checkpoint as the latest one; restore ignores the partial one.
"""

import pathlib
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp

PyTree = Any


class StageCheckpoints:
  """Saves and restores `{'state', 'rng'}` plus the data iterator's state."""

  def __init__(self, directory: pathlib.Path, *, keep: int,
               asynchronous: bool = True):
    self.manager = ocp.CheckpointManager(
        directory.absolute(),
        options=ocp.CheckpointManagerOptions(
            max_to_keep=keep, create=True, cleanup_tmp_directories=True,
            enable_async_checkpointing=asynchronous))

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def save(self, step: int, state: PyTree, rng: jax.Array,
           data_state: dict | None, *, force: bool = False) -> None:
    """Starts saving; returns once the arrays are copied off the devices."""
    items = {'train': ocp.args.StandardSave(
        {'state': state, 'rng': jax.random.key_data(rng)})}
    if data_state is not None:
      items['data'] = ocp.args.JsonSave(data_state)
    self.manager.save(step, args=ocp.args.Composite(**items), force=force)

  def restore(self, abstract_state: PyTree, rng: jax.Array,
              step: int | None = None) -> tuple[PyTree, jax.Array, dict | None]:
    """The state (shaped and sharded like `abstract_state`), rng and data
    iterator state of `step` (default: the latest)."""
    step = self.latest_step() if step is None else step
    rng_data = jax.eval_shape(jax.random.key_data, rng)
    abstract = {'state': abstract_state,
                'rng': jax.ShapeDtypeStruct(rng_data.shape, rng_data.dtype,
                                            sharding=rng.sharding)}
    items = {'train': ocp.args.StandardRestore(abstract)}
    if 'data' in self._item_names(step):
      items['data'] = ocp.args.JsonRestore()
    restored = self.manager.restore(step, args=ocp.args.Composite(**items))
    train = restored['train']
    rng = jax.random.wrap_key_data(train['rng'],
                                   impl=jax.random.key_impl(rng))
    return train['state'], rng, restored.get('data')

  def _item_names(self, step: int) -> set[str]:
    step_dir = pathlib.Path(self.manager.directory) / str(step)
    return {path.name for path in step_dir.iterdir() if path.is_dir()}

  def wait(self) -> None:
    self.manager.wait_until_finished()

  def close(self) -> None:
    self.manager.close()


def saved_steps(directory: pathlib.Path) -> list[int]:
  """The steps of the complete checkpoints in a stage's checkpoint
  directory, in order (orbax names a complete one by its step, a partial one
  with a temporary suffix); empty if there is none."""
  directory = pathlib.Path(directory).expanduser()
  if not directory.is_dir():
    return []
  return sorted(int(path.name) for path in directory.iterdir()
                if path.name.isdigit())


def read_as_numpy(directory: pathlib.Path, step: int | None = None) -> dict:
  """`{'state', 'rng'}` of a stage's checkpoint as numpy arrays, whatever
  devices saved it and without building the trainer (default: the latest
  step).

  The path may be relative: orbax reads no metadata through one, so it is
  made absolute here (as `StageCheckpoints` does).
  """
  directory = pathlib.Path(directory).expanduser().absolute()
  path = directory / str(saved_steps(directory)[-1] if step is None
                         else step) / 'train'
  checkpointer = ocp.PyTreeCheckpointer()
  tree = checkpointer.metadata(path).item_metadata.tree
  as_numpy = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray),
                          tree)
  return checkpointer.restore(path, restore_args=as_numpy)


def net_variables(state: dict, name: str) -> dict:
  """One net's flax variables from a `read_as_numpy` state: its params,
  and its batch_stats where it has any."""
  variables = {'params': state['params'][name]}
  if state.get('batch_stats', {}).get(name):
    variables['batch_stats'] = state['batch_stats'][name]
  return variables

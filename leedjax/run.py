"""Runs the stages a config lists, each in its own subdirectory of the workdir.

A stage that finished writes `<workdir>/<stage>/done.json` (atomically) with
its summary; running the same command again skips it. So an interrupted run
started again with the same command continues where it stopped.
"""

import dataclasses
import json
import pathlib
import time
from typing import Any, Callable

from absl import logging
import jax
import ml_collections

from leedjax import config_checks
from leedjax import files
from leedjax.data import tfds_synthfaces

DONE_FILE = 'done.json'


@dataclasses.dataclass
class Context:
  """What stages hand to the stages after them."""
  config: ml_collections.ConfigDict
  workdir: pathlib.Path
  outputs: dict[str, Any] = dataclasses.field(default_factory=dict)


def _data_stage(context: Context, stage_dir: pathlib.Path) -> dict[str, Any]:
  """Renders (or finds) the dataset and records its splits."""
  del stage_dir
  data = context.config.data
  builder = tfds_synthfaces.prepare(data)
  context.outputs['builder'] = builder
  splits = builder.info.splits
  train, test = tfds_synthfaces.split_names(data)
  return {
      'dataset': builder.name,
      'builder_config': builder.builder_config.name,
      'data_dir': str(builder.data_dir),
      'train_split': train,
      'test_split': test,
      'num_train': splits[train].num_examples,
      'num_test': splits[test].num_examples,
      'bytes': sum(split.num_bytes for split in splits.values()),
  }


# Stage name -> function(context, stage_dir) -> JSON-able summary. A stage
# must be safe to run again after an interruption, and must leave in
# `context.outputs` what later stages need even when it was already done.
STAGES: dict[str, Callable[[Context, pathlib.Path], dict[str, Any]]] = {
    'data': _data_stage,
}
# Stages that run (cheaply) again even when done, to fill `context.outputs`.
ALWAYS_RUN = ('data',)


def _is_writer() -> bool:
  return jax.process_index() == 0


def run(config: ml_collections.ConfigDict, workdir: str) -> dict[str, Any]:
  """Checks the config, then runs every stage it lists that is not done.

  Args:
    config: the run's config (see configs/default.py).
    workdir: directory for every stage's outputs; created if missing.

  Returns:
    {stage: summary} for every stage of the config.
  """
  config_checks.check(config, num_devices=jax.device_count(),
                      num_processes=jax.process_count(),
                      known_stages=tuple(STAGES))
  root = pathlib.Path(workdir).expanduser()
  if _is_writer():
    root.mkdir(parents=True, exist_ok=True)
    files.write_text(root / 'config.json', config.to_json_best_effort(
        indent=2, sort_keys=True))
  context = Context(config=config, workdir=root)
  summaries = {}
  for name in config.stages:
    stage_dir = root / name
    done = stage_dir / DONE_FILE
    if done.is_file() and name not in ALWAYS_RUN:
      summaries[name] = json.loads(done.read_text())
      logging.info('Stage %s: already done, skipped.', name)
      continue
    start = time.perf_counter()
    logging.info('Stage %s: starting.', name)
    summary = STAGES[name](context, stage_dir)
    if not done.is_file():
      summary['wall_seconds'] = round(time.perf_counter() - start, 3)
    else:  # a cheap re-run of a finished stage keeps its first timing
      summary['wall_seconds'] = json.loads(done.read_text())['wall_seconds']
    if _is_writer():
      files.write_text(done, json.dumps(summary, indent=2, sort_keys=True))
    summaries[name] = summary
    logging.info('Stage %s: done in %.1f s.', name, summary['wall_seconds'])
  return summaries

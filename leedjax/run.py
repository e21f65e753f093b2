"""Runs the stages a config lists, each in its own subdirectory of the workdir.

A stage that finished writes `<workdir>/<stage>/done.json` (atomically) with
its summary; running the same command again loads it instead of redoing it,
and resumes an unfinished one from its checkpoints. So an interrupted run
started again with the same command continues where it stopped.
"""

import json
import pathlib
import time
from typing import Any

import jax
import ml_collections

from leedjax import config_checks
from leedjax import files
from leedjax.data import sharding
from leedjax.stages import Context
from leedjax.stages import cache
from leedjax.stages import classifier
from leedjax.stages import data
from leedjax.stages import evaluate
from leedjax.stages import exprgan
from leedjax.stages import leed
from leedjax.stages import neutralizer

DONE_FILE = 'done.json'


class NotTrainedError(RuntimeError):
  """`--mode=evaluate` on a workdir whose training stages have not finished."""

# Stage name -> (run, load). `run(context, stage_dir)` does the work (resuming
# from checkpoints) and returns a JSON-able summary; `load(context,
# stage_dir)` puts a finished stage's outputs into `context.outputs`.
STAGES = {
    'data': (data.run, data.load),
    'classifier': (classifier.run, classifier.load),
    'neutralizer': (neutralizer.run, neutralizer.load),
    'cache': (cache.run, cache.load),
    'leed': (leed.run, leed.load),
    **leed.ABLATION_STAGES,
    **exprgan.STAGES,
    'identity_judge': (classifier.run_judge, classifier.load_judge),
    'evaluate': (evaluate.run, evaluate.load),
}


def _is_writer() -> bool:
  return jax.process_index() == 0


def _say(message: str) -> None:
  if _is_writer():
    print(message, flush=True)


def run(config: ml_collections.ConfigDict, workdir: str, *,
        evaluate_only: bool = False) -> dict[str, Any]:
  """Checks the config, then runs every stage it lists that is not done.

  Args:
    config: the run's config (see configs/default.py).
    workdir: directory for every stage's outputs; created if missing.
    evaluate_only: load every stage before `evaluate`, which must have
      finished, and run `evaluate` again even if it is done.

  Returns:
    {stage: summary} for every stage of the config.

  Raises:
    NotTrainedError: `evaluate_only` and a stage before `evaluate` has not
      finished (or the config lists no `evaluate`).
  """
  config_checks.check(config, num_devices=jax.device_count(),
                      num_processes=jax.process_count(),
                      known_stages=tuple(STAGES))
  root = pathlib.Path(workdir).expanduser()
  if evaluate_only:
    _check_trained(config, root)
  if _is_writer():
    root.mkdir(parents=True, exist_ok=True)
    files.write_text(root / 'config.json', config.to_json_best_effort(
        indent=2, sort_keys=True))
  context = Context(config=config, workdir=root, mesh=sharding.make_mesh())
  summaries = {}
  for name in config.stages:
    stage_run, stage_load = STAGES[name]
    stage_dir = root / name
    done = stage_dir / DONE_FILE
    if done.is_file() and not (evaluate_only and name == 'evaluate'):
      stage_load(context, stage_dir)
      summaries[name] = json.loads(done.read_text())
      _say(f'Stage {name}: already done.')
      continue
    start = time.perf_counter()
    _say(f'Stage {name}: starting.')
    summary = stage_run(context, stage_dir)
    summary['wall_seconds'] = round(time.perf_counter() - start, 3)
    if _is_writer():
      files.write_text(done, json.dumps(summary, indent=2, sort_keys=True))
    summaries[name] = summary
    _say(f'Stage {name}: done in {summary["wall_seconds"]:.1f} s.')
  return summaries


def _check_trained(config: ml_collections.ConfigDict,
                   root: pathlib.Path) -> None:
  stages = tuple(config.stages)
  if 'evaluate' not in stages:
    raise NotTrainedError(f'config.stages={stages} has no evaluate stage.')
  missing = [name for name in stages[:stages.index('evaluate')]
             if not (root / name / DONE_FILE).is_file()]
  if missing:
    raise NotTrainedError(
        f'{root} has not finished the stages {missing}; train first: '
        f'python -m leedjax.main --config=... --workdir={root}')

"""Runs every stage of a config: `python -m leedjax.main --config=... --workdir=...`.

  python -m leedjax.main --config=configs/synthetic.py --workdir=runs/synth
  python -m leedjax.main --config=configs/synthetic.py:smoke --workdir=/tmp/s \
      --config.leed.batch_size=16

Started again with the same command, a run skips what is done and resumes
what is not. On a multi-host slice, pass --multihost on every host.

`--mode=export` writes the trained editor of the workdir with `jax.export`
(see leedjax/export.py) instead of training. `--mode=evaluate` evaluates a
trained workdir again (report.md, report.json, figures; see
leedjax/stages/evaluate.py); `--judge=fer` adds fer's real-face expression
classifier as a second judge.
"""

import json

from absl import app
from absl import flags
import jax
from ml_collections import config_flags
import tensorflow_datasets as tfds

from leedjax import api
from leedjax import cli
from leedjax import config_checks
from leedjax import distributed
from leedjax import export
from leedjax import loop
from leedjax import run
from leedjax.data import datasets
from leedjax.weights import assets

# Exit statuses: 2 a config or data the run cannot start with; 1 training
# diverged; 75 (EX_TEMPFAIL) preempted, so a scheduler requeues the job and
# the same command resumes it; 70 a bug (leedjax.cli writes a crash log).
EXIT_DIVERGED = 1
EXIT_BAD_INPUT = cli.EXIT_BAD_INPUT
EXIT_PREEMPTED = 75

_CONFIG = config_flags.DEFINE_config_file(
    'config', None, 'A config file, e.g. configs/synthetic.py[:smoke].',
    lock_config=True)
_WORKDIR = flags.DEFINE_string('workdir', None, 'Directory for all outputs.')
_MODE = flags.DEFINE_enum(
    'mode', 'train', ['train', 'evaluate', 'export'],
    'train: run the config\'s stages; evaluate: run the evaluate stage again '
    'on a trained workdir; export: serialize the workdir\'s trained editor '
    'with jax.export.')
_JUDGE = flags.DEFINE_multi_enum(
    'judge', [], ['fer'], 'Extra judges of the edits\' expressions (adds to '
    'config.evaluate.judges): fer, the real-face classifier, for photos.')
_MULTIHOST = flags.DEFINE_bool(
    'multihost', False, 'Join a multi-process job first (TPU pods, Slurm '
    'GPU clusters, or JAX_COORDINATOR_ADDRESS, JAX_NUM_PROCESSES and '
    'JAX_PROCESS_ID; see launch/).')
flags.mark_flags_as_required(['config', 'workdir'])


# Errors a user can act on: (types, message prefix, exit status); the
# message is printed without a traceback.
_ERROR_EXITS = (
    (run.NotTrainedError, 'Cannot evaluate', EXIT_BAD_INPUT),
    (api.EditorNotFoundError, 'Cannot export', EXIT_BAD_INPUT),
    (config_checks.ConfigError, 'Invalid config', EXIT_BAD_INPUT),
    (datasets.DatasetError, 'Dataset unusable', EXIT_BAD_INPUT),
    (distributed.DistributedError, 'Cannot join the multi-process job',
     EXIT_BAD_INPUT),
    ((assets.MissingWeightsError, assets.CorruptWeightsError),
     'Pretrained weights unusable', EXIT_BAD_INPUT),
    (loop.NonFiniteError, 'Training diverged', EXIT_DIVERGED),
    (loop.Preempted, 'Preempted', EXIT_PREEMPTED),
)


def _train_evaluate_or_export(workdir) -> None:
  if _MULTIHOST.value:
    distributed.initialize()
  tfds.disable_progress_bar()
  if _MODE.value == 'export':
    path = export.export_editor(workdir)
    print(f'Wrote {path} (signature: {path.with_suffix(".json")}).')
    return
  config = cli.loaded_config(_CONFIG)
  if _JUDGE.value:
    with config.unlocked():
      config.evaluate.judges = tuple(dict.fromkeys(
          (*config.evaluate.judges, *_JUDGE.value)))
  summaries = run.run(config, workdir,
                      evaluate_only=_MODE.value == 'evaluate')
  if jax.process_index() == 0:
    print(f'Done: {", ".join(summaries)}. Each stage\'s summary is in '
          f'{workdir}/STAGE/done.json.')
    if 'evaluate' in summaries:
      results = json.loads((workdir / 'results.json').read_text())
      print(f'Results ({workdir / "results.json"}):')
      print(json.dumps(results, indent=2, sort_keys=True))


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  cli.quiet_library_logs()
  workdir = cli.user_path(_WORKDIR.value)
  cli.guarded(lambda: _train_evaluate_or_export(workdir),
              program='leedjax.main', errors=_ERROR_EXITS, log_dir=workdir)


if __name__ == '__main__':
  app.run(main, flags_parser=cli.flags_parser('Invalid command line'))

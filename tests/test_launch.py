"""The launch scripts of launch/: their argument handling, the command
`tpu_pod.sh` sends to every TPU host, and `slurm_gpu.sbatch` run under a
stand-in `srun` that starts two local tasks with Slurm's variables (so JAX
finds the job as on a cluster; `pytest -m multihost`)."""

import os
import pathlib
import shlex
import socket
import stat
import subprocess
import sys

import pytest

import training_testing

REPO = pathlib.Path(__file__).resolve().parents[1]
STAGES = "--config.stages=('data', 'classifier')"

# Records its arguments, one per NUL-terminated field, as gcloud would get
# them.
_FAKE_GCLOUD = """#!/usr/bin/env bash
printf '%s\\0' "$@" > "$LAUNCH_TEST_ARGS"
"""

# Slurm's srun for one node: SLURM_NTASKS local tasks, each with its
# SLURM_PROCID and SLURM_LOCALID; fails if any task fails.
_FAKE_SRUN = """#!/usr/bin/env bash
pids=()
for ((task = 0; task < SLURM_NTASKS; task++)); do
  SLURM_PROCID=$task SLURM_LOCALID=$task "$@" \\
      > "$LAUNCH_TEST_LOGS/task.$task.out" 2> "$LAUNCH_TEST_LOGS/task.$task.err" &
  pids+=($!)
done
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
exit $status
"""


def _bin_with(tmp_path, name: str, script: str) -> pathlib.Path:
  directory = tmp_path / 'bin'
  directory.mkdir(exist_ok=True)
  path = directory / name
  path.write_text(script)
  path.chmod(path.stat().st_mode | stat.S_IEXEC)
  return directory


def _run_script(script: str, *args, env=None, cwd=REPO, timeout=60):
  return subprocess.run(['bash', str(REPO / 'launch' / script), *args],
                        cwd=cwd, env=env or dict(os.environ),
                        capture_output=True, text=True, timeout=timeout,
                        check=False)


@pytest.mark.parametrize('script, needed', [('tpu_pod.sh', 4),
                                            ('slurm_gpu.sbatch', 2)])
def test_too_few_arguments_print_usage_and_exit_2(script, needed):
  for count in range(needed):
    result = _run_script(script, *['x'] * count)
    assert result.returncode == 2, (count, result.stderr)
    assert 'usage:' in result.stderr


def test_tpu_pod_runs_the_command_on_every_host_with_overrides_intact(
    tmp_path):
  fake_bin = _bin_with(tmp_path, 'gcloud', _FAKE_GCLOUD)
  recorded = tmp_path / 'args'
  overrides = [STAGES, '--config.leed.num_steps=10', "--config.note=it's"]
  result = _run_script(
      'tpu_pod.sh', 'my-tpu', 'us-central2-b', 'configs/synthetic.py',
      '/mnt/shared/run one', *overrides,
      env=dict(os.environ, PATH=f'{fake_bin}:{os.environ["PATH"]}',
               LAUNCH_TEST_ARGS=str(recorded)))
  assert result.returncode == 0, result.stderr
  args = recorded.read_bytes().decode().split('\0')[:-1]
  assert args[:5] == ['compute', 'tpus', 'tpu-vm', 'ssh', 'my-tpu']
  assert '--zone=us-central2-b' in args and '--worker=all' in args
  remote = next(arg for arg in args if arg.startswith('--command='))
  main_line = next(line for line in remote.splitlines()
                   if 'leedjax.main' in line)
  # What each host's shell will run, word by word.
  words = shlex.split(main_line)
  assert words[:4] == ['python3', '-m', 'leedjax.main', '--multihost']
  assert '--config=configs/synthetic.py' in words
  assert '--workdir=/mnt/shared/run one' in words
  assert words[-len(overrides):] == overrides


def _free_slurm_job_id() -> int:
  """A job id whose coordinator port (JAX: id % 4096 + 61440) is free."""
  for job_id in range(4096):
    with socket.socket() as probe:
      try:
        probe.bind(('127.0.0.1', job_id + 61440))
      except OSError:
        continue
      return job_id
  raise RuntimeError('no free port in 61440..65535')


@pytest.mark.multihost
def test_slurm_script_runs_a_two_task_job_that_jax_finds(tmp_path):
  fake_bin = _bin_with(tmp_path, 'srun', _FAKE_SRUN)
  logs = tmp_path / 'logs'
  logs.mkdir()
  workdir = tmp_path / 'run'
  python_dir = pathlib.Path(sys.executable).parent
  env = dict(
      os.environ, PATH=f'{fake_bin}:{python_dir}:{os.environ["PATH"]}',
      PYTHONPATH=str(REPO), JAX_PLATFORMS='cpu',
      XLA_FLAGS='--xla_force_host_platform_device_count=2',
      LAUNCH_TEST_LOGS=str(logs), SLURM_JOB_ID=str(_free_slurm_job_id()),
      SLURM_STEP_NODELIST='127.0.0.1', SLURM_NTASKS='2',
      SLURM_STEP_NUM_NODES='1')
  for name in ('JAX_COORDINATOR_ADDRESS', 'JAX_NUM_PROCESSES',
               'JAX_PROCESS_ID'):
    env.pop(name, None)
  result = _run_script(
      'slurm_gpu.sbatch', 'configs/synthetic.py:smoke', str(workdir),
      f'--config.data.data_dir={tmp_path / "tfds"}', STAGES,
      '--config.classifier.num_steps=2', '--config.classifier.batch_size=8',
      env=env, timeout=900)
  errors = [(logs / f'task.{task}.err').read_text()[-2000:]
            for task in range(2)]
  assert result.returncode == 0, errors
  # One job of two processes: process 0 reports, process 1 stays quiet (two
  # independent one-process runs would both report).
  assert 'Done: data, classifier.' in (logs / 'task.0.out').read_text()
  assert training_testing.own_lines((logs / 'task.1.out').read_text()) == []
  assert (workdir / 'classifier' / 'done.json').exists()

"""Fixtures shared by test files."""

import os
import pathlib
import subprocess
import sys
import tempfile
import time

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]

# One persistent XLA compilation cache for the tests and every command they
# start (they inherit the environment): the smoke job's many subprocesses
# compile the same networks, which takes longer than running them.
os.environ.setdefault('JAX_COMPILATION_CACHE_DIR', os.path.join(
    tempfile.gettempdir(), 'leedjax-tests-jax-cache'))


def run_command(module, *args, cwd=REPO, timeout=900):
  """`python -m MODULE ARGS` in a subprocess started in `cwd`, as a user
  runs it (leedjax importable from this checkout)."""
  return subprocess.run(
      [sys.executable, '-m', module, *map(str, args)], cwd=cwd,
      env=dict(os.environ, PYTHONPATH=str(REPO)), capture_output=True,
      text=True, timeout=timeout, check=False)


def run_main(workdir, *overrides, config='configs/synthetic.py:smoke',
             cwd=REPO):
  """`python -m leedjax.main` in a subprocess, as a user runs it."""
  return run_command('leedjax.main', f'--config={config}',
                     f'--workdir={workdir}', *overrides, cwd=cwd)


@pytest.fixture(scope='session')
def smoke_job(tmp_path_factory):
  """The whole smoke job, run once per session (tests that use it carry
  `xdist_group('smoke_job')`, so one xdist worker runs them all):
  (workdir, completed process, wall seconds, TFDS data_dir).

  It runs as the README's command does, with relative paths, but from a
  directory outside the checkout: `cd USER_DIR && python -m leedjax.main
  --config=<relative path>/configs/synthetic.py:smoke --workdir=runs/synthetic`.
  `USER_DIR` is the workdir's grandparent (tests run commands there too).
  """
  user_dir = tmp_path_factory.mktemp('user')
  data_dir = tmp_path_factory.mktemp('tfds')
  config = os.path.relpath(REPO / 'configs' / 'synthetic.py', user_dir)
  start = time.perf_counter()
  result = run_main('runs/synthetic', f'--config.data.data_dir={data_dir}',
                    config=f'{config}:smoke', cwd=user_dir)
  assert result.returncode == 0, result.stderr[-4000:]
  return (user_dir / 'runs' / 'synthetic', result, time.perf_counter() - start,
          data_dir)

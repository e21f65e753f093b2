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


def run_main(workdir, *overrides, config='configs/synthetic.py:smoke'):
  """`python -m leedjax.main` in a subprocess, as a user runs it."""
  return subprocess.run(
      [sys.executable, '-m', 'leedjax.main', f'--config={config}',
       f'--workdir={workdir}', *overrides],
      cwd=REPO, env=dict(os.environ, PYTHONPATH=str(REPO)),
      capture_output=True, text=True, timeout=900, check=False)


@pytest.fixture(scope='session')
def smoke_job(tmp_path_factory):
  """The whole smoke job, run once per session (tests that use it carry
  `xdist_group('smoke_job')`, so one xdist worker runs them all):
  (workdir, completed process, wall seconds, TFDS data_dir)."""
  workdir = tmp_path_factory.mktemp('smoke')
  data_dir = tmp_path_factory.mktemp('tfds')
  start = time.perf_counter()
  result = run_main(workdir, f'--config.data.data_dir={data_dir}')
  assert result.returncode == 0, result.stderr[-4000:]
  return workdir, result, time.perf_counter() - start, data_dir

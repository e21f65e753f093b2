"""Joining a multi-process job: `--multihost` calls `initialize()`.

JAX finds the coordinator, the process count and this process's index by
itself on Cloud TPU VMs, under Slurm, Open MPI and Kubernetes. Anywhere else
(several processes on one machine, a hand-started cluster) they come from
the environment:

  JAX_COORDINATOR_ADDRESS=10.0.0.1:1234   # process 0's host and a free port
  JAX_NUM_PROCESSES=2
  JAX_PROCESS_ID=0                        # 0 .. JAX_NUM_PROCESSES - 1

JAX reads only the first of these itself; the other two are read here.
"""

import os

import jax

ENVIRONMENT = ('JAX_COORDINATOR_ADDRESS', 'JAX_NUM_PROCESSES',
               'JAX_PROCESS_ID')


class DistributedError(ValueError):
  """The environment describes no usable multi-process job."""


def _int_from_environment(name: str) -> int | None:
  value = os.environ.get(name)
  if value is None or value == '':
    return None
  try:
    return int(value)
  except ValueError:
    raise DistributedError(
        f'{name}={value!r} is not an integer; set it to a whole number '
        f'(see {", ".join(ENVIRONMENT)}).') from None


def initialize() -> None:
  """`jax.distributed.initialize()` with the process count and index from
  the environment where they are set; a clear error where they are not
  consistent."""
  num_processes = _int_from_environment('JAX_NUM_PROCESSES')
  process_id = _int_from_environment('JAX_PROCESS_ID')
  if (num_processes is None) != (process_id is None):
    raise DistributedError(
        'JAX_NUM_PROCESSES and JAX_PROCESS_ID must be set together (or '
        'neither, where JAX finds them: Cloud TPU, Slurm, Open MPI).')
  if num_processes is not None:
    if not 0 <= process_id < num_processes:
      raise DistributedError(
          f'JAX_PROCESS_ID={process_id} must be in 0 .. '
          f'{num_processes - 1} (JAX_NUM_PROCESSES={num_processes}).')
    if not os.environ.get('JAX_COORDINATOR_ADDRESS'):
      raise DistributedError(
          'JAX_NUM_PROCESSES is set but JAX_COORDINATOR_ADDRESS is not: set '
          "it to process 0's host and a free port, e.g. 10.0.0.1:1234.")
  try:
    jax.distributed.initialize(num_processes=num_processes,
                               process_id=process_id)
  except ValueError as error:  # JAX found no cluster and no environment
    raise DistributedError(
        f'--multihost: {error} Outside Cloud TPU, Slurm and Open MPI set '
        f'{", ".join(ENVIRONMENT)} on every process.') from None

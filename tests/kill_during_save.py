"""`python -m leedjax.main`, but it SIGKILLs itself while the checkpoint of
step $KILL_AT_STEP is being written: tests/test_loop.py resumes after it."""

import os
import signal

from absl import app

from leedjax import checkpoints
from leedjax import main

KILL_AT_STEP = int(os.environ['KILL_AT_STEP'])
_real_save = checkpoints.StageCheckpoints.save


def _save_then_die(self, step, *args, **kwargs):
  # `save` returns once the arrays are off the devices; orbax is still
  # writing them in the background when the kill lands.
  _real_save(self, step, *args, **kwargs)
  if step == KILL_AT_STEP:
    os.kill(os.getpid(), signal.SIGKILL)


checkpoints.StageCheckpoints.save = _save_then_die

if __name__ == '__main__':
  app.run(main.main)

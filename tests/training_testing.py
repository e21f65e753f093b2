"""Shared checks of the training loop's tests (tests/test_loop.py,
tests/test_multihost.py): one model trained on different device or process
layouts, compared to float32 summation order."""

import json
import os
import pathlib
import re

import numpy as np

REPO = pathlib.Path(__file__).resolve().parents[1]


def environment(devices: int = 1, **extra) -> dict:
  """The environment of a `python -m leedjax.main` subprocess: this
  checkout importable, `devices` fake CPU devices."""
  return dict(os.environ, PYTHONPATH=str(REPO),
              XLA_FLAGS=f'--xla_force_host_platform_device_count={devices}',
              **extra)


def checkpoint_dir(workdir: pathlib.Path) -> pathlib.Path:
  """The classifier stage's checkpoints, which these tests train."""
  return workdir / 'classifier' / 'checkpoints'


def committed_steps(workdir: pathlib.Path) -> list[int]:
  """The steps of the complete checkpoints ([] before the first)."""
  directory = checkpoint_dir(workdir)
  if not directory.exists():
    return []
  return sorted(int(path.name) for path in directory.iterdir()
                if path.name.isdigit())


def flatten(tree, prefix=''):
  """(path, numpy array) for every leaf of a nested dict."""
  if isinstance(tree, dict):
    for key, value in tree.items():
      yield from flatten(value, f'{prefix}/{key}')
  else:
    yield prefix, np.asarray(tree)


# The words of gloo's connection message (see own_lines), its numbers apart.
_GLOO_WORDS = frozenset(['[Gloo]', 'Rank', 'is', 'connected', 'to', 'peer',
                         'ranks', 'Expected', 'number', 'of', '.', ':'])
_WORD = re.compile(r'\[Gloo\]|[A-Za-z]+|\d+|\S')


def own_lines(output: str) -> list[str]:
  """The lines of a process's output that are not gloo's.

  Gloo's CPU collectives print "[Gloo] Rank R is connected to N peer ranks.
  Expected number of connected peer ranks is : N" to stdout from several
  threads at once, each piece of it a separate write, so messages arrive
  interleaved piece by piece: CI runs have printed a line holding only
  "3", and one message inside another after its "[Gloo] Rank ". A line is
  gloo's when every word of it is a word or number of that message.
  """
  def is_gloo(line):
    return all(word in _GLOO_WORDS or word.isdigit()
               for word in _WORD.findall(line))
  return [line for line in output.splitlines()
          if line.strip() and not is_gloo(line)]


def logged_losses(stage_dir: pathlib.Path) -> list[float]:
  lines = (stage_dir / 'metrics.jsonl').read_text().splitlines()
  return [json.loads(line)['loss'] for line in lines]


def adam_tolerance(nu, learning_rate, steps):
  """Per-element tolerance on parameters after `steps` Adam steps whose
  gradients differ only by the order of float32 sums (`nu`: Adam's
  bias-corrected second moments of one tensor).

  The sharded and the single-device step sum the same terms in another
  order, and BatchNorm's mean subtraction over 8 examples amplifies those
  rounding differences; each step then starts from slightly different
  parameters. Measured: gradients agree to about 0.6% of their tensor's
  scale after 4 steps; GRADIENT_RTOL allows 2%. Adam divides each update
  by sqrt(nu), so an element whose own gradient is tiny next to its
  tensor's moves by up to lr * GRADIENT_RTOL * scale / (sqrt(nu) + eps)
  more or less per step. A real difference (a device reading the wrong
  share, per-device statistics) moves elements by a whole step, ~lr.
  """
  gradient_rtol, eps = 2e-2, 1e-8
  root = np.sqrt(nu)
  scale = np.sqrt(np.mean(nu))
  return steps * learning_rate * gradient_rtol * scale / (root + eps)


def assert_same_classifier_training(one: dict, other: dict,
                                    one_losses, other_losses, *,
                                    steps: int, learning_rate: float):
  """`other` (states and logged losses of the classifier stage) trained the
  model `one` trained, on the same global batches, to summation order."""
  # The first step: the same parameters on the same global batch, so the
  # losses agree to float32 summation order.
  np.testing.assert_allclose(other_losses[0], one_losses[0], rtol=1e-4)
  # Later steps start from parameters that Adam has moved apart a little
  # (see adam_tolerance; seen: 0.14% after 3 steps). A device reading the
  # wrong share of the batch changes the loss by the batch-to-batch spread
  # instead, 5-15% here.
  np.testing.assert_allclose(other_losses, one_losses, rtol=1e-2)
  # Global-batch BatchNorm statistics, as one device computes them, up to
  # the parameters' drift above (seen: 1.2e-4 of the tensor's largest
  # value after 4 steps). Per-device statistics would differ by the
  # spread of 1-example means around 8-example ones, ~0.1 of that scale.
  other_stats = dict(flatten(other['batch_stats']))
  for name, value in flatten(one['batch_stats']):
    np.testing.assert_allclose(other_stats[name], value, rtol=1e-4,
                               atol=2e-3 * np.max(np.abs(value)) + 1e-6,
                               err_msg=name)
  nu = dict(flatten(one['opt_state']['classifier'][0]['nu']))
  other_params = dict(flatten(other['params']['classifier']))
  for name, value in flatten(one['params']['classifier']):
    bias_free_nu = nu[name] / (1 - 0.999**steps)
    tolerance = 1e-4 * np.abs(value) + 1e-6 + adam_tolerance(
        bias_free_nu, learning_rate, steps)
    excess = np.abs(other_params[name] - value) - tolerance
    assert np.all(excess <= 0), (name, float(excess.max()))

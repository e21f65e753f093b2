"""Helpers shared by the network tests (tests/test_nets_*.py)."""

import functools
import math

import flax.linen as nn
import jax
import numpy as np


def abstract_variables(model: nn.Module, *args, **kwargs):
  """The variables' shapes and dtypes, by `jax.eval_shape` (no compute)."""
  init = functools.partial(model.init, **kwargs)
  return jax.eval_shape(init, jax.random.key(0), *args)


def numpy_variables(model: nn.Module, *args, seed: int = 0, **kwargs):
  """Variables for `model` filled from numpy, for fast forward passes.

  `model.init` draws every parameter with jax.random, which compiles a
  threefry kernel per parameter shape: tens of seconds on two CPU cores even
  for tiny networks. The tests need finite, sensibly scaled values, not
  flax's exact initialisers: kernels are He-normal, biases and running means
  zero, scales and running variances one.
  """
  rng = np.random.default_rng(seed)

  def fill(path, leaf):
    name = path[-1].key
    if name in ('bias', 'mean'):
      return np.zeros(leaf.shape, leaf.dtype)
    if name in ('scale', 'var'):
      return np.ones(leaf.shape, leaf.dtype)
    fan_in = math.prod(leaf.shape[:-1])
    return (rng.standard_normal(leaf.shape) *
            np.sqrt(2.0 / fan_in)).astype(leaf.dtype)

  return jax.tree.map_with_path(
      fill, abstract_variables(model, *args, **kwargs))


def batch_stats_changed(before, after) -> bool:
  """Whether any running statistic differs between two `batch_stats`."""
  return any(jax.tree.leaves(jax.tree.map(
      lambda a, b: bool(np.any(np.asarray(a) != np.asarray(b))),
      before, after)))


def all_finite(tree) -> bool:
  return all(np.all(np.isfinite(np.asarray(leaf)))
             for leaf in jax.tree.leaves(tree))


def dtype_names(tree) -> set[str]:
  """The dtype names of a tree's leaves, e.g. {'bfloat16'}."""
  return {np.dtype(leaf.dtype).name for leaf in jax.tree.leaves(tree)}

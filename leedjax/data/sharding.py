"""The data-parallel mesh, and global batches assembled from per-process parts.

Every process reads its own `1 / process_count` of each global batch (see
`pipeline`); `global_batch` stitches those parts into `jax.Array`s sharded
over the mesh's `data` axis, so that a jitted step sees the global batch.
"""

import jax
from jax.sharding import NamedSharding
from jax.sharding import PartitionSpec as P
import numpy as np

DATA_AXIS = 'data'


def make_mesh(num_devices: int | None = None) -> jax.sharding.Mesh:
  """A 1-D mesh with axis `data` over every device (or the first few).

  The axis type is Auto: shardings propagate through a jitted step as in
  GSPMD, so model code needs no sharding annotations. (`jax.make_mesh`
  defaults to Explicit axes, which put shardings in array types; then ops
  that contract over the batch axis, e.g. `einsum('bi,bj->ij')` in a
  Gram-matrix loss, fail until given an `out_sharding`.)
  """
  num_devices = num_devices or jax.device_count()
  return jax.make_mesh((num_devices,), (DATA_AXIS,),
                       axis_types=(jax.sharding.AxisType.Auto,),
                       devices=jax.devices()[:num_devices])


def batch_sharding(mesh: jax.sharding.Mesh) -> NamedSharding:
  """Leading (batch) axis split over `data`, other axes whole."""
  return NamedSharding(mesh, P(DATA_AXIS))


def local_batch_size(global_batch_size: int,
                     mesh: jax.sharding.Mesh | None = None) -> int:
  """This process's share of a global batch; checks that it splits evenly."""
  num_shards = mesh.shape[DATA_AXIS] if mesh is not None else jax.device_count()
  if global_batch_size % num_shards or global_batch_size % jax.process_count():
    raise ValueError(
        f'Global batch size {global_batch_size} must be a multiple of the '
        f'number of devices ({num_shards}) and of processes '
        f'({jax.process_count()}).')
  return global_batch_size // jax.process_count()


def global_batch(local_batch, mesh: jax.sharding.Mesh):
  """Global `jax.Array`s from this process's rows of a batch.

  Args:
    local_batch: pytree of numpy arrays whose leading axis is this process's
      `local_batch_size` rows. Every process's rows appear once in the global
      array, in the blocks its devices hold in the mesh.
    mesh: the mesh of `make_mesh`.

  Returns:
    The same pytree of `jax.Array`s with `process_count` times as many rows,
    sharded with `batch_sharding(mesh)`.
  """
  sharding = batch_sharding(mesh)
  return jax.tree.map(
      lambda rows: jax.make_array_from_process_local_data(
          sharding, np.asarray(rows)), local_batch)


def replicate(tree, mesh: jax.sharding.Mesh):
  """Every leaf whole on every device of the mesh, from this process's copy.

  Every process must hold the same values (parameters restored from disk,
  a key derived from the seed). Unlike `jax.device_put`, this also works
  when the mesh spans other processes' devices. Typed PRNG keys stay keys.
  """
  sharding = NamedSharding(mesh, P())
  if jax.process_count() == 1:  # every device is this process's
    return jax.device_put(tree, sharding)

  def put(leaf):
    if jax.dtypes.issubdtype(getattr(leaf, 'dtype', None),
                             jax.dtypes.prng_key):
      return jax.random.wrap_key_data(put(jax.random.key_data(leaf)),
                                      impl=jax.random.key_impl(leaf))
    return jax.make_array_from_process_local_data(sharding, np.asarray(leaf))

  return jax.tree.map(put, tree)


def local_copy(tree):
  """A replicated tree as arrays on this process's first device, for work
  each process does on its own (measurements, sample faces): a jitted
  function cannot mix them with arrays that span other processes. With one
  process the tree is returned as it is."""
  if jax.process_count() == 1:
    return tree
  return jax.device_put(jax.device_get(tree), jax.local_devices()[0])

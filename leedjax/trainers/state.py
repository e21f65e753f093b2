"""The train state of a system of networks, each with its own optimizer.

`params[name]`, `batch_stats[name]` (empty for nets without BatchNorm) and
`opt_state[name]` per network; `step` counts train steps. A trainer updates a
network only from that network's own objective (see trainers/leed.py).
"""

from typing import Any, Mapping

import flax.struct
import jax
import jax.numpy as jnp
import optax

PyTree = Any


@flax.struct.dataclass
class TrainState:
  step: jax.Array
  params: dict[str, PyTree]
  batch_stats: dict[str, PyTree]
  opt_state: dict[str, PyTree]
  optimizers: Mapping[str, optax.GradientTransformation] = flax.struct.field(
      pytree_node=False)

  @classmethod
  def create(cls, variables: Mapping[str, Mapping[str, PyTree]],
             optimizers: Mapping[str, optax.GradientTransformation]
             ) -> 'TrainState':
    """A state at step 0.

    Args:
      variables: net name -> that net's flax variables ({'params': ...,
        optionally 'batch_stats': ...}).
      optimizers: net name -> optimizer, for every trained net; nets without
        one (frozen) keep their parameters.
    """
    params = {name: dict(v)['params'] for name, v in variables.items()}
    return cls(
        step=jnp.zeros((), jnp.int32),
        params=params,
        batch_stats={name: dict(v).get('batch_stats', {})
                     for name, v in variables.items()},
        opt_state={name: tx.init(params[name])
                   for name, tx in optimizers.items()},
        optimizers=dict(optimizers))

  def variables(self, name: str) -> dict[str, PyTree]:
    """Flax variables of one net, for `module.apply`."""
    variables = {'params': self.params[name]}
    if self.batch_stats[name]:
      variables['batch_stats'] = self.batch_stats[name]
    return variables

  def apply_gradients(self, grads: Mapping[str, PyTree]) -> 'TrainState':
    """Applies each net's gradients with its own optimizer (others keep)."""
    params, opt_state = dict(self.params), dict(self.opt_state)
    for name, grad in grads.items():
      updates, opt_state[name] = self.optimizers[name].update(
          grad, self.opt_state[name], self.params[name])
      params[name] = optax.apply_updates(self.params[name], updates)
    return self.replace(params=params, opt_state=opt_state)

  def with_batch_stats(self, updates: Mapping[str, PyTree]) -> 'TrainState':
    return self.replace(batch_stats={**self.batch_stats, **updates})

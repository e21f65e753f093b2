"""What the generic loop (`leedjax.loop`) needs from a trainer."""

from typing import Any, Iterator, Protocol

import flax.struct
import jax
import numpy as np

from leedjax.evaluation import plots
from leedjax.trainers.state import TrainState

Batch = dict[str, Any]        # a global batch: pytree of jax.Arrays
Metrics = dict[str, jax.Array]  # scalar metrics of one step


class Trainer(Protocol):
  """A trained system, as the loop sees it.

  `init` and `train_step` are pure and traceable; the loop jits the step,
  shards the batch over the mesh's `data` axis, replicates the state and the
  frozen parameters, donates the old state's buffers, passes
  `rng = fold_in(base_rng, state.step)` and advances `state.step` itself.
  """

  name: str          # the stage's name, e.g. 'classifier'
  num_steps: int     # train steps of the stage
  # Parameters of frozen networks the step needs (e.g. VGG16 for a
  # perceptual loss), passed to it as an argument: never saved with the
  # state, never baked into the compiled step as constants. None if none.
  frozen: Any

  def batches(self) -> Iterator[Batch]:
    """This process's batches (numpy), a grain iterator with get/set_state.

    A trainer may also define `sample_batch() -> Batch`, a fixed batch for
    `samples`; otherwise the loop takes the first of a fresh `batches()`.
    """

  def init(self, rng: jax.Array, batch: Batch) -> TrainState:
    """A fresh state; `batch` is a sample global batch for shapes only.

    A trainer may also define `initial_state() -> TrainState | None`: a
    state to start from instead (e.g. an earlier stage's networks), of
    `init`'s structure and shapes; None: start from `init`.
    """

  def train_step(self, state: TrainState, batch: Batch, rng: jax.Array,
                 frozen: Any) -> tuple[TrainState, Metrics]:
    """One step: the new state and scalar metrics (float32 arrays)."""

  def samples(self, state: TrainState,
              batch: Batch) -> dict[str, 'SampleGrid']:
    """Named grids of images that show how training goes, e.g. inputs and
    outputs; an empty dict for none. Called outside jit: jit inside as
    needed (a `SampleGrid` is a pytree with static labels)."""


@flax.struct.dataclass
class SampleGrid:
  """Rows of images that show how training goes, each row named.

  Attributes:
    rows: (R, B, H, W, 3) floats in [-1, 1]: R rows of B images.
    labels: R row names, e.g. ('input', 'reference', 'alpha 1'); static, so
      a jitted function can return the grid.
  """
  rows: jax.Array
  labels: tuple[str, ...] = flax.struct.field(pytree_node=False)

  def picture(self) -> np.ndarray:
    """The uint8 (H, W, 3) picture the loop writes: the rows upscaled to a
    viewable size (`plots.display_scale`), each named in a left column."""
    rows = to_uint8(self.rows)
    return np.asarray(plots.label_grid(list(rows), self.labels))


def loss_metrics(prefix: str, total, parts) -> Metrics:
  """An objective's total and named parts as metrics: `<prefix>_loss` and
  `<prefix>_<part>`."""
  return {f'{prefix}_loss': total,
          **{f'{prefix}_{name}': value for name, value in parts.items()}}


def to_uint8(images) -> np.ndarray:
  """Images in [-1, 1] to uint8."""
  return np.asarray(np.clip((np.asarray(images, np.float32) + 1.0) * 127.5,
                            0, 255).round(), np.uint8)

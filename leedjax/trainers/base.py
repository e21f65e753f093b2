"""What the generic loop (`leedjax.loop`) needs from a trainer."""

from typing import Any, Iterator, Protocol

import jax
import numpy as np

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
    """A fresh state; `batch` is a sample global batch for shapes only."""

  def train_step(self, state: TrainState, batch: Batch, rng: jax.Array,
                 frozen: Any) -> tuple[TrainState, Metrics]:
    """One step: the new state and scalar metrics (float32 arrays)."""

  def samples(self, state: TrainState, batch: Batch) -> dict[str, Any]:
    """Images (H, W, 3) in [-1, 1] that show how training goes, e.g. a grid
    of inputs and outputs (see `image_grid`); an empty dict for none. Called
    outside jit: jit inside as needed."""


def image_grid(rows: list[jax.Array]) -> jax.Array:
  """One image from rows of equal-length image batches (B, H, W, 3)."""
  grid = jax.numpy.stack(rows)  # (R, B, H, W, 3)
  num_rows, batch, height, width, channels = grid.shape
  return grid.transpose(0, 2, 1, 3, 4).reshape(num_rows * height,
                                               batch * width, channels)


def to_uint8(images) -> np.ndarray:
  """Images in [-1, 1] to uint8."""
  return np.asarray(np.clip((np.asarray(images, np.float32) + 1.0) * 127.5,
                            0, 255).round(), np.uint8)

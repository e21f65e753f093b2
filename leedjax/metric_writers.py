"""Metrics and images of a stage: TensorBoard event files and JSON lines.

TensorBoard files are written with tensorboardX (no TensorFlow); every scalar
also goes to `metrics.jsonl`, one JSON object per logged step. Only process 0
writes. After a resume, both drop what was logged past the restored step.
"""

import json
import pathlib
from typing import Mapping

import jax
import numpy as np
import tensorboardX

from leedjax import files


class MetricWriter:

  def __init__(self, stage_dir: pathlib.Path, *, resume_step: int = 0):
    self.enabled = jax.process_index() == 0
    if not self.enabled:
      return
    self.stage_dir = stage_dir
    self.jsonl = stage_dir / 'metrics.jsonl'
    if self.jsonl.exists():  # keep what the restored checkpoint had seen
      kept = [line for line in self.jsonl.read_text().splitlines()
              if line and json.loads(line)['step'] <= resume_step]
      files.write_text(self.jsonl, ''.join(line + '\n' for line in kept))
    self.tensorboard = tensorboardX.SummaryWriter(
        str(stage_dir / 'tensorboard'), purge_step=resume_step + 1,
        flush_secs=30)

  def write_scalars(self, step: int, scalars: Mapping[str, float]) -> None:
    if not self.enabled:
      return
    for name, value in scalars.items():
      self.tensorboard.add_scalar(name, value, step)
    with self.jsonl.open('a') as stream:
      stream.write(json.dumps({'step': step, **{
          name: float(value) for name, value in scalars.items()}}) + '\n')

  def write_images(self, step: int, images: Mapping[str, np.ndarray]) -> None:
    """uint8 (H, W, 3) images: to TensorBoard and `samples/NAME_STEP.png`."""
    if not self.enabled:
      return
    for name, image in images.items():
      self.tensorboard.add_image(name, image, step, dataformats='HWC')
      files.write_png(self.stage_dir / 'samples' / f'{name}_{step:07d}.png',
                      image)

  def close(self) -> None:
    if self.enabled:
      self.tensorboard.close()

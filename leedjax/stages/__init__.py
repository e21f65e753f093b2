"""The stages `python -m leedjax.main` runs, in order (docs/design.md, Stages).

Each stage is a module with `run(context, stage_dir) -> summary` (JSON-able)
and `load(context, stage_dir)`, which puts a finished stage's outputs into
`context.outputs` without redoing it. A stage that trains resumes from its own
checkpoints when run again.
"""

import dataclasses
import pathlib
from typing import Any

import jax
import ml_collections


@dataclasses.dataclass
class Context:
  """What stages share: the config, the workdir, the mesh, and the outputs
  each stage hands to the later ones (by stage name)."""
  config: ml_collections.ConfigDict
  workdir: pathlib.Path
  mesh: jax.sharding.Mesh
  outputs: dict[str, Any] = dataclasses.field(default_factory=dict)

  @property
  def builder(self):
    return self.outputs['data']

  def source(self, which: str):
    """The data source of the config's 'train' or 'test' split."""
    from leedjax.data import datasets  # pylint: disable=g-import-not-at-top
    train, test = datasets.split_names(self.config.data)
    return self.builder.as_data_source(train if which == 'train' else test)

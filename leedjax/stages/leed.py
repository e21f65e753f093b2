"""The `leed` stage: LEED trained on cached neutral faces and Psi features.

The ablation stages of the paper's Fig. 3 train the same model with one
switch off: `leed_without_q` (no regularizer Q, `config.leed.use_q`) and
`leed_without_s` (no siamese loss, `config.leed.use_siamese`). A config lists
them in `config.stages` to have them trained and evaluated.
"""

import copy
import dataclasses
import functools

from leedjax import loop
from leedjax.data import pipeline
from leedjax.data import sharding
from leedjax.data import synthfaces
from leedjax.data import tfds_synthfaces
from leedjax.nets import layers
from leedjax.stages import cache as cache_lib
from leedjax.trainers import leed as leed_lib
from leedjax.weights import vgg16


def _sample_batch(context, source, cache):
  """Unflipped pairs, with SynthFaces' exact answers of their edits."""
  config = context.config
  data = copy.deepcopy(config.data)
  data.flip = False
  batch = next(cache_lib.CachedPairs(pipeline.pair_batches(
      source, data, min(8, config.leed.batch_size)), cache))
  if config.data.dataset == 'synth_faces':
    catalog = synthfaces.Catalog(tfds_synthfaces.config_from(data).grid)
    batch['input']['true_edit'] = catalog.render_edit(
        batch['input']['catalog_row'], batch['reference']['catalog_row'],
        1.0, data.image_size)
  return batch


def trainer_of(context) -> leed_lib.LeedTrainer:
  config = context.config
  cache = context.outputs['cache']
  source = context.source('train')

  def batches():
    return cache_lib.CachedPairs(
        pipeline.pair_batches(source, config.data, config.leed.batch_size),
        cache)

  return leed_lib.LeedTrainer(
      config, batches, cache.feature_dim, vgg16.load_vgg16_params(),
      sample_batch_fn=lambda: _sample_batch(context, source, cache))


# Ablation stage -> the config.leed switch it turns off.
ABLATIONS = {'leed_without_q': 'use_q', 'leed_without_s': 'use_siamese'}


def _outputs(context, trainer, state, name):
  context.outputs[name] = {
      'nets': trainer.nets,
      'variables': sharding.local_copy(
          {net: state.variables(net) for net in leed_lib.NETS})}


def _stage_context(context, name: str):
  """The context `name` trains in: the run's for `leed`; for an ablation,
  config.leed with one switch off (the same outputs dict, so what it trains
  is seen by later stages)."""
  if name == 'leed':
    return context
  config = copy.deepcopy(context.config)
  config.leed[ABLATIONS[name]] = False
  return dataclasses.replace(context, config=config)


def run(context, stage_dir, name: str = 'leed') -> dict:
  stage = _stage_context(context, name)
  trainer = trainer_of(stage)
  state = loop.train(trainer, stage.config.leed, stage_dir,
                     mesh=context.mesh, seed=context.config.seed)
  _outputs(context, trainer, state, name)
  if name in ABLATIONS:
    return {'steps': int(state.step), 'switched_off': ABLATIONS[name]}
  return {'steps': int(state.step),
          'parameters': {net: layers.count_params(state.params[net])
                         for net in leed_lib.NETS}}


def load(context, stage_dir, name: str = 'leed', step: int | None = None):
  stage = _stage_context(context, name)
  trainer = trainer_of(stage)
  _outputs(context, trainer, loop.restore_final(
      trainer, stage.config.leed, stage_dir, mesh=context.mesh,
      seed=context.config.seed, step=step), name)


# Stage name -> (run, load) of each ablation.
ABLATION_STAGES = {name: (functools.partial(run, name=name),
                          functools.partial(load, name=name))
                   for name in ABLATIONS}

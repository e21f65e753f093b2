"""The `data` stage: renders SynthFaces into a TFDS dataset (or finds it)."""

from leedjax.data import tfds_synthfaces


def load(context, stage_dir):
  del stage_dir
  context.outputs['data'] = tfds_synthfaces.prepare(context.config.data)


def run(context, stage_dir) -> dict:
  load(context, stage_dir)
  builder = context.builder
  splits = builder.info.splits
  train, test = tfds_synthfaces.split_names(context.config.data)
  return {
      'dataset': builder.name,
      'builder_config': builder.builder_config.name,
      'data_dir': str(builder.data_dir),
      'train_split': train,
      'test_split': test,
      'num_train': splits[train].num_examples,
      'num_test': splits[test].num_examples,
      'bytes': sum(split.num_bytes for split in splits.values()),
      # In label order; editors loaded from the workdir name classes by it.
      'expression_names': list(builder.info.features['expression'].names),
  }

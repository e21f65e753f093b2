"""The `data` stage: builds the config's TFDS dataset (SynthFaces rendered
here, or a real dataset read from the user's copy), or finds it built."""

from leedjax.data import datasets


def load(context, stage_dir):
  del stage_dir
  context.outputs['data'] = datasets.prepare(context.config.data)


def run(context, stage_dir) -> dict:
  load(context, stage_dir)
  builder = context.builder
  splits = builder.info.splits
  train, test = datasets.split_names(context.config.data)
  summary = {
      'dataset': builder.name,
      'builder_config': builder.builder_config.name,
      'data_dir': str(builder.data_dir),
      'train_split': train,
      'test_split': test,
      'num_train': splits[train].num_examples,
      'num_test': splits[test].num_examples,
      'num_subjects': datasets.num_subjects(builder),
      'bytes': sum(split.num_bytes for split in splits.values()),
      # In label order; editors loaded from the workdir name classes by it.
      'expression_names': datasets.expression_names(builder),
  }
  if not datasets.is_synthetic(context.config.data):
    summary['manual_dir'] = builder.info.metadata['manual_dir']
    summary['skipped'] = dict(builder.info.metadata['skipped'])
  return summary

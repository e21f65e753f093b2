"""The classifier trainer (Psi and the identity judge) on tiny SynthFaces."""

import functools
import textwrap

import jax
import numpy as np
import pytest

from configs import default
from configs import synthetic
from leedjax.data import datasets
from leedjax.data import synthfaces
from leedjax.nets import classifier as classifier_net
from leedjax.trainers import classifier
import trainers_testing as testing

METRICS = ('loss', 'accuracy', 'grad_norm', 'param_norm', 'learning_rate')
WIDTH = 0.125


def settings(label_key='expression', num_steps=30):
  section = default.get_config().classifier
  section.label_key = label_key
  section.width = WIDTH
  section.batch_size = 16
  section.num_steps = num_steps
  section.warmup_steps = 2
  section.learning_rate = 3e-3
  # Off here, so a few steps memorise one batch; test_degradations_...
  # checks that the step applies them.
  section.augment.enabled = False
  return section


@pytest.fixture(scope='module')
def source():
  return testing.tiny_source()


@pytest.fixture(scope='module')
def trainer(source):
  return classifier.ClassifierTrainer(
      settings(), testing.tiny_data_config(), source,
      num_classes=synthfaces.NUM_EXPRESSIONS)


@pytest.fixture(scope='module')
def step(trainer):
  return testing.loop_step(trainer)


@pytest.fixture(scope='module')
def first_batch(trainer):
  return next(trainer.batches())


@pytest.fixture(scope='module')
def initial(trainer, first_batch):
  return testing.fast_init(trainer, first_batch)


@pytest.fixture(scope='module')
def stepped_once(initial, first_batch, step):
  return step(initial, first_batch, jax.random.key(1))


@pytest.fixture(scope='module')
def trained(trainer, initial, first_batch, step):
  """(state, losses, first metrics) after num_steps jitted steps on one
  batch (expressions are a few pixels at 32 px: a tiny net needs far more
  steps to learn them in general, but memorises a batch at once)."""
  state, losses, first_metrics = initial, [], None
  for index in range(trainer.num_steps):
    state, metrics = step(state, first_batch, jax.random.key(index))
    first_metrics = first_metrics or metrics
    losses.append(float(metrics['loss']))
  return state, losses, first_metrics


def test_init_makes_one_adamw_state(trainer, first_batch, initial):
  abstract = jax.eval_shape(trainer.init, testing.init_key(), first_batch)
  assert jax.tree.structure(abstract) == jax.tree.structure(initial)
  assert set(abstract.params) == {classifier.NET}
  assert abstract.batch_stats[classifier.NET]  # BatchNorm statistics
  assert testing.update_counts(initial.opt_state[classifier.NET]) == {0}


def test_a_step_returns_finite_float32_scalars(trained):
  _, _, metrics = trained
  testing.assert_finite_scalars(metrics, METRICS)


def test_training_reduces_the_loss(trained):
  state, losses, _ = trained
  assert int(state.step) == len(losses)
  assert np.mean(losses[-5:]) < 0.2 * np.mean(losses[:5]), losses


def test_degradations_change_the_images_each_step_with_its_rng(
    source, initial, first_batch):
  degraded = classifier.ClassifierTrainer(
      settings(), testing.tiny_data_config(), source,
      num_classes=synthfaces.NUM_EXPRESSIONS)
  degraded._settings.augment.enabled = True  # pylint: disable=protected-access
  step = jax.jit(degraded.train_step)
  losses = [float(step(initial, first_batch, jax.random.key(seed))[1]['loss'])
            for seed in (0, 0, 1)]
  assert losses[0] == pytest.approx(losses[1], rel=1e-6)
  assert abs(losses[0] - losses[2]) > 1e-4


def test_step_updates_params_and_batch_statistics(initial, first_batch, step,
                                                  stepped_once):
  first, metrics = stepped_once
  # The warmup starts at a learning rate of 0: BatchNorm statistics move,
  # the parameters only from the second step on.
  assert int(first.step) == 1 and float(metrics['learning_rate']) == 0.0
  assert testing.tree_equal(initial.params, first.params)
  assert not testing.tree_equal(initial.batch_stats, first.batch_stats)
  second, _ = step(first, first_batch, jax.random.key(2))
  assert int(second.step) == 2
  assert not testing.tree_equal(initial.params, second.params)


def test_predict_and_evaluate(trained, trainer, first_batch):
  state, _, _ = trained
  variables = state.variables(classifier.NET)
  logits, features = jax.eval_shape(
      functools.partial(classifier.predict, trainer.model), variables,
      first_batch['image'])
  assert logits.shape == (16, synthfaces.NUM_EXPRESSIONS)
  assert features.shape == (16, classifier_net.feature_dim(WIDTH))
  # Rows 8-15 repeat rows 0-7; masked out, their labels must not count.
  batch = {key: np.concatenate([first_batch[key][:8]] * 2)
           for key in ('image', 'expression')}
  batch['mask'] = np.arange(16) < 8
  shifted = dict(batch, expression=np.where(
      batch['mask'], batch['expression'], (batch['expression'] + 1) % 8))
  evaluate = functools.partial(classifier.evaluate, trainer.model, variables,
                               label_key='expression')
  accuracy = evaluate([batch])
  assert accuracy * 8 == round(accuracy * 8)  # hits out of 8 rows
  assert evaluate([shifted]) == accuracy
  assert evaluate([batch, shifted]) == accuracy
  every_row = dict(batch, mask=np.ones(16, bool))
  assert evaluate([every_row]) == accuracy  # the same 8 rows twice
  with pytest.raises(ValueError, match='no unmasked'):
    evaluate([dict(batch, mask=np.zeros(16, bool))])


def test_subject_labels_make_an_identity_judge(first_batch):
  data = testing.tiny_data_config()
  data.synthfaces.num_subjects = 5
  builder = datasets.builder(data)  # counts come from the builder
  assert classifier.num_classes_of('subject', builder) == 5
  assert classifier.num_classes_of('expression', builder) == 8
  with pytest.raises(ValueError, match='label_key'):
    classifier.num_classes_of('angle', builder)
  judge = classifier.ClassifierTrainer(
      settings('subject'), data, testing.tiny_source(), num_classes=5,
      name='identity_judge')
  assert (judge.name, judge.label_key) == ('identity_judge', 'subject')
  assert next(judge.batches())['subject'].shape == (16,)
  # It learns the subject field: a batch without expressions traces.
  batch = {key: first_batch[key] for key in ('image', 'subject')}
  state = jax.eval_shape(judge.init, testing.init_key(), batch)
  _, metrics = jax.eval_shape(judge.train_step, state, batch,
                              jax.random.key(0))
  assert set(metrics) == set(METRICS)
  assert state.params['classifier']['logits']['kernel'].shape[-1] == 5


def test_schedule_warms_up_then_decays_to_zero():
  section = settings(num_steps=100)
  section.warmup_steps = 10
  schedule = classifier.learning_rate_schedule(section)
  assert float(schedule(0)) == 0.0
  assert float(schedule(10)) == pytest.approx(3e-3)
  assert float(schedule(55)) == pytest.approx(1.5e-3, rel=1e-4)
  assert float(schedule(100)) == pytest.approx(0.0, abs=1e-9)


def test_holdout_split_partitions_the_records(source):
  fit, held = classifier.holdout_split(source, 0.25, seed=0)
  assert len(held) == round(0.25 * len(source))
  assert len(fit) + len(held) == len(source)
  rows = {int(r['catalog_row']) for r in fit} | {
      int(r['catalog_row']) for r in held}
  assert rows == set(range(len(source)))


def test_the_synthetic_config_makes_both_classifiers():
  config = synthetic.get_config()
  for stage, label_key in (('classifier', 'expression'),
                           ('identity_judge', 'subject')):
    section = config[stage]
    assert section.label_key == label_key
    num_classes = classifier.num_classes_of(label_key,
                                            datasets.builder(config.data))
    trainer = classifier.ClassifierTrainer(section, config.data, [],
                                           num_classes=num_classes,
                                           name=stage)
    size, rows = config.data.image_size, section.batch_size
    batch = {'image': jax.ShapeDtypeStruct((rows, size, size, 3), np.uint8),
             label_key: jax.ShapeDtypeStruct((rows,), np.int32)}
    state = jax.eval_shape(trainer.init, testing.init_key(), batch)
    _, metrics = jax.eval_shape(trainer.train_step, state, batch,
                                jax.random.key(0))
    assert set(metrics) == set(METRICS)
  for variant in ('', 'smoke'):
    for stage in ('classifier', 'identity_judge'):
      section = synthetic.get_config(variant)[stage]
      assert section.num_steps > 0
      for field in ('log_every', 'checkpoint_every', 'sample_every',
                    'keep_checkpoints'):
        assert section[field] > 0, (variant, stage, field)


def test_a_step_runs_on_a_batch_sharded_over_two_devices(
    initial, first_batch, stepped_once, tmp_path):
  """The first step, the batch split over two devices: the same metrics
  (gradient norm included) and BatchNorm statistics, which are global-batch
  ones. (The first step's learning rate is 0 under the warmup, so its
  gradients show only in `grad_norm`.)"""
  inputs, outputs = tmp_path / 'inputs.npz', tmp_path / 'outputs.npz'
  np.savez(tmp_path / 'batch.npz', image=first_batch['image'],
           expression=first_batch['expression'])
  testing.save_arrays(inputs, variables=initial.variables(classifier.NET))
  stdout = testing.run_with_devices(textwrap.dedent(f"""
      import sys
      import jax, numpy as np
      from jax.sharding import NamedSharding, PartitionSpec as P
      from leedjax.data import sharding
      from leedjax.trainers import classifier
      from leedjax.trainers.state import TrainState
      sys.path.insert(0, {testing.REPO_ROOT + '/tests'!r})
      import test_trainer_classifier as t, trainers_testing as testing
      assert jax.device_count() == 2
      trainer = classifier.ClassifierTrainer(
          t.settings(), testing.tiny_data_config(), [], num_classes=8)
      batch = dict(np.load({str(tmp_path / 'batch.npz')!r}))
      abstract = jax.eval_shape(trainer.init, testing.init_key(), batch)
      variables = jax.tree.unflatten(
          jax.tree.structure(abstract.variables(classifier.NET)),
          testing.load_leaves({str(inputs)!r}, 'variables'))
      state = TrainState.create({{classifier.NET: variables}},
                                {{classifier.NET: trainer.optimizer()}})
      mesh = sharding.make_mesh()
      sharded = sharding.global_batch(batch, mesh)
      assert len(sharded['image'].sharding.device_set) == 2
      state = jax.device_put(state, NamedSharding(mesh, P()))
      new, metrics = testing.loop_step(trainer)(
          state, sharded, jax.random.key(1))
      testing.assert_finite_scalars(metrics, t.METRICS)
      testing.save_arrays({str(outputs)!r},
                          variables=new.variables(classifier.NET),
                          metrics=metrics)
      print('sharded step ok')
  """))
  assert 'sharded step ok' in stdout
  expected, expected_metrics = stepped_once
  for name, tree in (('variables', expected.variables(classifier.NET)),
                     ('metrics', expected_metrics)):
    for a, b in zip(jax.tree.leaves(tree),
                    testing.load_leaves(outputs, name)):
      np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-5)

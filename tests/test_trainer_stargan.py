"""The StarGAN neutralizer trainer on tiny SynthFaces."""

import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from configs import default
from configs import synthetic
from leedjax.data import pipeline
from leedjax.data import synthfaces
from leedjax.trainers import stargan
import trainers_testing as testing

D, G = stargan.DISCRIMINATOR, stargan.GENERATOR
N_CRITIC = 2
MICRO_BATCH = 4
METRICS = ('d_loss', 'd_adversarial', 'd_classification',
           'd_gradient_penalty', 'd_grad_norm', 'g_loss', 'g_adversarial',
           'g_classification', 'g_reconstruction', 'g_grad_norm',
           'd_learning_rate', 'g_learning_rate')


def settings(num_steps=8):
  section = default.get_config().neutralizer
  section.g_conv_dim = 4
  section.d_conv_dim = 4
  section.num_residual_blocks = 1
  section.batch_size = MICRO_BATCH
  section.n_critic = N_CRITIC
  section.num_steps = num_steps
  return section


@pytest.fixture(scope='module')
def trainer():
  return stargan.StarGANTrainer(settings(), testing.tiny_data_config(),
                                testing.tiny_source())


@pytest.fixture(scope='module')
def batch(trainer):
  return next(trainer.batches())


@pytest.fixture(scope='module')
def state(trainer, batch):
  """An initial state with the trainer's own optimizers (Adam)."""
  return testing.fast_init(trainer, batch)


@pytest.fixture(scope='module')
def sgd_state(state):
  """The same variables with SGD, for exact comparisons of updates."""
  return testing.sgd_state(state)


@pytest.fixture(scope='module')
def stepped(trainer, sgd_state, batch):
  """(new_state, metrics) of one jitted train step from `sgd_state`."""
  return testing.loop_step(trainer)(sgd_state, batch, jax.random.key(7))


@pytest.fixture(scope='module')
def d_step(trainer):
  return testing.jit(trainer.discriminator_step)


@pytest.fixture(scope='module')
def g_step(trainer):
  return testing.jit(trainer.generator_step)


def micro_inputs(batch):
  """(images, labels, targets) of the first micro-batch."""
  labels = jnp.asarray(batch['expression'][:MICRO_BATCH])
  return (pipeline.to_float(batch['image'][:MICRO_BATCH]), labels,
          labels[::-1])


def test_batches_hold_n_critic_micro_batches(trainer, batch):
  assert trainer.images_per_step == N_CRITIC * MICRO_BATCH
  assert batch['image'].shape == (N_CRITIC * MICRO_BATCH, 32, 32, 3)
  micro = trainer.micro_batches(batch)
  assert len(micro) == N_CRITIC
  for k, part in enumerate(micro):
    np.testing.assert_array_equal(part['image'], batch['image'][k::N_CRITIC])
    np.testing.assert_array_equal(part['expression'],
                                  batch['expression'][k::N_CRITIC])


def test_a_step_returns_finite_float32_scalars(stepped):
  _, metrics = stepped
  testing.assert_finite_scalars(metrics, METRICS)


def test_init_gives_each_network_its_adam(trainer, batch, state):
  abstract = jax.eval_shape(trainer.init, testing.init_key(), batch)
  assert jax.tree.structure(abstract) == jax.tree.structure(state)
  assert set(abstract.params) == {D, G, stargan.GENERATOR_EMA}
  # The generator's running average has the generator's shapes and no
  # optimizer of its own.
  assert (jax.tree.map(jnp.shape, abstract.params[stargan.GENERATOR_EMA]) ==
          jax.tree.map(jnp.shape, abstract.params[G]))
  assert abstract.batch_stats == {D: {}, G: {}, stargan.GENERATOR_EMA: {}}
  assert abstract.optimizers.keys() == {D, G}
  for net in (D, G):
    assert testing.update_counts(state.opt_state[net]) == {0}
  # Adam's two moments for every parameter.
  for net in (D, G):
    assert len(jax.tree.leaves(abstract.opt_state[net])) > 2 * len(
        jax.tree.leaves(abstract.params[net]))


def test_a_step_is_n_critic_d_updates_then_one_g_update(sgd_state, stepped):
  new, _ = stepped
  assert int(new.step) == 1
  assert testing.update_counts(new.opt_state[D]) == {N_CRITIC}
  assert testing.update_counts(new.opt_state[G]) == {1}
  assert not testing.tree_equal(sgd_state.params[D], new.params[D])
  assert not testing.tree_equal(sgd_state.params[G], new.params[G])


def test_the_step_is_the_release_schedule(trainer, sgd_state, batch, stepped,
                                          d_step, g_step):
  """D on each micro-batch in turn, then G on the last one against the
  updated D, with the same targets: composed by hand, the same state."""
  manual = sgd_state
  for micro, rng in zip(trainer.micro_batches(batch),
                        jax.random.split(jax.random.key(7), N_CRITIC)):
    images = pipeline.to_float(micro['image'])
    target_rng, penalty_rng = jax.random.split(rng)
    targets = trainer.target_labels(micro['expression'], target_rng)
    manual, _ = d_step(manual, images, micro['expression'], targets,
                       penalty_rng)
  manual, _ = g_step(manual, images, micro['expression'], targets)
  new, _ = stepped
  for net in (D, G):
    for a, b in zip(jax.tree.leaves(manual.params[net]),
                    jax.tree.leaves(new.params[net])):
      np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-5)
  # Then the generator's running average moves 1 - decay of the way to G,
  # with the decay ramped up from 0.1 at the first step.
  assert 0 < trainer.ema_decay < 1
  decay = min(trainer.ema_decay, 1 / 10)
  for before, after, average in zip(
      jax.tree.leaves(sgd_state.params[stargan.GENERATOR_EMA]),
      jax.tree.leaves(manual.params[G]),
      jax.tree.leaves(new.params[stargan.GENERATOR_EMA])):
    np.testing.assert_allclose(average, decay * before + (1 - decay) * after,
                               rtol=1e-3, atol=1e-6)


def test_each_objective_reaches_only_its_own_network(trainer, sgd_state,
                                                     batch, d_step, g_step):
  objectives = trainer.objectives
  images, labels, targets = micro_inputs(batch)
  rng = jax.random.key(3)
  params = sgd_state.params

  def d_loss(d_params, g_params):
    return objectives.discriminator_loss(d_params, g_params, images, labels,
                                         targets, rng)[0]

  d_grads, g_grads_of_d_loss = testing.jit(
      jax.grad(d_loss, argnums=(0, 1)))(params[D], params[G])
  # D's objective sees G's fakes as inputs: no gradient reaches G.
  assert not any(np.any(leaf) for leaf in jax.tree.leaves(g_grads_of_d_loss))
  # D's update is that gradient (SGD, lr 0.1); each update leaves the
  # other net and its optimizer as they were.
  after_d, _ = d_step(sgd_state, images, labels, targets, rng)
  for before, grad, new in zip(jax.tree.leaves(params[D]),
                               jax.tree.leaves(d_grads),
                               jax.tree.leaves(after_d.params[D])):
    np.testing.assert_allclose(new, before - 0.1 * grad, rtol=1e-3,
                               atol=1e-5)
  after_g, _ = g_step(sgd_state, images, labels, targets)
  assert not testing.tree_equal(params[G], after_g.params[G])
  for after, other in ((after_d, G), (after_g, D)):
    assert testing.tree_equal(params[other], after.params[other])
    assert testing.tree_equal(sgd_state.opt_state[other],
                              after.opt_state[other])


def test_the_ema_decay_ramps_up_to_its_setting():
  decays = [float(stargan.ema_decay_at(0.999, step))
            for step in (0, 10, 100, 10_000, 100_000)]
  np.testing.assert_allclose(decays, [0.1, 11 / 20, 101 / 110, 0.999, 0.999],
                             rtol=1e-6)


def test_target_labels_permute_the_batch_labels(trainer):
  labels = jnp.arange(32, dtype=jnp.int32) % synthfaces.NUM_EXPRESSIONS
  first = trainer.target_labels(labels, jax.random.key(0))
  second = trainer.target_labels(labels, jax.random.key(1))
  for targets in (first, second):
    np.testing.assert_array_equal(np.sort(targets), np.sort(labels))
    assert not np.array_equal(targets, labels)
  assert not np.array_equal(first, second)


def test_learning_rates_are_constant_then_halve_at_three_quarters(trainer):
  schedule = stargan.decay_schedule(1e-4, 1000)
  for step, expected in [(0, 1e-4), (499, 1e-4), (500, 1e-4),
                         (750, 5e-5), (1000, 0.0)]:
    assert float(schedule(step)) == pytest.approx(expected, abs=1e-10)
  schedules = trainer.schedules()
  d_updates = trainer.num_steps * N_CRITIC  # each in its own update count
  assert float(schedules[D](d_updates * 3 // 4)) == pytest.approx(5e-5)
  assert float(schedules[G](trainer.num_steps * 3 // 4)) == pytest.approx(
      5e-5, rel=0.1)
  assert float(schedules[G](trainer.num_steps)) == 0.0


def test_neutralize_is_g_with_the_neutral_label(trainer, state, batch):
  generator = trainer.generator
  images = batch['image'][:3]

  def both(variables, images):
    expected = generator.apply(variables, pipeline.to_float(images),
                               jax.nn.one_hot(jnp.full(3, synthfaces.NEUTRAL),
                                              synthfaces.NUM_EXPRESSIONS))
    return stargan.neutralize(generator, variables, images), expected

  neutral, expected = testing.jit(both)(state.variables(G), images)
  assert neutral.shape == images.shape and neutral.dtype == jnp.float32
  np.testing.assert_allclose(neutral, expected, atol=1e-5)


def test_samples_show_every_translation_by_name(trainer, state, batch):
  grid = jax.eval_shape(trainer.samples, state, batch)['translations']
  shown = min(stargan.NUM_SAMPLES, batch['image'].shape[0])
  assert grid.labels == ('input', *synthfaces.EXPRESSIONS)
  assert grid.rows.shape == (1 + synthfaces.NUM_EXPRESSIONS, shown, 32, 32,
                             3)


def test_the_synthetic_config_makes_a_trainer():
  config = synthetic.get_config()
  trainer = stargan.StarGANTrainer(config.neutralizer, config.data, [])
  size = config.data.image_size
  batch = {'image': jax.ShapeDtypeStruct(
               (trainer.images_per_step, size, size, 3), jnp.uint8),
           'expression': jax.ShapeDtypeStruct((trainer.images_per_step,),
                                              jnp.int32)}
  state = jax.eval_shape(trainer.init, testing.init_key(), batch)
  _, metrics = jax.eval_shape(trainer.train_step, state, batch,
                              jax.random.key(0))
  assert set(METRICS) <= set(metrics)
  for variant in ('', 'smoke'):
    section = synthetic.get_config(variant).neutralizer
    assert not section.use_renderer_neutral  # comparison only, never default
    assert section.num_steps > 0 and section.n_critic >= 1
    for field in ('log_every', 'checkpoint_every', 'sample_every',
                  'keep_checkpoints'):
      assert section[field] > 0, (variant, field)


def test_a_step_runs_on_a_batch_sharded_over_two_devices(
    sgd_state, batch, stepped, tmp_path):
  """The same step, the batch split over two devices: the same result."""
  inputs, outputs = tmp_path / 'inputs.npz', tmp_path / 'outputs.npz'
  np.savez(tmp_path / 'batch.npz', image=batch['image'],
           expression=batch['expression'])
  testing.save_arrays(inputs, params=sgd_state.params)
  stdout = testing.run_with_devices(textwrap.dedent(f"""
      import sys
      import jax, numpy as np
      from jax.sharding import NamedSharding, PartitionSpec as P
      from leedjax.data import sharding
      from leedjax.trainers import stargan
      from leedjax.trainers.state import TrainState
      sys.path.insert(0, {testing.REPO_ROOT + '/tests'!r})
      import test_trainer_stargan as t, trainers_testing as testing
      assert jax.device_count() == 2
      trainer = stargan.StarGANTrainer(t.settings(),
                                       testing.tiny_data_config(), [])
      batch = dict(np.load({str(tmp_path / 'batch.npz')!r}))
      abstract = jax.eval_shape(trainer.init, testing.init_key(), batch)
      params = jax.tree.unflatten(jax.tree.structure(abstract.params),
                                  testing.load_leaves({str(inputs)!r},
                                                      'params'))
      state = testing.sgd_state(TrainState.create(
          {{net: {{'params': p}} for net, p in params.items()}}, {{}}))
      mesh = sharding.make_mesh()
      sharded = sharding.global_batch(batch, mesh)
      assert len(sharded['image'].sharding.device_set) == 2
      state = jax.device_put(state, NamedSharding(mesh, P()))
      new, metrics = testing.loop_step(trainer)(
          state, sharded, jax.random.key(7))
      testing.assert_finite_scalars(metrics, t.METRICS)
      testing.save_arrays({str(outputs)!r}, params=new.params,
                          metrics=metrics)
      print('sharded step ok')
  """))
  assert 'sharded step ok' in stdout
  expected, expected_metrics = stepped
  for name, tree in (('params', expected.params),
                     ('metrics', expected_metrics)):
    for a, b in zip(jax.tree.leaves(tree),
                    testing.load_leaves(outputs, name)):
      np.testing.assert_allclose(b, a, rtol=1e-3, atol=1e-5)


def test_identity_term_adds_g_of_its_own_domain_to_g_alone(trainer, state,
                                                           batch):
  """With lambda_identity, G's objective is the release's plus
  lambda_identity * L1(G(x, c_x), x), computed here by hand; D's objective
  is unchanged."""
  section = settings()
  section.lambda_identity = 3.0
  with_identity = stargan.StarGANTrainer(
      section, testing.tiny_data_config(), testing.tiny_source()).objectives
  plain = trainer.objectives
  images, labels, targets = micro_inputs(batch)
  params, rng = state.params, jax.random.key(5)

  def both(objectives):
    g_total, g_parts = objectives.generator_loss(params[G], params[D], images,
                                                 labels, targets)
    d_total, _ = objectives.discriminator_loss(params[D], params[G], images,
                                               labels, targets, rng)
    return g_total, g_parts, d_total

  g_total, g_parts, d_total = testing.jit(lambda: both(with_identity))()
  plain_g, plain_parts, plain_d = testing.jit(lambda: both(plain))()
  same = plain._translate(params[G], images, labels)
  by_hand = jnp.mean(jnp.abs(same - images))
  np.testing.assert_allclose(g_parts['identity'], by_hand, rtol=1e-4)
  np.testing.assert_allclose(g_total, plain_g + 3.0 * by_hand, rtol=1e-4)
  assert 'identity' not in plain_parts
  np.testing.assert_allclose(d_total, plain_d, rtol=1e-5)

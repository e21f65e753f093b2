"""ExprGAN's trainer against the paper's objectives, written out by hand.

Each network's objective per stage (docs/design.md, ExprGAN; the paper's
Eqs. 5-10 with the authors' release) is written here on its own, with the
networks' `apply` and plain jnp, as a function of that network's
parameters, the others closed over as constants. One SGD step must move
each network the stage trains by exactly its own objective's gradient and
leave the others as they were.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from configs import default
from leedjax.data import pipeline
from leedjax.nets import vgg
from leedjax.trainers import exprgan
from leedjax.trainers.state import TrainState
import trainers_testing as testing

pytestmark = pytest.mark.xdist_group('trainer_exprgan')

SIZE = 16
BATCH = 4
SGD_RATE = 0.1
SGD = optax.sgd(lambda count: SGD_RATE)
LAYERS = ('relu1_2', 'relu2_2')
# Weights far from the release's tiny ones, so that a missing or misweighted
# term shows in the gradients.
WEIGHTS = dict(lambda_identity=0.7, lambda_q=0.3,
               lambda_image_adversarial=0.4, lambda_latent_adversarial=0.6,
               lambda_tv=0.5)
E, G, DI, DZ = (exprgan.ENCODER, exprgan.GENERATOR,
                exprgan.IMAGE_DISCRIMINATOR, exprgan.LATENT_DISCRIMINATOR)
# Of each network's largest gradient element: float32 sums in another order.
GRAD_TOL = 2e-4


def settings():
  section = default.get_config().exprgan
  section.width = 1 / 16
  section.identity_dim = 6
  section.code_dim = 2
  section.batch_size = BATCH
  section.identity_layers = LAYERS
  section.update(WEIGHTS)
  return section


@pytest.fixture(scope='module')
def source():
  return testing.tiny_source(num_subjects=1, angles=(0.0,), size=SIZE)


@pytest.fixture(scope='module')
def batch(source):
  rows = [1, 3, 4, 6]
  return {'image': np.stack([source[row]['image'] for row in rows]),
          'expression': np.asarray([source[row]['expression']
                                    for row in rows], np.int32)}


@pytest.fixture(scope='module')
def vgg_params():
  abstract = jax.eval_shape(
      vgg.VGG16(output_layers=LAYERS).init, jax.random.key(0),
      jax.ShapeDtypeStruct((1, SIZE, SIZE, 3), jnp.float32))['params']
  rng = np.random.default_rng(1)
  return jax.tree.map(
      lambda leaf: (np.zeros(leaf.shape, leaf.dtype) if leaf.ndim == 1 else
                    (rng.standard_normal(leaf.shape) * np.sqrt(
                        2.0 / np.prod(leaf.shape[:-1]))).astype(leaf.dtype)),
      abstract)


def make_trainer(stage, source, vgg_params):
  data = testing.tiny_data_config()
  data.image_size = SIZE
  return exprgan.ExprGANTrainer(settings(), data, source, vgg_params,
                                stage=stage)


@pytest.fixture(scope='module')
def initial(source, vgg_params, batch):
  """Variables of all four networks, shared by every stage's test."""
  return testing.fast_init(make_trainer('refinement', source, vgg_params),
                           batch)


def sgd_state(trainer, state):
  return TrainState.create(
      {name: {'params': state.params[name],
              'batch_stats': state.batch_stats[name]}
       for name in state.params},
      {name: SGD for name in trainer.optimizers()})


# ----------------------------------------------------- by hand, per net ---
def bce(logits, target):
  return jnp.mean(jax.nn.softplus(-logits) if target else
                  jax.nn.softplus(logits))


def q_loss(predicted, codes, num_classes, code_dim):
  return sum(jnp.mean(jnp.square(predicted[:, k * code_dim:(k + 1) * code_dim]
                                 - codes[:, k * code_dim:(k + 1) * code_dim]))
             for k in range(num_classes))


def hand_objectives(trainer, state, batch, codes, prior, frozen):
  """{net: its objective as a function of its own parameters}."""
  nets, w = trainer.nets, WEIGHTS
  images = pipeline.to_float(batch['image'])
  onehot = jax.nn.one_hot(batch['expression'], trainer.num_classes)
  params, stats = state.params, state.batch_stats
  k, d = trainer.num_classes, trainer.code_dim

  def encode(p_e):
    return nets[E].apply({'params': p_e}, images)

  def generate(p_e, p_g):
    identity = prior if trainer.stage == 'controller' else encode(p_e)
    return nets[G].apply({'params': p_g}, identity, codes), identity

  def discriminate(p_d, x, batch_stats):
    (logits, predicted), updates = nets[DI].apply(
        {'params': p_d, 'batch_stats': batch_stats}, x, onehot, train=True,
        mutable=['batch_stats'])
    return logits, predicted, updates['batch_stats']

  def latent(p_z, z, batch_stats):
    scores, updates = nets[DZ].apply(
        {'params': p_z, 'batch_stats': batch_stats}, z, train=True,
        mutable=['batch_stats'])
    return scores, updates['batch_stats']

  def features(x):
    return trainer.phi.apply({'params': frozen['vgg']}, x)

  def generator_objective(p_e, p_g):
    faces, identity = generate(p_e, p_g)
    logits, predicted, _ = discriminate(params[DI], faces, stats[DI])
    q = q_loss(predicted, codes, k, d)
    if trainer.stage == 'controller':
      return bce(logits, 1) + w['lambda_q'] * q
    real, fake = features(images), features(faces)
    total = (jnp.mean(jnp.abs(faces - images))
             + w['lambda_identity'] * sum(jnp.mean(jnp.abs(fake[l] - real[l]))
                                          for l in LAYERS)
             + w['lambda_q'] * q)
    if trainer.stage == 'refinement':
      scores, _ = latent(params[DZ], identity, stats[DZ])
      tv = (jnp.mean(jnp.abs(faces[:, 1:] - faces[:, :-1]))
            + jnp.mean(jnp.abs(faces[:, :, 1:] - faces[:, :, :-1])))
      total += (w['lambda_image_adversarial'] * bce(logits, 1)
                + w['lambda_latent_adversarial'] * bce(scores, 1)
                + w['lambda_tv'] * tv)
    return total

  faces, identity = jax.lax.stop_gradient(generate(params[E], params[G]))

  def image_discriminator_objective(p_d):
    real_logits, _, after_real = discriminate(p_d, images, stats[DI])
    fake_logits, predicted, _ = discriminate(p_d, faces, after_real)
    return (bce(real_logits, 1) + bce(fake_logits, 0)
            + q_loss(predicted, codes, k, d))

  def latent_discriminator_objective(p_z):
    prior_scores, after_prior = latent(p_z, prior, stats[DZ])
    encoded_scores, _ = latent(p_z, identity, after_prior)
    return bce(prior_scores, 1) + bce(encoded_scores, 0)

  return {
      E: lambda p: generator_objective(p, params[G]),
      G: lambda p: generator_objective(params[E], p),
      DI: image_discriminator_objective,
      DZ: latent_discriminator_objective,
  }


@pytest.mark.parametrize('stage', exprgan.STAGES)
def test_a_step_moves_each_trained_net_by_its_own_objective(
    stage, source, vgg_params, batch, initial):
  trainer = make_trainer(stage, source, vgg_params)
  assert trainer.name == f'exprgan_{stage}'
  assert set(trainer.optimizers()) == set(exprgan.TRAINED[stage])
  state = sgd_state(trainer, initial)
  rng = jax.random.key(5)
  new, metrics = testing.loop_step(trainer)(state, batch, rng)
  testing.assert_finite_scalars(metrics, ('g_loss', 'g_q', 'd_img_loss'))
  codes, prior = trainer.draws(rng, jnp.asarray(batch['expression']))
  objectives = hand_objectives(trainer, state, batch, codes, prior,
                               trainer.frozen)
  for net in exprgan.NETS:
    if net not in exprgan.TRAINED[stage]:
      assert testing.tree_equal(state.params[net], new.params[net]), net
      continue
    grads = testing.jit(jax.grad(objectives[net]))(state.params[net])
    scale = max(float(np.max(np.abs(leaf))) for leaf in
                jax.tree.leaves(grads))
    assert scale > 0, net
    for before, grad, after in zip(jax.tree.leaves(state.params[net]),
                                   jax.tree.leaves(grads),
                                   jax.tree.leaves(new.params[net])):
      np.testing.assert_allclose((before - after) / SGD_RATE, grad, rtol=0,
                                 atol=GRAD_TOL * scale, err_msg=net)


def test_codes_follow_the_controller(source, vgg_params):
  """F_ctrl (Eq. 3): the label's slot holds |z_y|, every other -|z_y|."""
  trainer = make_trainer('controller', source, vgg_params)
  labels = jnp.asarray([0, 3, 7])
  codes, prior = trainer.draws(jax.random.key(1), labels)
  slots = np.asarray(codes).reshape(3, trainer.num_classes, trainer.code_dim)
  for row, label in enumerate(labels):
    magnitude = slots[row, label]
    assert np.all(magnitude >= 0) and np.all(magnitude <= 1)
    others = np.delete(slots[row], int(label), axis=0)
    np.testing.assert_allclose(others, -np.broadcast_to(magnitude,
                                                        others.shape))
  assert prior.shape == (3, trainer.identity_dim)
  assert np.all(np.abs(prior) <= 1)


def test_a_later_stage_continues_from_the_earlier_one(source, vgg_params,
                                                      batch, initial):
  trainer = make_trainer('reconstruction', source, vgg_params)
  state = trainer.continue_from(initial)
  for net in exprgan.NETS:
    assert testing.tree_equal(initial.params[net], state.params[net])
  assert set(state.opt_state) == set(exprgan.TRAINED['reconstruction'])
  assert int(state.step) == 0


@pytest.mark.parametrize('stage', ['controller', 'refinement'])
def test_sample_grids_show_every_class(stage, source, vgg_params, batch,
                                       initial):
  trainer = make_trainer(stage, source, vgg_params)
  grid = trainer.samples(initial, batch)['expressions']
  assert grid.labels == ('input', *trainer.class_names)
  assert grid.rows.shape == (1 + trainer.num_classes, BATCH, SIZE, SIZE, 3)
  np.testing.assert_allclose(grid.rows[0], pipeline.to_float(batch['image']))
  # Different classes, different faces.
  assert not np.allclose(grid.rows[1], grid.rows[2])


def test_unknown_stage_is_refused(source, vgg_params):
  with pytest.raises(ValueError, match='ExprGAN stage'):
    make_trainer('polish', source, vgg_params)

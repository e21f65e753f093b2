"""LEED's trainer against the paper's objectives, written out by hand.

Each network's objective (docs/design.md, LEED objectives; the paper's
Eqs. 2-16) is written here on its own, with the networks' `apply` and
`leedjax.losses`, as a function of that network's parameters, closing over
the other networks' parameters as constants. The gradient the step's one
summed objective gives each network must be its own objective's gradient,
and one step must move each network by exactly that gradient.
"""

import itertools

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from configs import default
from leedjax import losses
from leedjax.data import pipeline
from leedjax.data import synthfaces
from leedjax.nets import vgg
from leedjax.stages import cache as cache_lib
from leedjax.trainers import leed
from leedjax.trainers.state import TrainState
import trainers_testing as testing

# The module's fixtures compile LEED's step a few times: one xdist worker
# runs them all, compiling each once.
pytestmark = pytest.mark.xdist_group('trainer_leed')

SIZE = 16
PAIRS = 3
FEATURE_DIM = 8
SGD_RATE = 0.1
# One object for every SGD state, so that a step compiled for one serves
# all (optimizers are static in the state). It keeps an update count.
SGD = optax.sgd(lambda count: SGD_RATE)
# Gradients are compared up to this fraction of the network's largest
# gradient element: float32 sums in another order differ by ~1e-6 of it;
# `test_every_term_shows_in_its_networks_gradient` checks that leaving out
# any term, or weighting it wrongly, moves it by more than 100 times this.
GRAD_TOL = 2e-4
METRICS = ('exp', 'q_nll', 'interp_adv', 'interp_linear', 'idt',
           'critic_wasserstein', 'critic_gp', 'recon', 'encoder_adv',
           'siamese', 'grad_norm/encoder', 'grad_norm/decoder',
           'param_norm/encoder')
# Each term of each network's own objective, as `own_gradients` weighs it.
TERMS = {
    'extractor': ('exp', 'q_for_x'),
    'regularizer': ('q',),
    'interpolator': ('interp_adv', 'interp_linear', 'idt'),
    'critic': ('critic_fake', 'critic_real', 'critic_gp'),
    'encoder': ('encoder_adv', 'recon_for_e', 'siamese_for_e'),
    'decoder': ('perceptual', 'pixel'),
    'siamese': ('siamese',),
}


def settings(**switches):
  """A run config whose `leed` section is tiny; `switches` override it."""
  config = default.get_config()
  config.data = testing.tiny_data_config()
  config.data.image_size = SIZE
  section = config.leed
  for name in ('width', 'critic_width', 'regularizer_width',
               'siamese_width'):
    section[name] = 0.0625
  section.code_stride = 4
  section.batch_size = PAIRS
  section.num_steps = 10
  section.learning_rate = 1e-3
  # Weights of the right order at random initialisation, so that every term
  # shows in its network's gradient (the paper's lambda_gp 100 and lambda_S
  # 1000 hide the others there), and all distinct, so a swap shows too.
  # With random VGG16 weights, Phi's features are large: two layers only.
  section.update(lambda_q=0.3, lambda_recon=3e-4, lambda_s=10.0,
                 lambda_gp=1e-4, pixel_weight=20.0,
                 perceptual_layers=('relu1_2', 'relu2_2'))
  section.update(switches)
  return config


def random_vgg_params(layers):
  """VGG16's parameter shapes at `layers`, filled with He-normal numbers
  (the pretrained weights would only slow the test down)."""
  abstract = jax.eval_shape(
      vgg.VGG16(output_layers=tuple(layers)).init, jax.random.key(0),
      jax.ShapeDtypeStruct((1, SIZE, SIZE, 3), jnp.float32))['params']
  rng = np.random.default_rng(1)

  def fill(leaf):
    if leaf.ndim == 1:
      return np.zeros(leaf.shape, leaf.dtype)
    fan_in = int(np.prod(leaf.shape[:-1]))
    return (rng.standard_normal(leaf.shape) *
            np.sqrt(2.0 / fan_in)).astype(leaf.dtype)

  return jax.tree.map(fill, abstract)


def tiny_cache(source):
  """Each record's exact neutral face (the neutral record of its subject
  and angle) and random Psi features, shaped like stages/cache.py's."""
  by_key = {(record['subject'], record['angle']): record['image']
            for record in source
            if record['expression'] == synthfaces.NEUTRAL}
  neutral = np.stack([by_key[record['subject'], record['angle']]
                      for record in source])
  neutral = np.stack([neutral, neutral[:, :, ::-1]], axis=1)
  features = np.random.default_rng(2).standard_normal(
      (len(source), 2, FEATURE_DIM)).astype(np.float32)
  return cache_lib.Cache(neutral, features)


def pair_batch(source, inputs, references):
  """{'input': view, 'reference': view} of the given records, unflipped,
  with the cached fields, as stages/cache.py's `CachedPairs` gives them."""
  cache = tiny_cache(source)

  def view(rows):
    return cache.add_to({
        'image': np.stack([source[row]['image'] for row in rows]),
        'index': np.asarray(rows, np.int32),
        'flipped': np.zeros(len(rows), bool)})

  return {'input': view(inputs), 'reference': view(references)}


@pytest.fixture(scope='module')
def batch():
  """Pairs across subjects and expressions. The first reference is a
  neutral face, its own neutral (v_R = 0, as with exact neutrals)."""
  source = testing.tiny_source(num_subjects=2, angles=(0.0,), size=SIZE)
  expressions = [record['expression'] for record in source]
  neutral = expressions.index(synthfaces.NEUTRAL)
  last = len(source) - 1
  batch = pair_batch(source, [1, 2, last][:PAIRS],
                     [neutral, last - 2, 4][:PAIRS])
  reference = batch['reference']
  assert np.array_equal(reference['image'][0], reference['neutral'][0])
  assert len(set(expressions[row] for row in (1, 2, last))) == PAIRS
  return batch


@pytest.fixture(scope='module')
def vgg_params():
  return random_vgg_params(settings().leed.perceptual_layers)


def make_trainer(batch, vgg_params, **switches):
  return leed.LeedTrainer(settings(**switches),
                          lambda: itertools.repeat(batch), FEATURE_DIM,
                          vgg_params)


@pytest.fixture(scope='module')
def trainer(batch, vgg_params):
  return make_trainer(batch, vgg_params)


@pytest.fixture(scope='module')
def state(trainer, batch):
  """An initial state with the trainer's own optimizers (Adam)."""
  return testing.fast_init(trainer, batch)


def trained_sgd_state(trainer, state):
  """`state`'s variables, with SGD for the nets the trainer trains only (an
  update is then linear in the gradient: exact comparisons)."""
  return TrainState.create(
      {name: state.variables(name) for name in state.params},
      {name: SGD for name in trainer.optimizers()})


# ------------------------------------------------- the paper, by hand ---
def own_objectives(trainer, params, batch_stats, batch, vgg_params, alpha,
                   gp_rng, on):
  """Each network's own objective, a function of its parameters only.

  Written from the paper and docs/design.md's table. `on` maps each name in
  TERMS to a multiplier (1: the term as the paper has it, 0: left out).

  Returns:
    ({net: objective}, new batch statistics of Dec and Q).
  """
  cfg, nets, p = trainer.config, trainer.nets, params
  to_float = pipeline.to_float
  i_a = to_float(batch['input']['image'])
  i_n = to_float(batch['input']['neutral'])
  r_b = to_float(batch['reference']['image'])
  r_n = to_float(batch['reference']['neutral'])
  f_rb = jnp.asarray(batch['reference']['features'], jnp.float32)
  reference_is_neutral = jnp.all(
      batch['reference']['image'] == batch['reference']['neutral'],
      axis=(1, 2, 3))

  def encode(p_e, images):
    return nets['encoder'].apply({'params': p_e}, images)

  def decode(p_dec, code):
    """Dec in training mode: (images, new batch statistics)."""
    out, updates = nets['decoder'].apply(
        {'params': p_dec, 'batch_stats': batch_stats['decoder']}, code,
        train=True, mutable=['batch_stats'])
    return out, updates['batch_stats']

  def extract(p_x, code, neutral_code):
    return nets['extractor'].apply({'params': p_x}, code, neutral_code)

  def interpolate(p_i, identity_code, delta):
    return nets['interpolator'].apply({'params': p_i}, identity_code, delta)

  def critic(p_d, code):
    return nets['critic'].apply({'params': p_d}, code)

  def embed(p_s, images):
    return nets['siamese'].apply({'params': p_s}, images)

  def phi(images):
    return trainer.phi.apply({'params': vgg_params}, images)

  def edit(p_e, p_x, p_i):
    """C_hat = I(C_IN, alpha X(C_RB, C_RN)) (Eqs. 2, 6)."""
    delta_rb = extract(p_x, encode(p_e, r_b), encode(p_e, r_n))
    return interpolate(p_i, encode(p_e, i_n), alpha * delta_rb)

  # What only E changes, from E's current parameters: constants to the
  # other networks.
  c_ia, c_in, c_rb, c_rn = (encode(p['encoder'], x)
                            for x in (i_a, i_n, r_b, r_n))
  delta_rb = extract(p['extractor'], c_rb, c_rn)
  c_hat = interpolate(p['interpolator'], c_in, alpha * delta_rb)

  def l_q(p_q, delta):
    """Eq. 3: -log Q(F_RB | Delta_RB), Q a Gaussian in training mode."""
    (mean, log_variance), updates = nets['regularizer'].apply(
        {'params': p_q, 'batch_stats': batch_stats['regularizer']},
        delta, train=True, mutable=['batch_stats'])
    nll = losses.gaussian_nll(mean=mean, log_variance=log_variance,
                              target=f_rb)
    return nll, updates['batch_stats']

  real_images = jnp.concatenate([i_a, r_b])

  def l_recon(p_e, p_dec):
    """Eqs. 14-15 over I_A and R_B: (perceptual, pixel, Dec's stats)."""
    decoded, stats = decode(p_dec, encode(p_e, real_images))
    perceptual, _ = losses.perceptual_loss(
        features_a=phi(decoded), features_b=phi(real_images),
        reduction='sum')
    pixel = losses.squared_norm(prediction=decoded, target=real_images)
    return perceptual, pixel, stats

  def l_s(p_s, i_b):
    """Eqs. 9-11: 1 - cos(S(R_B) - S(R_N), S(I_B) - S(I_N))."""
    # S(R_B) - S(R_N) is 0 for every S where R_B is R_N.
    v_r = jnp.where(reference_is_neutral[:, None], 0.0,
                    embed(p_s, r_b) - embed(p_s, r_n))
    v_i = embed(p_s, i_b) - embed(p_s, i_n)
    return losses.siamese_cosine_loss(reference_delta=v_r, edited_delta=v_i,
                                      eps=leed.SIAMESE_EPS)

  def extractor(p_x):
    delta = extract(p_x, c_rb, c_rn)
    l_exp = losses.squared_norm(prediction=delta, target=c_rb - c_rn)
    return (on['exp'] * l_exp
            + on['q_for_x'] * cfg.lambda_q * l_q(p['regularizer'], delta)[0])

  def interpolator(p_i):
    edited = interpolate(p_i, c_in, alpha * delta_rb)
    delta_ia = extract(p['extractor'], c_ia, c_in)
    return (on['interp_adv'] * -jnp.mean(critic(p['critic'], edited))
            + on['interp_linear'] * losses.squared_norm(
                prediction=edited, target=c_in + alpha * delta_rb)
            + on['idt'] * losses.squared_norm(
                prediction=interpolate(p_i, c_in, delta_ia), target=c_ia))

  def critic_objective(p_d):
    real = jnp.concatenate([c_ia, c_rb])
    fake = jnp.concatenate([c_hat, c_hat])
    penalty = losses.gradient_penalty(
        critic_fn=lambda code: critic(p_d, code), real=real, fake=fake,
        rng=gp_rng)
    return (on['critic_fake'] * jnp.mean(critic(p_d, c_hat))
            - on['critic_real'] * jnp.mean(critic(p_d, real))
            + on['critic_gp'] * cfg.lambda_gp * penalty)

  def encoder(p_e):
    edited = edit(p_e, p['extractor'], p['interpolator'])
    perceptual, pixel, _ = l_recon(p_e, p['decoder'])
    objective = (on['encoder_adv'] * -jnp.mean(critic(p['critic'], edited))
                 + on['recon_for_e'] * cfg.lambda_recon * (
                     perceptual + cfg.pixel_weight * pixel))
    # I_B = Dec(C_hat), C_hat from E's codes; Dec in training mode.
    i_b, _ = decode(p['decoder'], edited)
    return objective + on['siamese_for_e'] * cfg.lambda_s * l_s(
        p['siamese'], i_b)

  def decoder(p_dec):
    perceptual, pixel, _ = l_recon(p['encoder'], p_dec)
    return on['perceptual'] * perceptual + (
        on['pixel'] * cfg.pixel_weight * pixel)

  objectives = {
      'encoder': encoder,
      'decoder': decoder,
      'extractor': extractor,
      'interpolator': interpolator,
      'critic': critic_objective,
      'regularizer': lambda p_q: on['q'] * l_q(p_q, delta_rb)[0],
      'siamese': lambda p_s: on['siamese'] * l_s(
          p_s, decode(p['decoder'], c_hat)[0]),
  }
  new_stats = {'decoder': l_recon(p['encoder'], p['decoder'])[2],
               'regularizer': l_q(p['regularizer'], delta_rb)[1]}
  return objectives, new_stats


def all_on(**changes):
  """Every term on (1.0), but those in `changes`."""
  on = {term: 1.0 for term in itertools.chain(*TERMS.values())}
  on.update(changes)
  return on


@pytest.fixture(scope='module')
def own_gradients(trainer):
  """Jitted (params, batch_stats, batch, vgg, alpha, gp_rng, on) ->
  ({net: gradient of its own objective}, Dec's and Q's new statistics).
  One compilation serves every trainer of these tests (the same nets)."""

  def gradients(params, batch_stats, batch, vgg_params, alpha, gp_rng, on):
    objectives, new_stats = own_objectives(
        trainer, params, batch_stats, batch, vgg_params, alpha, gp_rng, on)
    return {name: jax.grad(objective)(params[name])
            for name, objective in objectives.items()}, new_stats

  return testing.jit(gradients)


def scale(tree) -> float:
  return max(float(np.max(np.abs(leaf))) for leaf in jax.tree.leaves(tree))


def gap(a, b) -> float:
  return max(float(np.max(np.abs(np.asarray(x, np.float64) - y)))
             for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b),
                             strict=True))


def assert_gradients_close(actual, expected, what):
  """Equal up to GRAD_TOL times the largest element of `expected`."""
  size = scale(expected)
  assert size > 0, what
  assert gap(actual, expected) <= GRAD_TOL * size, (
      what, gap(actual, expected), size)


def assert_sgd_update(old, new, gradient, what):
  """new = old - SGD_RATE * gradient, up to GRAD_TOL and the float32
  rounding of the parameters; the update is far above that rounding."""
  size = scale(gradient)
  assert SGD_RATE * size > 1e3 * np.spacing(np.float32(scale(old))), what
  for o, n, g in zip(jax.tree.leaves(old), jax.tree.leaves(new),
                     jax.tree.leaves(gradient), strict=True):
    o, n, g = (np.asarray(x, np.float64) for x in (o, n, g))
    rounding = 2 * np.spacing(np.maximum(np.abs(o), np.abs(n)).astype(
        np.float32)) / SGD_RATE
    error = np.abs((o - n) / SGD_RATE - g)
    assert np.all(error <= GRAD_TOL * size + rounding), (
        what, float(np.max(error - rounding)), size)


def adam_first_step(trainer):
  """Jitted (params, gradients) -> (params, Adam's state) after
  optax.adam(config's schedule, b1, b2)'s first update of each network."""
  cfg = trainer.config
  adam = optax.adam(leed.learning_rate_schedule(cfg), b1=cfg.b1, b2=cfg.b2)

  def step(params, gradients):
    new_params, states = {}, {}
    for name in params:
      updates, states[name] = adam.update(
          gradients[name], adam.init(params[name]), params[name])
      new_params[name] = optax.apply_updates(params[name], updates)
    return new_params, states

  return testing.jit(step)


def adam_moments(opt_state) -> optax.ScaleByAdamState:
  """The one ScaleByAdamState in an optimizer state."""
  is_adam = lambda x: isinstance(x, optax.ScaleByAdamState)
  adam, = [x for x in jax.tree.leaves(opt_state, is_leaf=is_adam)
           if is_adam(x)]
  return adam


def assert_adam_moments(actual, expected, what):
  """Adam's moments after the first update, from gradients that agree to
  GRAD_TOL: mu = (1 - b1) g to GRAD_TOL, nu = (1 - b2) g^2 to about twice
  that. (The first update itself does not depend on b1 and b2.)"""
  actual, expected = adam_moments(actual), adam_moments(expected)
  assert int(actual.count) == int(expected.count) == 1, what
  assert_gradients_close(actual.mu, expected.mu, what)
  size = scale(expected.nu)
  assert gap(actual.nu, expected.nu) <= 3 * GRAD_TOL * size, what


def assert_adam_update(old, new, expected, gradient, learning_rate, what):
  """new = expected, `adam_first_step`'s result for `gradient`.

  Adam's first update is lr * g / (|g| + eps): where g is within the
  comparison's tolerance of 0 its sign is not determined, only |update| <=
  lr; everywhere else (most elements) the update must be Adam's.
  """
  size, determined, total = scale(gradient), 0, 0
  for o, n, e, g in zip(jax.tree.leaves(old), jax.tree.leaves(new),
                        jax.tree.leaves(expected), jax.tree.leaves(gradient),
                        strict=True):
    o, n, e, g = (np.asarray(x, np.float64) for x in (o, n, e, g))
    rounding = 2 * np.spacing(np.maximum(np.abs(o), np.abs(n)).astype(
        np.float32))
    sure = np.abs(g) > 10 * GRAD_TOL * size
    assert np.all(np.abs(n - e)[sure] <= 1e-3 * learning_rate
                  + rounding[sure]), what
    assert np.all(np.abs(n - o)[~sure] <= learning_rate * (1 + 1e-3)
                  + rounding[~sure]), what
    determined += int(np.sum(sure))
    total += g.size
  assert determined > total / 2, (what, determined, total)


def draws(trainer, seed=5):
  return trainer.step_draws(jax.random.key(seed), PAIRS)


def step_rng_draws(trainer):
  """The rng the step tests pass, and what the step draws from it."""
  rng = jax.random.key(7)
  return rng, trainer.step_draws(rng, PAIRS)


def at_step(state, step):
  return state.replace(step=jnp.asarray(step, jnp.int32))


# --------------------------------------------------------------- tests ---
def test_the_step_draws_alpha_per_pair_in_zero_one(trainer):
  alpha, _ = draws(trainer)
  assert alpha.shape == (PAIRS, 1, 1, 1) and alpha.dtype == jnp.float32
  assert np.all((alpha >= 0) & (alpha < 1))
  assert len(np.unique(alpha)) == PAIRS


def test_every_term_shows_in_its_networks_gradient(trainer, state, batch,
                                                   own_gradients):
  """Leaving out any one term changes its network's gradient by far more
  than the comparisons below allow: each of them can fail. (A network's
  objective holds its own terms only, so one evaluation leaves out one term
  of every network.)"""
  alpha, gp_rng = draws(trainer)
  args = (state.params, state.batch_stats, batch, trainer.frozen['vgg'],
          alpha, gp_rng)
  full, _ = own_gradients(*args, all_on())
  for terms in itertools.zip_longest(*TERMS.values()):
    without, _ = own_gradients(*args, all_on(**{
        term: 0.0 for term in terms if term is not None}))
    for net, term in zip(TERMS, terms):
      if term is not None:
        assert gap(without[net], full[net]) > 100 * GRAD_TOL * scale(
            full[net]), (net, term)


@pytest.fixture(scope='module')
def summed_gradients(trainer):
  """Jitted gradient of the step's summed objective w.r.t. every net's
  parameters, as train_step takes it."""

  def gradients(params, batch_stats, batch, frozen, alpha, gp_rng, weights):
    return jax.grad(trainer._objectives, has_aux=True)(
        params, batch_stats, batch, frozen, alpha, gp_rng, weights)[0]

  return testing.jit(gradients)


@pytest.mark.parametrize('turn', ['E', 'S'])
def test_each_network_gets_its_own_objectives_gradient(
    trainer, state, batch, own_gradients, summed_gradients, turn):
  """Every net, on E's siamese turn and on S's."""
  alpha, gp_rng = draws(trainer)
  weights = (0.0, 1.0) if turn == 'E' else (1.0, 0.0)
  summed = summed_gradients(state.params, state.batch_stats, batch,
                            trainer.frozen, alpha, gp_rng, weights)
  own, _ = own_gradients(state.params, state.batch_stats, batch,
                         trainer.frozen['vgg'], alpha, gp_rng,
                         all_on(siamese_for_e=weights[1]))
  assert set(summed) == set(leed.NETS) == set(own)
  for name in leed.NETS:
    if name == 'siamese' and turn == 'E':
      # Off S's turn its objective weighs nothing.
      assert not any(np.any(leaf) for leaf in jax.tree.leaves(summed[name]))
      continue
    assert_gradients_close(summed[name], own[name], name)


@pytest.fixture(scope='module')
def sgd_step(trainer):
  return testing.loop_step(trainer)


@pytest.mark.parametrize('step', [0, 1])
def test_one_step_is_the_papers_update_by_hand(
    trainer, state, batch, own_gradients, sgd_step, step):
  """SGD: every network moves by its own objective's gradient, E's with
  lambda_S L_S on even steps, S on odd steps only; Dec's and Q's running
  statistics come from the reconstruction and from Q's pass."""
  before = at_step(trained_sgd_state(trainer, state), step)
  rng, (alpha, gp_rng) = step_rng_draws(trainer)
  after, _ = sgd_step(before, batch, rng)
  s_turn = step % 2 == 1
  own, new_stats = own_gradients(
      state.params, state.batch_stats, batch, trainer.frozen['vgg'], alpha,
      gp_rng, all_on(siamese_for_e=0.0 if s_turn else 1.0))
  assert int(after.step) == step + 1
  for name in leed.NETS:
    if name == 'siamese' and not s_turn:
      assert testing.tree_equal(before.params[name], after.params[name])
      assert testing.tree_equal(before.opt_state[name],
                                after.opt_state[name])
      continue
    assert_sgd_update(before.params[name], after.params[name], own[name],
                      name)
  for name in ('decoder', 'regularizer'):
    assert not testing.tree_equal(before.batch_stats[name],
                                  after.batch_stats[name])
    assert_gradients_close(after.batch_stats[name], new_stats[name], name)


@pytest.fixture(scope='module')
def adam_steps(trainer, state, batch):
  """(step 0's result, step 1's result) of the jitted step from the initial
  Adam state, at an even and at an odd step count."""
  step = testing.loop_step(trainer)
  rng, _ = step_rng_draws(trainer)
  return tuple(step(at_step(state, k), batch, rng) for k in (0, 1))


def test_init_gives_every_trained_network_its_own_adam(trainer, batch,
                                                       state):
  abstract = jax.eval_shape(trainer.init, testing.init_key(), batch)
  for part in ('params', 'batch_stats', 'opt_state'):
    assert (jax.tree.structure(getattr(abstract, part))
            == jax.tree.structure(getattr(state, part))), part
  assert set(abstract.params) == set(leed.NETS)
  assert set(abstract.optimizers) == set(leed.NETS)
  assert set(abstract.opt_state) == set(leed.NETS)
  for name in leed.NETS:
    adam = adam_moments(abstract.opt_state[name])
    for moment in (adam.mu, adam.nu):
      assert (jax.tree.structure(moment)
              == jax.tree.structure(abstract.params[name])), name
    assert testing.update_counts(state.opt_state[name]) == {0}
  # Only Dec and Q have BatchNorm statistics.
  assert {name for name in leed.NETS if abstract.batch_stats[name]} == {
      'decoder', 'regularizer'}


def test_a_jitted_step_returns_finite_float32_scalars(adam_steps):
  for _, metrics in adam_steps:
    testing.assert_finite_scalars(metrics, METRICS)


def test_adam_moves_each_network_by_its_own_gradient(
    trainer, state, batch, own_gradients, adam_steps):
  """From the initial state: Adam(config's schedule, b1, b2) on each net's
  own gradient; S on its (odd) turn only, its Adam state untouched else."""
  learning_rate = trainer.config.learning_rate
  adam = adam_first_step(trainer)
  _, (alpha, gp_rng) = step_rng_draws(trainer)
  for step, (after, _) in enumerate(adam_steps):
    s_turn = step % 2 == 1
    own, _ = own_gradients(state.params, state.batch_stats, batch,
                           trainer.frozen['vgg'], alpha, gp_rng,
                           all_on(siamese_for_e=0.0 if s_turn else 1.0))
    expected, expected_states = adam(state.params, own)
    for name in leed.NETS:
      if name == 'siamese' and not s_turn:
        assert testing.tree_equal(state.params[name], after.params[name])
        assert testing.tree_equal(state.opt_state[name],
                                  after.opt_state[name])
        continue
      assert testing.update_counts(after.opt_state[name]) == {1}, name
      assert_adam_update(state.params[name], after.params[name],
                         expected[name], own[name], learning_rate,
                         (step, name))
      assert_adam_moments(after.opt_state[name], expected_states[name],
                          (step, name))


def test_the_learning_rate_is_constant_then_linear_to_zero(trainer):
  config = trainer.config.copy_and_resolve_references()
  config.update(num_steps=100, decay_start_fraction=0.5, learning_rate=2e-4)
  schedule = leed.learning_rate_schedule(config)
  for step, expected in [(0, 2e-4), (50, 2e-4), (75, 1e-4), (100, 0.0)]:
    assert float(schedule(step)) == pytest.approx(expected, abs=1e-10)


def test_the_ablations_drop_q_and_s(trainer, state, batch, vgg_params,
                                    own_gradients):
  """Fig. 3's ablations, both at once (one compilation): Q and S have no
  optimizer and keep their parameters and statistics; X's objective is
  L_exp alone and E's has no L_S (step 0 is E's siamese turn); every
  other network's update is unchanged."""
  ablated = make_trainer(batch, vgg_params, use_q=False, use_siamese=False)
  dropped = {'regularizer', 'siamese'}
  assert set(ablated.optimizers()) == set(leed.NETS) - dropped
  abstract = jax.eval_shape(ablated.init, testing.init_key(), batch)
  assert set(abstract.opt_state) == set(leed.NETS) - dropped
  before = trained_sgd_state(ablated, state)
  rng, (alpha, gp_rng) = step_rng_draws(ablated)
  after, metrics = testing.loop_step(ablated)(before, batch, rng)
  assert not {'q_nll', 'siamese'} & set(metrics)
  for name in dropped:
    assert name not in after.opt_state
    assert testing.tree_equal(before.params[name], after.params[name])
    assert testing.tree_equal(before.batch_stats[name],
                              after.batch_stats[name])
  own, _ = own_gradients(state.params, state.batch_stats, batch,
                         trainer.frozen['vgg'], alpha, gp_rng,
                         all_on(q_for_x=0.0, siamese_for_e=0.0))
  for name in set(leed.NETS) - dropped:
    assert_sgd_update(before.params[name], after.params[name], own[name],
                      name)


def test_without_alternation_s_and_e_take_l_s_every_step(
    trainer, state, batch, vgg_params, own_gradients):
  """`siamese_alternate=False`: S learns, and E gets lambda_S L_S, on even
  and odd steps alike (Adam from the initial state)."""
  every_step = make_trainer(batch, vgg_params, siamese_alternate=False)
  step = testing.loop_step(every_step)
  rng, (alpha, gp_rng) = step_rng_draws(every_step)
  args = (state.params, state.batch_stats, batch, trainer.frozen['vgg'],
          alpha, gp_rng)
  own, _ = own_gradients(*args, all_on())
  without_l_s, _ = own_gradients(*args, all_on(siamese_for_e=0.0))
  adam = adam_first_step(every_step)
  expected, expected_without_l_s = (adam(state.params, gradients)[0]
                                    for gradients in (own, without_l_s))
  learning_rate = every_step.config.learning_rate
  for k in (0, 1):
    after, _ = step(at_step(state, k), batch, rng)
    for name in ('encoder', 'siamese'):
      assert testing.update_counts(after.opt_state[name]) == {1}
      assert_adam_update(state.params[name], after.params[name],
                         expected[name], own[name], learning_rate,
                         (k, name))
    # The comparison tells E's update with L_S from E's without.
    with pytest.raises(AssertionError):
      assert_adam_update(state.params['encoder'], after.params['encoder'],
                         expected_without_l_s['encoder'],
                         without_l_s['encoder'], learning_rate,
                         'E without L_S')

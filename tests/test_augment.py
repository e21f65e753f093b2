"""The judges' training degradations (leedjax/data/augment.py)."""

import sys
import textwrap

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from leedjax.data import augment

from conftest import REPO
import trainers_testing as testing

sys.path.insert(0, str(REPO / 'configs'))
import default as default_config  # pylint: disable=g-import-not-at-top,wrong-import-position


def _faces(batch=4, size=32):
  rng = np.random.default_rng(0)
  return jnp.asarray(rng.uniform(-1, 1, (batch, size, size, 3)), jnp.float32)


def _settings(**overrides):
  settings = ml_collections.ConfigDict(
      default_config.classifier_config('expression').augment.to_dict())
  settings.update(overrides)
  return settings


def test_blur_of_zero_sigma_is_the_identity_and_keeps_the_mean():
  images = _faces()
  np.testing.assert_allclose(augment.gaussian_blur(images, jnp.zeros(4)),
                             images, atol=1e-6)
  blurred = augment.gaussian_blur(images, jnp.full(4, 1.5))
  # Smoothing removes high frequencies: far less pixel-to-pixel change.
  def roughness(x):
    return float(jnp.mean(jnp.abs(jnp.diff(x, axis=2))))
  assert roughness(blurred) < 0.5 * roughness(images)
  # Edge padding and normalised taps: a constant image stays constant.
  constant = jnp.full((2, 16, 16, 3), 0.3)
  np.testing.assert_allclose(augment.gaussian_blur(constant,
                                                   jnp.array([0.5, 2.0])),
                             constant, atol=1e-6)


def test_blur_matches_a_hand_computed_kernel_in_the_middle():
  image = jnp.zeros((1, 17, 17, 3)).at[0, 8, 8].set(1.0)
  sigma = 1.0
  blurred = np.asarray(augment.gaussian_blur(image, jnp.array([sigma])))
  taps = np.arange(9) - 4
  kernel = np.exp(-0.5 * taps**2 / sigma**2)
  kernel /= kernel.sum()
  np.testing.assert_allclose(blurred[0, 4:13, 4:13, 0],
                             np.outer(kernel, kernel), atol=1e-6)


def test_shift_moves_content_by_whole_pixels_with_edges_extended():
  image = jnp.arange(8 * 8, dtype=jnp.float32).reshape(1, 8, 8, 1)
  shifted = augment.shift(image, jnp.array([[1, -2]]), max_shift=2)
  np.testing.assert_array_equal(shifted[0, 1:, :6], image[0, :-1, 2:])
  np.testing.assert_array_equal(shifted[0, 0, :6], image[0, 0, 2:])  # edge


def test_colour_adjustment_at_neutral_settings_is_the_identity():
  images = _faces()
  ones, zeros = jnp.ones(4), jnp.zeros(4)
  np.testing.assert_allclose(
      augment.adjust_colour(images, zeros, ones, ones), images, atol=1e-6)
  gray = augment.adjust_colour(images, zeros, ones, zeros)
  np.testing.assert_allclose(gray[..., 0], gray[..., 1], atol=1e-6)


def test_degrade_draws_per_example_stays_in_range_and_is_jittable():
  images = jnp.repeat(_faces(1), 16, axis=0)
  settings = _settings()
  out = jax.jit(lambda x, key: augment.degrade(x, key, settings))(
      images, jax.random.key(0))
  assert out.shape == images.shape
  assert float(out.min()) >= -1.0 and float(out.max()) <= 1.0
  # The same face, degraded differently per example.
  differences = jnp.mean(jnp.abs(out[1:] - out[:1]), axis=(1, 2, 3))
  assert float(differences.min()) > 0.0
  again = augment.degrade(images, jax.random.key(0), _settings())
  np.testing.assert_allclose(again, out, atol=1e-5)


@pytest.mark.parametrize('field', ['max_blur_sigma', 'max_noise_std',
                                   'brightness'])
def test_every_degradation_can_be_turned_off(field):
  none = _settings(blur_probability=0.0, max_blur_sigma=0.0,
                   max_shift_fraction=0.0, brightness=0.0, contrast=0.0,
                   saturation=0.0, max_noise_std=0.0)
  images = _faces()
  np.testing.assert_allclose(augment.degrade(images, jax.random.key(1), none),
                             jnp.clip(images, -1, 1), atol=1e-6)
  one_on = _settings(**{**none.to_dict(), field: _settings()[field],
                        'blur_probability': 1.0})
  changed = augment.degrade(images, jax.random.key(1), one_on)
  assert float(jnp.max(jnp.abs(changed - images))) > 1e-3


def test_degrade_of_a_batch_sharded_over_eight_devices_equals_one_device(
    tmp_path):
  """The judges' degradations run inside the sharded step: each example
  gets the same draws whichever device holds it (partitionable threefry),
  so data parallelism does not change what the judges train on."""
  images = np.asarray(_faces(batch=16))
  np.save(tmp_path / 'images.npy', images)
  expected = augment.degrade(jnp.asarray(images), jax.random.key(3),
                             _settings())
  testing.run_with_devices(textwrap.dedent(f"""
      import sys
      import jax, jax.numpy as jnp, numpy as np
      from leedjax.data import augment, sharding
      sys.path.insert(0, {testing.REPO_ROOT + '/tests'!r})
      import test_augment as t
      assert jax.device_count() == 8
      mesh = sharding.make_mesh()
      images = jax.device_put(np.load({str(tmp_path / 'images.npy')!r}),
                              sharding.batch_sharding(mesh))
      assert len(images.sharding.device_set) == 8
      out = jax.jit(lambda x, key: augment.degrade(x, key, t._settings()))(
          images, jax.random.key(3))
      np.save({str(tmp_path / 'sharded.npy')!r}, np.asarray(out))
  """), num_devices=8)
  np.testing.assert_allclose(np.load(tmp_path / 'sharded.npy'), expected,
                             atol=1e-5)

"""`from leedjax import edit, load_editor` on the smoke job's workdir: pure
and jit-able over the Editor pytree, uint8 or float images, one alpha per
example, extrapolation, clear errors; `--mode=export` serves without
leedjax."""

import json
import subprocess
import sys
import textwrap

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import leedjax
from leedjax import edit, load_editor

from conftest import run_main

pytestmark = pytest.mark.xdist_group('smoke_job')


@pytest.fixture(scope='module')
def editor(smoke_job):
  return load_editor(smoke_job[0])


def _faces(count, seed=0):
  return np.random.default_rng(seed).integers(0, 256, (count, 32, 32, 3),
                                              dtype=np.uint8)


def test_edit_is_pure_and_jittable_with_one_alpha_per_example(editor):
  faces, references = _faces(3), _faces(3, seed=1)
  alphas = jnp.array([0.0, 1.0, 1.5])
  jitted = jax.jit(edit)(editor, faces, references, alphas)
  assert jitted.shape == (3, 32, 32, 3) and jitted.dtype == jnp.float32
  assert float(jnp.min(jitted)) >= -1.0 and float(jnp.max(jitted)) <= 1.0
  for index, alpha in enumerate(alphas):
    one = edit(editor, faces, references, float(alpha))
    np.testing.assert_allclose(one[index], jitted[index], atol=1e-5)
  # Pure: the same call gives the same answer.
  np.testing.assert_array_equal(jax.jit(edit)(editor, faces, references,
                                              alphas), jitted)


def test_uint8_and_float_images_give_the_same_edit(editor):
  faces, references = _faces(2), _faces(2, seed=1)
  as_uint8 = edit(editor, faces, references, 1.0)
  as_float = edit(editor, faces / 127.5 - 1.0,
                  references.astype(np.float32) / 127.5 - 1.0, 1.0)
  np.testing.assert_allclose(as_uint8, as_float, atol=1e-5)


def test_alpha_zero_ignores_the_reference_and_alpha_two_does_not(editor):
  # Alpha scales the reference's expression code: at 0 the edit is the
  # input's neutral face whatever the reference; at 2 it moves.
  faces = _faces(2)
  zero_a = edit(editor, faces, _faces(2, seed=1), 0.0)
  zero_b = edit(editor, faces, _faces(2, seed=2), 0.0)
  np.testing.assert_allclose(zero_a, zero_b, atol=1e-6)
  two = edit(editor, faces, _faces(2, seed=1), 2.0)
  assert float(jnp.max(jnp.abs(two - zero_a))) > 0


def test_bad_inputs_are_named(editor):
  faces = _faces(2)
  with pytest.raises(ValueError, match=r'input must be .* \(B, 32, 32, 3\)'):
    edit(editor, faces[:, :16], faces, 1.0)
  with pytest.raises(ValueError, match='same number of images'):
    edit(editor, faces, faces[:1], 1.0)
  with pytest.raises(ValueError, match='alpha must be a scalar or have one'):
    edit(editor, faces, faces, jnp.ones(3))
  with pytest.raises(ValueError, match='uint8 .* or floats'):
    edit(editor, faces.astype(np.int32), faces, 1.0)


def test_a_workdir_without_a_trained_editor_says_what_to_run(tmp_path):
  with pytest.raises(leedjax.api.EditorNotFoundError,
                     match="'neutralizer' stage has not finished"):
    load_editor(tmp_path)


def test_editor_is_a_pytree_of_arrays(editor):
  leaves = jax.tree.leaves(editor)
  assert leaves and all(isinstance(leaf, jax.Array) for leaf in leaves)
  assert editor.spec.image_size == 32


def test_export_is_callable_without_leedjax(smoke_job, editor, tmp_path):
  workdir = smoke_job[0]
  result = run_main(workdir, '--mode=export')
  assert result.returncode == 0, result.stderr[-3000:]
  exported = workdir / 'export' / 'edit.jaxexport'
  signature = json.loads((workdir / 'export' / 'edit.json').read_text())
  assert 'cpu' in signature['platforms']
  faces, references = _faces(3), _faces(3, seed=1)
  alphas = np.array([0.0, 1.0, 1.5], np.float32)
  np.savez(tmp_path / 'inputs.npz', faces=faces, references=references,
           alphas=alphas)
  serve = textwrap.dedent(f"""
      import sys
      import numpy as np
      from jax import export
      edit = export.deserialize(open({str(exported)!r}, 'rb').read())
      inputs = np.load({str(tmp_path / 'inputs.npz')!r})
      out = edit.call(inputs['faces'], inputs['references'], inputs['alphas'])
      np.save({str(tmp_path / 'out.npy')!r}, np.asarray(out))
      assert not any(name.startswith('leedjax') for name in sys.modules)
      """)
  served = subprocess.run([sys.executable, '-c', serve], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300,
                          check=False)
  assert served.returncode == 0, served.stderr[-3000:]
  np.testing.assert_allclose(np.load(tmp_path / 'out.npy'),
                             edit(editor, faces, references, alphas),
                             atol=1e-5)


def test_export_without_a_trained_editor_fails_cleanly(tmp_path):
  result = run_main(tmp_path / 'empty', '--mode=export')
  assert result.returncode == 2
  assert 'Cannot export' in result.stderr and 'has not finished' in result.stderr
  assert not (tmp_path / 'empty' / 'export').exists()


def test_editor_networks_take_the_code_stride_they_were_trained_with():
  spec = leedjax.api.EditorSpec(image_size=32, width=1 / 16, g_conv_dim=8,
                                num_residual_blocks=1, num_classes=8,
                                code_stride=4)
  nets = spec.leed_networks()
  images = jax.ShapeDtypeStruct((2, 32, 32, 3), jnp.float32)
  code, _ = jax.eval_shape(nets['encoder'].init_with_output,
                           jax.random.key(0), images)
  assert code.shape == (2, 8, 8, 32)
  decoded, _ = jax.eval_shape(
      lambda c: nets['decoder'].init_with_output(jax.random.key(0), c,
                                                 train=False), code)
  assert decoded.shape == images.shape

"""Expression editing with a trained LEED model: pure, jit-able functions.

  I_B = Dec(I(E(I_N), alpha * X(E(R_B), E(R_N))))         (`mode='decode'`)

is the paper's edit: the input's neutral code plus alpha times the
reference's expression, decoded. Alpha 0 gives the input's neutral face,
alpha 1 the reference's expression, alpha > 1 exaggerates it (Fig. 7).

`mode='residual'` applies the same edit as a change to the input image:

  I_B = I_A + Dec(I(C_IN, alpha Delta_RB)) - Dec(I(C_IN, Delta_IA))

the difference between decoding the edited code and decoding the input's own
code along the same path. Where the edit changes nothing (hair, background,
clothes) the input's pixels are kept exactly, so a decoder that is still
blurry (a small model trained for minutes on a CPU) does not blur the whole
photograph. It is not in the paper; both modes use the same trained model.
"""

from typing import Any, Mapping

import jax
import jax.numpy as jnp

MODES = ('decode', 'residual')


def _codes(nets, variables, images):
  return nets['encoder'].apply({'params': variables['encoder']['params']},
                               images)


def _extract(nets, variables, code, neutral_code):
  return nets['extractor'].apply(
      {'params': variables['extractor']['params']}, code, neutral_code)


def _interpolate(nets, variables, identity_code, delta):
  return nets['interpolator'].apply(
      {'params': variables['interpolator']['params']}, identity_code, delta)


def _decode(nets, variables, code):
  return nets['decoder'].apply(variables['decoder'], code, train=False)


def edit_with_neutrals(nets: Mapping[str, Any], variables: Mapping[str, Any],
                       input_image: jax.Array, input_neutral: jax.Array,
                       reference_image: jax.Array,
                       reference_neutral: jax.Array, alpha,
                       mode: str = 'decode') -> jax.Array:
  """Edits given the neutral faces of input and reference.

  Args:
    nets: LEED's modules (`trainers.leed.make_networks`).
    variables: {net: flax variables} for encoder, decoder, extractor and
      interpolator.
    input_image, input_neutral, reference_image, reference_neutral: (B, S, S,
      3) in [-1, 1].
    alpha: scalar or (B,) intensity; 1 copies the reference's expression.
    mode: 'decode' (the paper) or 'residual' (see the module docstring).

  Returns:
    (B, S, S, 3) edited images, roughly in [-1, 1] (not clipped).
  """
  if mode not in MODES:
    raise ValueError(f'Unknown edit mode {mode!r}: choose one of {MODES}.')
  alpha = jnp.reshape(jnp.asarray(alpha, jnp.float32), (-1, 1, 1, 1))
  c_ia, c_in, c_rb, c_rn = jnp.split(_codes(nets, variables, jnp.concatenate(
      [input_image, input_neutral, reference_image, reference_neutral])), 4)
  delta_rb = _extract(nets, variables, c_rb, c_rn)
  edited_code = _interpolate(nets, variables, c_in, alpha * delta_rb)
  if mode == 'decode':
    return _decode(nets, variables, edited_code)
  own_code = _interpolate(nets, variables, c_in,
                          _extract(nets, variables, c_ia, c_in))
  edited, own = jnp.split(
      _decode(nets, variables, jnp.concatenate([edited_code, own_code])), 2)
  return input_image + edited - own


def reconstruct(nets: Mapping[str, Any], variables: Mapping[str, Any],
                images: jax.Array) -> jax.Array:
  """Dec(E(x)): faces ((B, S, S, 3) in [-1, 1]) encoded and decoded, what
  the autoencoder alone keeps of them (an edit can keep no more)."""
  return _decode(nets, variables, _codes(nets, variables, images))


def expression_features(nets: Mapping[str, Any],
                        variables: Mapping[str, Any], images: jax.Array,
                        neutrals: jax.Array) -> dict[str, jax.Array]:
  """The three feature sets of the paper's Fig. 4 for faces and their
  neutral faces ((B, S, S, 3) in [-1, 1]), each flattened to (B, D):
  'encoder' E(x), 'residual' E(x) - E(N(x)), 'extractor' X(E(x), E(N(x)))."""
  code, neutral_code = jnp.split(
      _codes(nets, variables, jnp.concatenate([images, neutrals])), 2)
  batch = images.shape[0]
  return {'encoder': code.reshape(batch, -1),
          'residual': (code - neutral_code).reshape(batch, -1),
          'extractor': _extract(nets, variables, code,
                                neutral_code).reshape(batch, -1)}

"""Editing with a trained ExprGAN: pure, jit-able functions.

ExprGAN (AAAI 2018) makes a face from an identity g(x) = G_enc(x) and an
expression code c (K class slots of d entries each, eq. 3):

  to a class at an intensity   G_dec(g(x), F_ctrl(y, t * 1_d))
  transfer from a reference    G_dec(g(x_A), c_B),  c_B from Q(x_B, y_B)

Intensity t in [0, 1] is the magnitude of the class slot (the issue's
reading of Fig. 3: training draws |z| in [0, 1] per entry, so t = 0 is the
weakest expression, t = 1 the strongest). A transfer's code keeps the
controller's form: the reference class's slot holds |Q|'s entries for that
slot and every other slot their negatives (F_ctrl(y_B, |Q(x_B, y_B)_yB|)),
so a Q that is still learning cannot mix classes. The paper predicts y_B with
an expression classifier; `transfer` takes the classes as an argument.

A neutral reference is transferred at full magnitude: the paper's classes
(Oulu-CASIA's six) all have an intensity, neutral has none, so Q can only
read it as the prior's mean (0.48 measured) and the generator draws an
ambiguous face there (docs/design.md, ExprGAN).

`variables` maps each of ExprGAN's nets to its flax variables
(`trainers.exprgan.NETS`); the discriminator runs in inference mode.
"""

from typing import Any, Mapping

import jax
import jax.numpy as jnp

from leedjax.nets import exprgan as exprgan_nets
from leedjax.trainers import exprgan as exprgan_lib

ENCODER = exprgan_lib.ENCODER
GENERATOR = exprgan_lib.GENERATOR
IMAGE_DISCRIMINATOR = exprgan_lib.IMAGE_DISCRIMINATOR


def identity_of(nets: Mapping[str, Any], variables: Mapping[str, Any],
                images: jax.Array) -> jax.Array:
  """g(x): (B, identity_dim) in (-1, 1) for faces in [-1, 1]."""
  return nets[ENCODER].apply({'params': variables[ENCODER]['params']}, images)


def class_code(labels: jax.Array, intensity, num_classes: int,
               code_dim: int) -> jax.Array:
  """F_ctrl(y, t * 1_d): (B, K*d) codes for integer `labels` (B,) at
  intensities `intensity` (scalar or (B,), in [0, 1])."""
  labels = jnp.asarray(labels)
  intensity = jnp.broadcast_to(jnp.asarray(intensity, jnp.float32),
                               labels.shape)
  onehot = jax.nn.one_hot(labels, num_classes)
  return exprgan_nets.expression_controller(
      onehot, jnp.repeat(intensity[:, None], code_dim, axis=1))


def reference_code(nets: Mapping[str, Any], variables: Mapping[str, Any],
                   references: jax.Array, labels: jax.Array,
                   num_classes: int, code_dim: int,
                   neutral: int | None = None) -> jax.Array:
  """c_B: Q's code of each reference given its class, in F_ctrl's form;
  references of class `neutral` (an index, or None) at magnitude 1."""
  onehot = jax.nn.one_hot(labels, num_classes)
  _, predicted = nets[IMAGE_DISCRIMINATOR].apply(
      variables[IMAGE_DISCRIMINATOR], references, onehot, train=False)
  slots = predicted.reshape(predicted.shape[0], num_classes, code_dim)
  magnitude = jnp.abs(
      jnp.take_along_axis(slots, labels[:, None, None], axis=1)[:, 0])
  if neutral is not None:
    magnitude = jnp.where((labels == neutral)[:, None], 1.0, magnitude)
  return exprgan_nets.expression_controller(onehot, magnitude)


def generate(nets: Mapping[str, Any], variables: Mapping[str, Any],
             identity: jax.Array, code: jax.Array) -> jax.Array:
  """G_dec(identity, code): (B, S, S, 3) faces in (-1, 1)."""
  return nets[GENERATOR].apply({'params': variables[GENERATOR]['params']},
                               identity, code)


def edit_to_class(nets, variables, images, labels, intensity, *,
                  num_classes: int, code_dim: int) -> jax.Array:
  """The faces with expression `labels` at `intensity` (Fig. 3)."""
  code = class_code(labels, intensity, num_classes, code_dim)
  return generate(nets, variables, identity_of(nets, variables, images),
                  code)


def transfer(nets, variables, images, references, reference_labels, *,
             num_classes: int, code_dim: int,
             neutral: int | None = None) -> jax.Array:
  """The faces wearing the references' expressions (Fig. 4); `neutral`:
  the neutral class's index, or None (see reference_code)."""
  code = reference_code(nets, variables, references, reference_labels,
                        num_classes, code_dim, neutral)
  return generate(nets, variables, identity_of(nets, variables, images),
                  code)

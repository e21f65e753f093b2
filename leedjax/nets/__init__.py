"""Flax linen networks, one file per family.

Trainable: `leed` (LEED's E, Dec, X, I, critic, Q, S), `stargan` (the
neutralizer), `classifier` (Psi), `exprgan`. Frozen, with ported weights:
`vgg`, `inception`, `fer`. Shared conventions (NHWC images in [-1, 1],
`dtype`/`param_dtype`, `train` and `batch_stats` for BatchNorm, `width`
multipliers) and `count_params` are in `layers`.
"""

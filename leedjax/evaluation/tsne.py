"""Exact t-SNE (van der Maaten & Hinton 2008) for feature visualisation.

The evaluation embeds a few hundred to a few thousand feature vectors in 2-D
(LEED Fig. 4), so the exact O(N^2) method is used; no Barnes-Hut tree.

1. Centre the features and project them onto their top `pca_dims` principal
   components (numpy `eigh`). Features are not scaled to unit variance per
   dimension: network codes have many near-constant dimensions, whose noise
   that scaling would amplify.
2. Per point, binary-search the precision of a Gaussian so that the
   conditional distribution p_{j|i} (paper Eq. 1) has the target perplexity
   2^H(P_i) (Eq. 3); then p_ij = (p_{j|i} + p_{i|j}) / 2N.
3. Gradient descent on KL(P || Q) with the Student-t Q (Eqs. 4-5): initial
   points from N(0, 1e-4 I), early exaggeration 12 for 250 iterations,
   momentum 0.5 then 0.8, per-parameter gains (+0.2 / x0.8, floor 0.01) as in
   the paper's reference code and bhtsne.

The learning rate is max(N / 12 / 4, 50): Belkina et al. (2019) take N over
the exaggeration for a gradient without Eq. 5's factor 4, which our gradient
keeps, hence the extra 4 (scikit-learn's 'auto'). Keeping
learning rate * 4 * exaggeration / N near 1 stops early exaggeration from
overshooting; the fixed 200 of the paper is too large for N of a few hundred
and too small for tens of thousands.
"""

import functools

import jax
import jax.numpy as jnp
import numpy as np

EARLY_EXAGGERATION = 12.0
EXAGGERATION_ITERATIONS = 250
INITIAL_MOMENTUM = 0.5
FINAL_MOMENTUM = 0.8
MIN_GAIN = 0.01

# Bisection stops when every row's entropy (in nats) is this close to
# log(perplexity); the perplexity is then within perplexity * 1e-10.
_ENTROPY_TOLERANCE = 1e-10
_MAX_SEARCH_STEPS = 200


def tsne(features: np.ndarray, *, perplexity: float = 30.0,
         num_iterations: int = 1000, seed: int = 0,
         pca_dims: int = 50) -> np.ndarray:
  """Embeds `features` in 2-D with exact t-SNE.

  Args:
    features: (N, D) finite feature vectors, one per row.
    perplexity: the effective number of neighbours each point's Gaussian
      covers; needs N >= 3 * perplexity + 1.
    num_iterations: gradient-descent steps; the first 250 use exaggeration.
    seed: seeds the initial embedding; equal seeds give equal outputs.
    pca_dims: principal components kept before computing affinities.

  Returns:
    (N, 2) float32 embedding, centred on the origin.

  Raises:
    ValueError: on a wrong shape, non-finite features, too few points for the
      perplexity, or non-positive settings.
  """
  features = np.asarray(features)
  _check(features, perplexity, num_iterations, pca_dims)
  joint = joint_probabilities(features, perplexity=perplexity,
                              pca_dims=pca_dims)
  num_points = features.shape[0]
  learning_rate = max(num_points / EARLY_EXAGGERATION / 4, 50.0)
  initial = 1e-2 * jax.random.normal(jax.random.key(seed), (num_points, 2))
  embedding = _optimise(jnp.asarray(joint, jnp.float32), initial,
                        jnp.float32(learning_rate), int(num_iterations))
  return np.asarray(embedding)


def _check(features, perplexity, num_iterations, pca_dims):
  if features.ndim != 2:
    raise ValueError(
        f'features must be 2-D (N, D); got shape {features.shape}')
  if not np.issubdtype(features.dtype, np.number):
    raise ValueError(f'features must be numeric; got dtype {features.dtype}')
  bad = np.size(features) - np.count_nonzero(np.isfinite(features))
  if bad:
    raise ValueError(f'features contain {bad} non-finite values (NaN or inf)')
  if not perplexity > 0:
    raise ValueError(f'perplexity must be positive; got {perplexity}')
  num_points = features.shape[0]
  if num_points < 3 * perplexity + 1:
    raise ValueError(
        f't-SNE needs N >= 3 * perplexity + 1 points; got N={num_points} '
        f'for perplexity {perplexity}: use perplexity <= '
        f'{max((num_points - 1) / 3, 0):.4g}')
  if int(num_iterations) != num_iterations or num_iterations < 1:
    raise ValueError(
        f'num_iterations must be a positive integer; got {num_iterations}')
  if int(pca_dims) != pca_dims or pca_dims < 1:
    raise ValueError(f'pca_dims must be a positive integer; got {pca_dims}')


def principal_components(features: np.ndarray, pca_dims: int) -> np.ndarray:
  """(N, min(pca_dims, N, D)) scores of the centred features on their top
  principal components, in float64.

  Eigen-decomposes the smaller of the Gram matrix X X^T and the scatter
  matrix X^T X rather than taking the SVD of X: one matrix product and a
  small `eigh`, about 8x faster than `np.linalg.svd` for N=840, D=8192,
  with the same leading components.
  """
  centred = features.astype(np.float64) - features.mean(0, dtype=np.float64)
  num_points, num_dims = centred.shape
  keep = min(pca_dims, num_points, num_dims)
  if num_dims > num_points:
    eigenvalues, eigenvectors = np.linalg.eigh(centred @ centred.T)
    top = np.argsort(eigenvalues)[::-1][:keep]
    # X = U S V^T: the scores X V = U S, with S^2 the Gram eigenvalues.
    return eigenvectors[:, top] * np.sqrt(np.maximum(eigenvalues[top], 0))
  eigenvalues, eigenvectors = np.linalg.eigh(centred.T @ centred)
  top = np.argsort(eigenvalues)[::-1][:keep]
  return centred @ eigenvectors[:, top]


def squared_distances(points: np.ndarray) -> np.ndarray:
  """(N, N) squared Euclidean distances, clipped at 0 against round-off."""
  norms = np.sum(points * points, axis=1)
  distances = norms[:, None] + norms[None, :] - 2 * points @ points.T
  np.fill_diagonal(distances, 0)
  return np.maximum(distances, 0)


def conditional_probabilities(sq_distances: np.ndarray,
                              perplexity: float) -> np.ndarray:
  """Row-stochastic p_{j|i} (paper Eq. 1), each row at the target perplexity.

  Bisects every row's Gaussian precision at once on the log scale: entropy
  falls monotonically as the precision grows.

  Args:
    sq_distances: (N, N) squared distances; the diagonal is ignored.
    perplexity: target 2^H of every row (H in bits), below N - 1.

  Returns:
    (N, N) float64 matrix with a zero diagonal and rows summing to 1.
  """
  sq_distances = np.asarray(sq_distances, np.float64)
  num_points = sq_distances.shape[0]
  off_diagonal = ~np.eye(num_points, dtype=bool)
  # Subtracting each row's nearest distance leaves p_{j|i} unchanged and
  # keeps exp() from underflowing to an all-zero row for far-off points.
  shifted = np.where(off_diagonal, sq_distances, np.inf)
  shifted = shifted - shifted.min(axis=1, keepdims=True)
  target = np.log(perplexity)
  scale = np.median(shifted[off_diagonal]) or 1.0
  log_low = np.full(num_points, -np.inf)
  log_high = np.full(num_points, np.inf)
  log_precision = np.full(num_points, -np.log(scale))
  for _ in range(_MAX_SEARCH_STEPS):
    probabilities, entropy = _gaussian_rows(shifted, np.exp(log_precision))
    too_flat = entropy > target
    if np.all(np.abs(entropy - target) < _ENTROPY_TOLERANCE):
      break
    log_low = np.where(too_flat, log_precision, log_low)
    log_high = np.where(too_flat, log_high, log_precision)
    # Double or halve the precision until the target is bracketed.
    log_precision = np.where(
        np.isinf(log_high), log_low + np.log(2.0),
        np.where(np.isinf(log_low), log_high - np.log(2.0),
                 (log_low + log_high) / 2))
  return probabilities


def _gaussian_rows(shifted, precision):
  """Normalised Gaussian rows and their entropies in nats."""
  weights = np.exp(-shifted * precision[:, None])  # exp(-inf) = 0 on diagonal
  total = weights.sum(axis=1, keepdims=True)
  probabilities = weights / total
  # H = log Z + precision * E[d]; finite even where weights underflow.
  mean_distance = np.sum(probabilities * np.where(np.isinf(shifted), 0,
                                                  shifted), axis=1)
  entropy = np.log(total[:, 0]) + precision * mean_distance
  return probabilities, entropy


def perplexities(conditional: np.ndarray) -> np.ndarray:
  """2^H of each row of a row-stochastic matrix (H in bits)."""
  logs = np.log(np.where(conditional > 0, conditional, 1.0))
  return np.exp(-np.sum(conditional * logs, axis=1))


def joint_probabilities(features: np.ndarray, *, perplexity: float = 30.0,
                        pca_dims: int = 50) -> np.ndarray:
  """Symmetric p_ij = (p_{j|i} + p_{i|j}) / 2N of `features`, summing to 1."""
  features = np.asarray(features)
  _check(features, perplexity, 1, pca_dims)
  points = principal_components(features, pca_dims)
  conditional = conditional_probabilities(squared_distances(points),
                                          perplexity)
  return (conditional + conditional.T) / (2 * features.shape[0])


def kl_divergence(joint: np.ndarray, embedding: np.ndarray) -> float:
  """KL(P || Q) in nats of a 2-D embedding under the Student-t Q (Eq. 4)."""
  joint = np.asarray(joint, np.float64)
  inverse = 1 / (1 + squared_distances(np.asarray(embedding, np.float64)))
  np.fill_diagonal(inverse, 0)
  similarity = inverse / inverse.sum()
  positive = joint > 0
  return float(np.sum(joint[positive]
                      * np.log(joint[positive] / similarity[positive])))


@functools.partial(jax.jit, static_argnums=3)
def _optimise(joint, initial, learning_rate, num_iterations):
  """Runs the gradient descent of the module docstring under one jit."""

  def step(iteration, state):
    embedding, update, gains = state
    early = iteration < EXAGGERATION_ITERATIONS
    exaggeration = jnp.where(early, EARLY_EXAGGERATION, 1.0)
    momentum = jnp.where(early, INITIAL_MOMENTUM, FINAL_MOMENTUM)
    gradient = _gradient(exaggeration * joint, embedding)
    # Grow the step where the gradient keeps pointing the same way as the
    # update (sign flip, since the update descends), shrink it otherwise.
    same_direction = jnp.sign(gradient) != jnp.sign(update)
    gains = jnp.where(same_direction, gains + 0.2, gains * 0.8)
    gains = jnp.maximum(gains, MIN_GAIN)
    update = momentum * update - learning_rate * gains * gradient
    embedding = embedding + update
    # KL is translation invariant; centring stops the cloud drifting.
    return embedding - embedding.mean(0), update, gains

  state = (initial, jnp.zeros_like(initial), jnp.ones_like(initial))
  return jax.lax.fori_loop(0, num_iterations, step, state)[0]


def _gradient(joint, embedding):
  """dC/dy_i = 4 sum_j (p_ij - q_ij)(y_i - y_j)(1 + |y_i - y_j|^2)^-1 (Eq. 5)."""
  norms = jnp.sum(embedding * embedding, axis=1)
  sq_distances = norms[:, None] + norms[None, :] - 2 * embedding @ embedding.T
  inverse = 1 / (1 + jnp.maximum(sq_distances, 0))
  inverse = inverse * (1 - jnp.eye(embedding.shape[0], dtype=inverse.dtype))
  similarity = inverse / jnp.sum(inverse)
  attraction_minus_repulsion = (joint - similarity) * inverse
  return 4 * (jnp.sum(attraction_minus_repulsion, axis=1, keepdims=True)
              * embedding - attraction_minus_repulsion @ embedding)


def neighbourhood_agreement(embedding: np.ndarray, labels: np.ndarray,
                            k: int = 10) -> float:
  """Mean fraction of each point's k nearest neighbours sharing its label.

  1 when every class forms its own tight cluster; about sum_c (n_c / N)^2
  (chance) when positions ignore the labels.

  Args:
    embedding: (N, d) points, usually a t-SNE output.
    labels: (N,) class of each point.
    k: neighbours per point, excluding the point itself; below N.

  Returns:
    The agreement in [0, 1].
  """
  embedding = np.asarray(embedding, np.float64)
  labels = np.asarray(labels)
  if embedding.ndim != 2:
    raise ValueError(
        f'embedding must be 2-D (N, d); got shape {embedding.shape}')
  if labels.shape != embedding.shape[:1]:
    raise ValueError(f'labels must have shape ({embedding.shape[0]},); got '
                     f'{labels.shape}')
  if not 1 <= k < embedding.shape[0]:
    raise ValueError(f'k must be in [1, N - 1 = {embedding.shape[0] - 1}]; '
                     f'got {k}')
  distances = squared_distances(embedding)
  np.fill_diagonal(distances, np.inf)
  neighbours = np.argpartition(distances, k - 1, axis=1)[:, :k]
  return float(np.mean(labels[neighbours] == labels[:, None]))

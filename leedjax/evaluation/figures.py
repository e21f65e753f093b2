"""The evaluation's figures (the LEED paper's Figs. 3, 4, 5 and 7).

The edit figures take the test images and an `edit(inputs, references,
alpha) -> uint8 edits` callable over indices into them (so the caller keeps
the neutral faces), write one PNG, and return nothing; `tsne_figure` returns
how compactly each feature set clusters by expression.
"""

import numpy as np

from leedjax.evaluation import plots
from leedjax.evaluation import tsne as tsne_lib


def edits_grid(path, rows: dict[str, np.ndarray], count: int) -> None:
  """The first `count` test pairs, one row per named image set (input,
  reference, neutral faces, each method's edit, the true answer); with the
  ablations' rows this is the paper's Fig. 3."""
  names = list(rows)
  plots.label_grid_png([np.asarray(rows[name][:count]) for name in names],
                       names, [f'pair {i}' for i in range(count)], path)


def interpolation_grid(path, images, edit, inputs, references,
                       alphas) -> None:
  """Fig. 7: each pair (one per row) edited at every alpha; 0 is the
  input's neutral face, above 1 extrapolates."""
  alphas = np.asarray(alphas, np.float32)
  rows = []
  for face, reference in zip(inputs, references):
    count = len(alphas)
    edits = edit(np.full(count, face), np.full(count, reference), alphas)
    rows.append(np.concatenate([images[[face, reference]], edits]))
  plots.label_grid_png(rows, [f'pair {i}' for i in range(len(rows))],
                       ['input', 'reference'] + [f'alpha {a:g}'
                                                 for a in alphas], path)


def angle_grid(path, images, edit, inputs, references, angles) -> None:
  """Fig. 5: one person at every camera angle (columns) wearing another's
  expression seen from every angle (rows), at alpha 1."""
  count = len(inputs)
  blank = np.full_like(images[:1], 255)
  rows = [np.concatenate([blank, images[inputs]])]
  for reference in references:
    edits = edit(np.asarray(inputs), np.full(count, reference),
                 np.ones(count, np.float32))
    rows.append(np.concatenate([images[[reference]], edits]))
  plots.label_grid_png(
      rows, ['inputs'] + [f'reference {a:+g} deg' for a in angles],
      ['reference'] + [f'input {a:+g} deg' for a in angles], path)


def tsne_figure(path, features: dict[str, np.ndarray], labels: np.ndarray,
                class_names, *, perplexity: float, seed: int) -> dict:
  """Fig. 4: t-SNE of each feature set, coloured by expression.

  Returns:
    {feature set: the share of each point's 10 nearest neighbours in the
    embedding that share its expression} (1: compact clusters; about
    1/classes: no clustering by expression).
  """
  perplexity = min(perplexity, (len(labels) - 1) / 3)
  panels, agreement = [], {}
  for name, values in features.items():
    embedding = tsne_lib.tsne(values, perplexity=perplexity, seed=seed)
    panels.append((name, embedding))
    agreement[name] = float(tsne_lib.neighbourhood_agreement(
        embedding, labels, k=min(10, len(labels) - 1)))
  plots.scatter_png(panels, labels, list(class_names), path)
  return agreement

"""The `evaluate` stage: how well the trained LEED model edits test faces.

Every test image is edited once as the input, towards a reference drawn
(seeded) from the test images of other subjects; with
`config.evaluate.pairing='same_angle'` the reference shares the input's
camera angle. Neutral faces come from the trained neutralizer. Measured:

- expression_accuracy: Psi calls the edit by the reference's expression;
- identity_retention: the identity judge calls the edit by the input's
  subject;
- ssim_edit: SSIM (dm-pix) of the edit against the exact answer SynthFaces
  renders (the input's identity, pose and gaze wearing the reference's
  expression), and the same for two baselines that edit nothing:
  ssim_copy_input and ssim_copy_reference;
- on SynthFaces, the judges' scores of the exact answers themselves
  (`*_of_true_edits`): the most an edit can score with these judges.

They are written to `<workdir>/results.json` with the job's wall time.
"""

import json
import time

import dm_pix
import jax
import jax.numpy as jnp
import numpy as np
from PIL import Image

from leedjax import editing
from leedjax import files
from leedjax.data import pipeline
from leedjax.data import synthfaces
from leedjax.data import tfds_synthfaces
from leedjax.stages import batched
from leedjax.trainers import base

RESULTS_FILE = 'results.json'


def make_pairs(subject, angle, pairing: str, seed: int) -> np.ndarray:
  """For each record, the index of its reference: another subject's record
  (and, for 'same_angle', one at the same camera angle)."""
  rng = np.random.default_rng([seed, 6])
  references = np.empty(len(subject), np.int64)
  for index in range(len(subject)):
    allowed = subject != subject[index]
    if pairing == 'same_angle':
      allowed &= angle == angle[index]
    elif pairing != 'any_angle':
      raise ValueError(f"Unknown config.evaluate.pairing {pairing!r}: use "
                       "'same_angle' or 'any_angle'.")
    candidates = np.flatnonzero(allowed)
    if not len(candidates):
      raise ValueError(
          f'No reference for test image {index}: the test split needs images '
          'of at least two subjects (at every angle, for same_angle pairs).')
    references[index] = rng.choice(candidates)
  return references


def _neutral_faces(context, records):
  config = context.config
  if config.neutralizer.use_renderer_neutral:
    catalog = synthfaces.Catalog(tfds_synthfaces.config_from(config.data).grid)
    return catalog.render_neutral(records['catalog_row'],
                                  config.data.image_size)
  neutralize = context.outputs['neutralizer']['neutralize']
  return batched.in_batches(
      lambda images: base.to_uint8(neutralize(pipeline.to_float(images))),
      [records['image']], config.evaluate.batch_size)


def run(context, stage_dir) -> dict:
  start = time.perf_counter()
  config, settings = context.config, context.config.evaluate
  records = batched.test_records(context, settings.batch_size)
  references = make_pairs(records['subject'], records['angle'],
                          settings.pairing, settings.seed)
  neutral = _neutral_faces(context, records)
  leed = context.outputs['leed']

  @jax.jit
  def edit(image, image_neutral, reference, reference_neutral):
    edited = editing.edit_with_neutrals(
        leed['nets'], leed['variables'], pipeline.to_float(image),
        pipeline.to_float(image_neutral), pipeline.to_float(reference),
        pipeline.to_float(reference_neutral), settings.alpha,
        mode=settings.edit_mode)
    return jnp.clip(jnp.round((edited + 1.0) * 127.5), 0, 255).astype(
        jnp.uint8)

  edits = batched.in_batches(edit, [records['image'], neutral,
                             records['image'][references],
                             neutral[references]], settings.batch_size)

  def predicted_class(name, images):
    return batched.predicted_classes(context.outputs[name]['predict'], images,
                                     settings.batch_size)

  results = {
      'expression_accuracy': float(np.mean(
          predicted_class('classifier', edits)
          == records['expression'][references])),
      'identity_retention': float(np.mean(
          predicted_class('identity_judge', edits) == records['subject'])),
      'psi_accuracy_on_real_test_images': float(np.mean(
          predicted_class('classifier', records['image'])
          == records['expression'])),
      'num_pairs': len(references),
      'pairing': settings.pairing,
      'edit_mode': settings.edit_mode,
      'alpha': settings.alpha,
  }
  if config.data.dataset == 'synth_faces':
    catalog = synthfaces.Catalog(tfds_synthfaces.config_from(config.data).grid)
    truth = catalog.render_edit(records['catalog_row'],
                                records['catalog_row'][references],
                                settings.alpha, config.data.image_size)
    ssim = jax.jit(lambda a, b: dm_pix.ssim(pipeline.to_float(a),
                                            pipeline.to_float(b)))

    def mean_ssim(images):
      return float(np.mean(batched.in_batches(ssim, [images, truth],
                                       settings.batch_size)))

    results.update(ssim_edit=mean_ssim(edits),
                   ssim_copy_input=mean_ssim(records['image']),
                   ssim_copy_reference=mean_ssim(records['image'][references]))
    # The judges' ceilings: their scores of the exact answers.
    results.update(
        expression_accuracy_of_true_edits=float(np.mean(
            predicted_class('classifier', truth)
            == records['expression'][references])),
        identity_retention_of_true_edits=float(np.mean(
            predicted_class('identity_judge', truth) == records['subject'])))
    _write_grid(stage_dir / 'edits.png', [
        records['image'], records['image'][references], neutral, edits,
        truth])
  else:
    _write_grid(stage_dir / 'edits.png', [
        records['image'], records['image'][references], neutral, edits])
  results['evaluate_seconds'] = round(time.perf_counter() - start, 3)
  results['wall_seconds'] = round(_earlier_stages_seconds(context)
                                  + results['evaluate_seconds'], 3)
  if jax.process_index() == 0:
    files.write_text(context.workdir / RESULTS_FILE,
                     json.dumps(results, indent=2, sort_keys=True))
  return results


def load(context, stage_dir):
  del context, stage_dir  # nothing for later stages


def _earlier_stages_seconds(context) -> float:
  """Wall time of the stages before this one, from their records."""
  total = 0.0
  for name in context.config.stages:
    if name == 'evaluate':
      break
    done = context.workdir / name / 'done.json'
    if done.is_file():
      total += json.loads(done.read_text()).get('wall_seconds', 0.0)
  return total


def _write_grid(path, rows, count: int = 16):
  """Rows of the first `count` test pairs: input, reference, ..., edit."""
  if jax.process_index() != 0:
    return
  grid = np.stack([np.asarray(row[:count]) for row in rows])
  num_rows, num, size = grid.shape[:3]
  image = grid.transpose(0, 2, 1, 3, 4).reshape(num_rows * size, num * size, 3)
  with files.atomic_path(path) as tmp:
    Image.fromarray(image).save(tmp, format='PNG')

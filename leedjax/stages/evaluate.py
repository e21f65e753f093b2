"""The `evaluate` stage (also `python -m leedjax.main --mode=evaluate`).

Every test image is edited once as the input, towards a reference drawn
(seeded) from the test images of other subjects (`config.evaluate.pairing`:
'any_angle', or 'same_angle'). Neutral faces come from the trained
neutralizer. The methods compared on these pairs:

- `leed`: the trained model, at `config.evaluate.alpha`;
- `leed_without_q`, `leed_without_s`: the paper's ablations (Fig. 3), when
  the config lists their stages;
- `stargan`: the neutralizer's StarGAN, translating the input to the
  reference's expression class (it needs the labels LEED does without);
- `exprgan`: ExprGAN's transfer (its Fig. 4), when the config lists its
  stages: the input's identity with the code Q reads from the reference
  given the reference's class (labels, like StarGAN);
- `copy_input`, `copy_reference`: baselines that edit nothing.

Each is scored by FID (ported Inception; real test images vs the method's
images), SSIM (dm-pix) and LPIPS (VGG16 v0.1) against the paper's target
(the dataset's image of the input's person with the reference's expression)
and, on SynthFaces, against the exact answer the renderer draws; expression
accuracy by Psi (the G protocol of Table 2) and, with `--judge=fer`, by fer's
real-face classifier; identity retention by the identity judge. Table 2's R
(Psi on the real test images) and R+G (evaluation/real_plus_generated.py)
complete the classification protocols. Figures: the edits, interpolation
and extrapolation (Fig. 7), camera angles (Fig. 5), ablations (Fig. 3) and
t-SNE of the encoder, residual and extractor features (Fig. 4). ExprGAN
adds its own (evaluation/exprgan.py): intensities, intensity agreement,
retrieval and the augmentation table. A config with ExprGAN and no LEED
reports ExprGAN's figures as the headline.

Writes `report.md`, `report.json` and the figures into the stage's
directory, and the headline numbers to `<workdir>/results.json`.
"""

import contextlib
import functools
import json
import time

import jax
import numpy as np

from leedjax import editing
from leedjax import files
from leedjax.data import pipeline
from leedjax.data import synthfaces
from leedjax.data import tfds_synthfaces
from leedjax.evaluation import exprgan as exprgan_eval
from leedjax.evaluation import fid as fid_lib
from leedjax.evaluation import figures
from leedjax.evaluation import real_plus_generated
from leedjax.evaluation import report as report_lib
from leedjax.evaluation import scores
from leedjax.evaluation import targets
from leedjax.stages import batched
from leedjax.stages import exprgan as exprgan_stage
from leedjax.stages import leed as leed_stage
from leedjax.trainers import base
from leedjax.trainers import stargan

RESULTS_FILE = 'results.json'
REPORT_JSON = 'report.json'
REPORT_MD = 'report.md'
JUDGES = ('psi', 'fer')


@contextlib.contextmanager
def _part(what: str):
  """Prints a line when a part of the evaluation starts and its time when
  it ends (process 0), so a run of minutes shows where it is."""
  start = time.perf_counter()
  if jax.process_index() == 0:
    print(f'  evaluate: {what} ...', flush=True)
  yield
  if jax.process_index() == 0:
    print(f'  evaluate: {what}: {time.perf_counter() - start:.1f} s',
          flush=True)


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


def _chosen(records, num_pairs, seed: int):
  """All test records, or a seeded `num_pairs` of them (in order)."""
  count = len(records['image'])
  if num_pairs is None or num_pairs >= count:
    return records
  if num_pairs < 2:
    raise ValueError(f'config.evaluate.num_pairs={num_pairs}: evaluate at '
                     'least 2 pairs, or None for every test image.')
  keep = np.sort(np.random.default_rng([seed, 8]).choice(count, num_pairs,
                                                          replace=False))
  return {key: values[keep] for key, values in records.items()}


def test_pairs(context, test_records):
  """The evaluation's test pairs among every test record
  (`batched.test_records`): (records of the chosen test images, each one's
  reference index, their neutral faces or None)."""
  settings = context.config.evaluate
  records = _chosen(test_records, settings.num_pairs, settings.seed)
  references = make_pairs(records['subject'], records['angle'],
                          settings.pairing, settings.seed)
  return records, references, _neutral_faces(context, records)


def _neutral_faces(context, records) -> np.ndarray | None:
  """The neutral faces LEED edits from; None without a neutralizer."""
  config = context.config
  if config.neutralizer.use_renderer_neutral:
    catalog = synthfaces.Catalog(tfds_synthfaces.config_from(config.data).grid)
    return catalog.render_neutral(records['catalog_row'],
                                  config.data.image_size)
  if 'neutralizer' not in context.outputs:
    return None
  neutralize = context.outputs['neutralizer']['neutralize']
  return batched.in_batches(
      lambda images: base.to_uint8(neutralize(pipeline.to_float(images))),
      [records['image']], config.evaluate.batch_size)


def leed_editor(leed_outputs, images, neutral, mode: str, batch_size: int):
  """(input indices, reference indices, alphas) -> uint8 edits."""

  # Variables are arguments, not constants baked into the compiled code.
  @jax.jit
  def edit(variables, image, image_neutral, reference, reference_neutral,
           alpha):
    return editing.edit_with_neutrals(
        leed_outputs['nets'], variables, *map(pipeline.to_float, (
            image, image_neutral, reference, reference_neutral)),
        alpha, mode=mode)

  def edit_indices(inputs, references, alphas):
    inputs, references = np.asarray(inputs), np.asarray(references)
    alphas = np.broadcast_to(np.asarray(alphas, np.float32), inputs.shape)
    return batched.in_batches(
        lambda *batch: base.to_uint8(edit(leed_outputs['variables'], *batch)),
        [images[inputs], neutral[inputs], images[references],
         neutral[references], alphas], batch_size)

  return edit_indices


def _stargan_edits(neutralizer, images, target_classes, batch_size: int):
  translate = jax.jit(lambda variables, x, c: stargan.translate(
      neutralizer['generator'], variables, pipeline.to_float(x), c))
  return base.to_uint8(batched.in_batches(
      functools.partial(translate, neutralizer['variables']),
      [images, np.asarray(target_classes)], batch_size))


def _methods(context, records, references, neutral, exprgan_editor):
  """{method: uint8 edits of every test pair}, and {LEED model: its editor
  over test indices} (see `leed_editor`)."""
  settings = context.config.evaluate
  everyone = np.arange(len(references))
  editors = {name: leed_editor(context.outputs[name], records['image'],
                               neutral, settings.edit_mode,
                               settings.batch_size)
             for name in ('leed', *leed_stage.ABLATIONS)
             if name in context.outputs}
  methods = {name: edit(everyone, references, settings.alpha)
             for name, edit in editors.items()}
  if 'neutralizer' in context.outputs:
    methods['stargan'] = _stargan_edits(
        context.outputs['neutralizer'], records['image'],
        records['expression'][references], settings.batch_size)
  if exprgan_editor is not None:
    methods['exprgan'] = exprgan_editor.transfer(
        records['image'], records['image'][references],
        records['expression'][references])
  methods['copy_input'] = records['image']
  methods['copy_reference'] = records['image'][references]
  return methods, editors


def edit_targets(context, records, references) -> dict:
  """{'paper': (images, mask)} and, on SynthFaces, {'true': ...}."""
  config, settings = context.config, context.config.evaluate
  size = config.data.image_size
  everyone = np.ones(len(references), bool)
  if config.data.dataset == 'synth_faces':
    catalog = synthfaces.Catalog(tfds_synthfaces.config_from(config.data).grid)
    rows = records['catalog_row']
    return {
        'paper': (targets.paper_targets_synthfaces(
            catalog, rows, rows[references], size), everyone),
        'true': (catalog.render_edit(rows, rows[references], settings.alpha,
                                     size), everyone)}
  keys = ('image', 'subject', 'expression', 'angle')
  pool = {key: records[key] for key in keys}
  found = targets.paper_target_indices(pool['subject'], pool['expression'],
                                       pool['angle'], references)
  if (found < 0).any():
    # A random split of photographs leaves most targets among the training
    # images: look there too (after the test images, which come first).
    train = batched.split_records(context, 'train', settings.batch_size)
    pool = {key: np.concatenate([pool[key], train[key]]) for key in keys}
    found = targets.paper_target_indices(pool['subject'], pool['expression'],
                                         pool['angle'], references)
  mask = found >= 0
  return {'paper': (pool['image'][np.maximum(found, 0)], mask)}


class Judges:
  """The classifiers that judge edits, each image -> predicted class."""

  def __init__(self, context, class_names):
    settings = context.config.evaluate
    self._batch = settings.batch_size
    self._outputs = context.outputs
    self.class_names = list(class_names)
    self.fer = None
    if 'fer' in settings.judges:
      from leedjax.weights import fer as fer_weights  # pylint: disable=g-import-not-at-top
      self.fer = fer_weights.load_fer_params()

  def psi(self, images):
    return batched.predicted_classes(self._outputs['classifier']['predict'],
                                     images, self._batch)

  def identity(self, images):
    if 'identity_judge' not in self._outputs:
      return None
    return batched.predicted_classes(
        self._outputs['identity_judge']['predict'], images, self._batch)

  def fer_accuracy(self, images, labels):
    if self.fer is None:
      return None
    judgeable = scores.fer_judgeable(self.class_names, labels)
    if not judgeable.any():
      return None
    predicted = scores.fer_classes(self.fer, self.class_names,
                                   images[judgeable], self._batch)
    return scores.mean(predicted == labels[judgeable])


def _score(edits, inputs, fid, wanted_expression, subject, target_sets,
           judges, lpips_params, batch_size) -> dict:
  row = {'fid': fid,
         'expression_accuracy': scores.mean(judges.psi(edits)
                                            == wanted_expression),
         # How far the edit moved from the input it started from.
         'ssim_input': scores.mean(scores.ssim(edits, inputs, batch_size))}
  identity = judges.identity(edits)
  row['identity_retention'] = (None if identity is None
                               else scores.mean(identity == subject))
  for name, (images, mask) in target_sets.items():
    if not mask.any():  # no test pair has this target (a small test split)
      row[f'ssim_{name}'] = row[f'lpips_{name}'] = None
      continue
    row[f'ssim_{name}'] = scores.mean(scores.ssim(edits[mask], images[mask],
                                                  batch_size))
    row[f'lpips_{name}'] = scores.mean(scores.lpips(
        lpips_params, edits[mask], images[mask], batch_size))
  if judges.fer is not None:
    row['fer_expression_accuracy'] = judges.fer_accuracy(edits,
                                                         wanted_expression)
  return row


# The judges are also scored on exact answers that lost all detail finer
# than this many pixels: they must judge content, not sharpness.
DEGRADED_SIDE = 16


def _judge_ceilings(judges, truth, wanted_expression, subject) -> dict:
  """The judges' scores of SynthFaces' exact answers (the most an edit can
  score), sharp and at `DEGRADED_SIDE` px."""
  ceilings = {}
  for suffix, images in (('', truth), (f'_at_{DEGRADED_SIDE}px',
                                       scores.at_resolution(truth,
                                                            DEGRADED_SIDE))):
    ceilings['expression_accuracy' + suffix] = scores.mean(
        judges.psi(images) == wanted_expression)
    identity = judges.identity(images)
    if identity is not None:
      ceilings['identity_retention' + suffix] = scores.mean(identity
                                                            == subject)
  return ceilings


def _generated_training_edits(context, editor_outputs, seed: int):
  """Table 2's G images for R+G: each training image edited towards a
  training reference of another subject, labelled with its expression."""
  settings = context.config.evaluate
  records = batched.split_records(context, 'train', settings.batch_size)
  references = make_pairs(records['subject'], records['angle'], 'any_angle',
                          seed)
  neutral = np.asarray(context.outputs['cache'].neutral[:, 0])
  edit = leed_editor(editor_outputs, records['image'], neutral,
                     settings.edit_mode, settings.batch_size)
  edits = edit(np.arange(len(references)), references, settings.alpha)
  return real_plus_generated.ArraySource(
      edits, subject=records['subject'],
      expression=records['expression'][references], angle=records['angle'],
      catalog_row=np.full(len(edits), -1, np.int32))


def _angle_figure_indices(records, class_names, expression_name: str):
  """Input and reference record indices for the camera-angle figure: one
  test subject's first expression (neutral where it has one) and another's
  `expression_name`, at every angle both have; None if fewer than two."""
  subjects = np.unique(records['subject'])
  if len(subjects) < 2 or expression_name not in class_names:
    return None
  wanted = class_names.index(expression_name)
  neutral = class_names.index('neutral') if 'neutral' in class_names else 0

  def first_at(subject, expression):
    found = {}
    for index in np.flatnonzero((records['subject'] == subject)
                                & (records['expression'] == expression)):
      found.setdefault(float(records['angle'][index]), index)
    return found

  inputs, references = first_at(subjects[0], neutral), first_at(subjects[1],
                                                                wanted)
  angles = sorted(set(inputs) & set(references))
  if len(angles) < 2:
    return None
  return ([inputs[a] for a in angles], [references[a] for a in angles],
          angles)


def _figures(context, stage_dir, records, references, neutral, methods,
             target_sets, editors, class_names) -> dict:
  """Writes every figure; returns {figure: file name} and the t-SNE
  agreement."""
  settings = context.config.evaluate
  count = min(settings.figure_pairs, len(references))
  written = {}
  rows = {'input': records['image'], 'reference': records['image'][references]}
  if neutral is not None:
    rows.update({'input neutral': neutral,
                 'reference neutral': neutral[references]})
  rows.update({name: edits for name, edits in methods.items()
               if not name.startswith('copy_')})
  if 'true' in target_sets:
    rows['true answer'] = target_sets['true'][0]
  figures.edits_grid(stage_dir / 'edits.png', rows, count)
  written['edits'] = 'edits.png'
  if any(name in methods for name in leed_stage.ABLATIONS):
    ablation_rows = {'input': rows['input'], 'reference': rows['reference']}
    for name, label in (('leed_without_q', 'w/o Q'),
                        ('leed_without_s', 'w/o S'), ('leed', 'final')):
      if name in methods:
        ablation_rows[label] = methods[name]
    figures.edits_grid(stage_dir / 'ablation.png', ablation_rows, count)
    written['ablation'] = 'ablation.png'
  if 'leed' not in editors:
    return written
  figures.interpolation_grid(stage_dir / 'interpolation.png',
                             records['image'], editors['leed'],
                             np.arange(count), references[:count],
                             settings.figure_alphas)
  written['interpolation'] = 'interpolation.png'
  chosen = _angle_figure_indices(records, class_names,
                                 settings.angle_figure_expression)
  if chosen is not None:
    figures.angle_grid(stage_dir / 'angles.png', records['image'],
                       editors['leed'], *chosen)
    written['angles'] = 'angles.png'
  return written


def _tsne(context, stage_dir, records, neutral, class_names) -> dict:
  settings = context.config.evaluate
  rng = np.random.default_rng([settings.seed, 7])
  count = min(settings.tsne_points, len(neutral))
  chosen = np.sort(rng.choice(len(neutral), count, replace=False))
  leed = context.outputs['leed']
  features_of = jax.jit(lambda variables, x, n: editing.expression_features(
      leed['nets'], variables, pipeline.to_float(x), pipeline.to_float(n)))
  features = batched.in_batches(
      functools.partial(features_of, leed['variables']),
      [records['image'][chosen], neutral[chosen]], settings.batch_size)
  # The paper's order (in_batches returns the keys sorted).
  features = {name: features[name]
              for name in ('encoder', 'residual', 'extractor')}
  return figures.tsne_figure(stage_dir / 'tsne.png', features,
                             records['expression'][chosen], class_names,
                             perplexity=settings.tsne_perplexity,
                             seed=settings.seed)


def run(context, stage_dir) -> dict:
  start = time.perf_counter()
  config, settings = context.config, context.config.evaluate
  unknown = set(settings.judges) - set(JUDGES)
  if unknown:
    raise ValueError(f'config.evaluate.judges={tuple(settings.judges)}: '
                     f'{sorted(unknown)} unknown; use any of {JUDGES}.')
  class_names = list(context.builder.info.features['expression'].names)
  with _part('test images and neutral faces'):
    records, references, neutral = test_pairs(
        context, batched.test_records(context, settings.batch_size))
  exprgan_outputs = exprgan_stage.final_outputs(context)
  exprgan_editor = (None if exprgan_outputs is None else
                    exprgan_eval.Editor(exprgan_outputs, settings.batch_size))
  with _part(f'edits of {len(references)} pairs by every method'):
    methods, editors = _methods(context, records, references, neutral,
                                exprgan_editor)
    target_sets = edit_targets(context, records, references)
  headline = primary_method(methods)
  judges = Judges(context, class_names)
  from leedjax.weights import inception as inception_weights  # pylint: disable=g-import-not-at-top
  from leedjax.weights import vgg16  # pylint: disable=g-import-not-at-top
  lpips_params = vgg16.load_lpips_params()
  if settings.fid:
    inception = inception_weights.load_inception_params()
    with _part('FID features of the real test images'):
      real_features = scores.inception_features(inception, records['image'],
                                                settings.fid_batch_size)
    real = fid_lib.FrechetReference(real_features)
  wanted = records['expression'][references]
  table = {}
  for name, edits in methods.items():
    with _part(f'{name}: FID, SSIM, LPIPS and the judges'):
      if not settings.fid:
        fid = None
      elif name == 'copy_input':
        fid = 0.0  # the real test images themselves
      elif name == 'copy_reference':  # real test images, resampled
        fid = real.fid(real_features[references])
      else:
        fid = real.fid(scores.inception_features(inception, edits,
                                                  settings.fid_batch_size))
      table[name] = _score(edits, records['image'], fid, wanted,
                           records['subject'], target_sets, judges,
                           lpips_params, settings.batch_size)

  protocols = {'R': scores.mean(judges.psi(records['image'])
                                == records['expression']),
               'G': table[headline]['expression_accuracy']}
  if settings.real_plus_generated and 'leed' in context.outputs:
    with _part('R+G: Psi retrained on real and edited training images'):
      generated = _generated_training_edits(context, context.outputs['leed'],
                                            settings.seed)
      r_plus_g = real_plus_generated.accuracy(context, stage_dir, generated)
    protocols['R+G'] = r_plus_g.pop('accuracy')
    protocols['R+G_details'] = r_plus_g
  if judges.fer is not None:
    protocols['R_fer'] = judges.fer_accuracy(records['image'],
                                             records['expression'])

  ceilings = {}
  if 'true' in target_sets:
    with _part('the judges on the exact answers, sharp and at 16 px'):
      ceilings = _judge_ceilings(judges, target_sets['true'][0], wanted,
                                 records['subject'])

  report = {
      'settings': {'num_pairs': len(references), 'pairing': settings.pairing,
                   'headline_method': headline,
                   'alpha': settings.alpha, 'edit_mode': settings.edit_mode,
                   'dataset': config.data.dataset,
                   'image_size': config.data.image_size,
                   'split_scheme': config.data.split_scheme,
                   'judges': list(settings.judges),
                   'neutral_faces': (
                       None if neutral is None else 'renderer'
                       if config.neutralizer.use_renderer_neutral
                       else 'stargan')},
      'methods': table,
      'classification_protocols': protocols,
      'judge_ceilings': ceilings,
  }
  if jax.process_index() == 0 and settings.figures:
    with _part('figures'):
      report['figures'] = _figures(context, stage_dir, records, references,
                                   neutral, methods, target_sets, editors,
                                   class_names)
    if 'leed' in context.outputs:
      with _part('t-SNE of the features (Fig. 4)'):
        report['figures']['tsne'] = 'tsne.png'
        report['tsne_neighbour_agreement'] = _tsne(context, stage_dir,
                                                   records, neutral,
                                                   class_names)
  if exprgan_editor is not None:
    report['exprgan'] = _exprgan_extras(context, stage_dir, exprgan_editor,
                                        records, class_names)
    report.setdefault('figures', {}).update(
        report['exprgan'].pop('figures'))
  report['evaluate_seconds'] = round(time.perf_counter() - start, 3)
  results = _results(context, report)
  if jax.process_index() == 0:
    files.write_text(stage_dir / REPORT_JSON,
                     json.dumps(report, indent=2, sort_keys=True))
    files.write_text(stage_dir / REPORT_MD, report_lib.markdown(report))
    files.write_text(context.workdir / RESULTS_FILE,
                     json.dumps(results, indent=2, sort_keys=True))
  return results


def primary_method(methods) -> str:
  """The method whose figures head `results.json`: LEED when trained,
  else ExprGAN."""
  for name in ('leed', 'exprgan'):
    if name in methods:
      return name
  raise ValueError('Nothing to evaluate: config.stages lists neither LEED '
                   "('leed') nor ExprGAN's stages before 'evaluate'.")


def _exprgan_extras(context, stage_dir, editor, records,
                    class_names) -> dict:
  """ExprGAN's intensity figure and agreement, retrieval and augmentation
  table (evaluation/exprgan.py)."""
  config, settings = context.config, context.config.evaluate
  extras = {'figures': {}}
  synthetic = config.data.dataset == 'synth_faces'
  catalog = (synthfaces.Catalog(tfds_synthfaces.config_from(config.data).grid)
             if synthetic else None)
  draw = jax.process_index() == 0 and settings.figures
  if draw:
    with _part('ExprGAN: one face at every class and intensity (Fig. 3)'):
      exprgan_eval.intensity_figure(stage_dir / 'exprgan_intensity.png',
                                    editor, records['image'][0], class_names)
      extras['figures']['exprgan_intensity'] = 'exprgan_intensity.png'
  with _part('ExprGAN: retrieval by code, label and pixels'):
    extras['retrieval'] = exprgan_eval.retrieval(
        stage_dir / 'exprgan_retrieval.png' if draw else None, editor,
        records, settings.figure_pairs, settings.seed,
        catalog.intensity[records['catalog_row']] if synthetic else None)
    if draw:
      extras['figures']['exprgan_retrieval'] = 'exprgan_retrieval.png'
  if synthetic:
    with _part('ExprGAN: requested vs rendered intensity'):
      extras['intensity_agreement'] = exprgan_eval.intensity_agreement(
          editor, catalog, records, config.data.image_size,
          settings.exprgan_intensity_inputs)
  if settings.exprgan_augmentation:
    with _part('ExprGAN: Psi retrained with generated faces (Table 1)'):
      extras['augmentation'] = exprgan_eval.augmentation(
          context, stage_dir, editor, settings.exprgan_augmentation,
          settings.seed)
  return extras


def _results(context, report) -> dict:
  """The headline numbers of `results.json` (issue 4's keys first): the
  headline method's (`primary_method`)."""
  methods = report['methods']
  settings = report['settings']
  headline = methods[settings['headline_method']]
  results = {
      'expression_accuracy': headline['expression_accuracy'],
      'headline_method': settings['headline_method'],
      'identity_retention': headline['identity_retention'],
      'fid_edit': headline['fid'],
      'ssim_paper_edit': headline['ssim_paper'],
      'lpips_paper_edit': headline['lpips_paper'],
      'psi_accuracy_on_real_test_images':
          report['classification_protocols']['R'],
      'num_pairs': settings['num_pairs'],
      'pairing': settings['pairing'],
      'edit_mode': settings['edit_mode'],
      'alpha': settings['alpha'],
      'evaluate_seconds': report['evaluate_seconds'],
  }
  if 'R+G' in report['classification_protocols']:
    results['expression_accuracy_real_plus_generated'] = (
        report['classification_protocols']['R+G'])
  results['ssim_edit_to_input'] = headline['ssim_input']
  if 'ssim_true' in headline:
    results.update(ssim_edit=headline['ssim_true'],
                   ssim_copy_input=methods['copy_input']['ssim_true'],
                   ssim_copy_reference=methods['copy_reference']['ssim_true'],
                   lpips_edit=headline['lpips_true'])
  if 'stargan' in methods:
    results.update(
        stargan_identity_retention=methods['stargan']['identity_retention'],
        stargan_expression_accuracy=methods['stargan']['expression_accuracy'],
        stargan_ssim=methods['stargan'].get('ssim_true'))
  if 'exprgan' in methods:
    exprgan = methods['exprgan']
    results.update(
        exprgan_identity_retention=exprgan['identity_retention'],
        exprgan_expression_accuracy=exprgan['expression_accuracy'],
        exprgan_ssim=exprgan.get('ssim_true'))
    agreement = report['exprgan'].get('intensity_agreement')
    if agreement:
      results['exprgan_intensity_correlation'] = agreement['pearson']
    if 'augmentation' in report['exprgan']:
      results['exprgan_augmentation_accuracy'] = report['exprgan'][
          'augmentation']
  for key, value in report['judge_ceilings'].items():
    results[f'{key}_of_true_edits'] = value
  results['wall_seconds'] = round(_earlier_stages_seconds(context)
                                  + report['evaluate_seconds'], 3)
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

"""Learning curves of a trained workdir, from the checkpoints its stages kept.

  python -m leedjax.curves --config=configs/synthetic.py --workdir=runs/synthetic

Each checkpoint a training stage kept (`config.<stage>.keep_checkpoints`) is
loaded and measured on the test split, with the job's finished judges and
neutralizer, so a curve says whether a stage was still improving when it
stopped and how long it should train (docs/design.md, Learning curves):

- `classifier` (Psi): test accuracy, sharp and degraded to 16 px;
- `identity_judge`: accuracy on its held-out images;
- `neutralizer`: its test neutral faces as the stage measures them (Psi calls
  them neutral, the identity judge still knows the person, SSIM to the exact
  neutral face on SynthFaces);
- `leed` and its ablations: the evaluation's test pairs edited (expression
  accuracy, identity retention, SSIM to the exact answer on SynthFaces) and
  the test faces merely encoded and decoded (SSIM to the face, Psi still
  calls its expression), which bounds what an edit keeps;
- ExprGAN's reconstruction and refinement stages: its transfers of the same
  pairs, scored like LEED's edits, and how often Psi calls the inputs made
  the reference's class at full intensity (Fig. 3's edit) that class.

The last point of `leed` is the evaluate stage's figure for the same pairs
and judges. Writes `DIR/curves/curves.json`, `curves.md` and one figure per
stage (`DIR/curves/<stage>.png`).
"""

import functools
import json
import pathlib
import time

from absl import app
from absl import flags
import jax
import numpy as np
from ml_collections import config_flags
import tensorflow_datasets as tfds

from leedjax import checkpoints
from leedjax import cli
from leedjax import config_checks
from leedjax import editing
from leedjax import files
from leedjax import run
from leedjax.data import pipeline
from leedjax.data import sharding
from leedjax.evaluation import exprgan as exprgan_eval
from leedjax.evaluation import plots
from leedjax.evaluation import scores
from leedjax.stages import Context
from leedjax.stages import batched
from leedjax.stages import classifier as classifier_stage
from leedjax.stages import evaluate
from leedjax.stages import leed as leed_stage
from leedjax.stages import neutralizer as neutralizer_stage
from leedjax.trainers import base

CURVES_DIR = 'curves'
# ExprGAN's controller stage trains G_dec from prior draws, without G_enc:
# a transfer, which encodes the input with G_enc, means nothing before the
# reconstruction stage.
EXPRGAN_MEASURED = ('exprgan_reconstruction', 'exprgan_refinement')


class NothingToMeasureError(RuntimeError):
  """The workdir has no finished stage whose checkpoints can be measured."""


def _fraction(hits) -> float:
  return float(np.mean(hits))


class _Measures:
  """What each stage's curve measures, on fixed test images and pairs."""

  def __init__(self, context: Context):
    self.context = context
    self.batch = context.config.evaluate.batch_size
    class_names = list(context.builder.info.features['expression'].names)
    self.judges = evaluate.Judges(context, class_names)
    self.test_records = batched.test_records(context, self.batch)
    # Fixed before any checkpoint replaces the finished neutralizer.
    self.records, self.references, self.neutral = evaluate.test_pairs(
        context, self.test_records)
    self.wanted = self.records['expression'][self.references]
    targets = evaluate.edit_targets(context, self.records, self.references)
    self.target, self.target_mask = targets.get('true', targets['paper'])

  def of(self, name: str) -> dict[str, float | None]:
    if name == 'classifier':
      return self._classifier()
    if name == 'identity_judge':
      return {'held_out_accuracy':
              classifier_stage.judge_held_out_accuracy(self.context)}
    if name == 'neutralizer':
      return neutralizer_stage.measure(self.context)
    if name in EXPRGAN_MEASURED:
      editor = exprgan_eval.Editor(self.context.outputs[name], self.batch)
      images = self.records['image']
      # Fig. 3's edit beside the transfer: told the class at full intensity
      # rather than given Q's code of the reference, which tells a
      # generator that ignores its code from a Q that reads it wrongly.
      to_class = editor.to_class(images, self.wanted, 1.0)
      return {**self._edit_scores(editor.transfer(
                  images, images[self.references], self.wanted)),
              'to_class_accuracy': _fraction(self.judges.psi(to_class)
                                             == self.wanted)}
    return {**self._leed_edits(name), **self._reconstructions(name)}

  def _classifier(self):
    """On every test image, as the classifier stage measures it."""
    test = self.test_records
    degraded = scores.at_resolution(test['image'], evaluate.DEGRADED_SIDE)
    return {'test_accuracy': classifier_stage.test_accuracy(self.context),
            f'test_accuracy_at_{evaluate.DEGRADED_SIDE}px': _fraction(
                self.judges.psi(degraded) == test['expression'])}

  def _edit_scores(self, edits) -> dict[str, float | None]:
    identity = self.judges.identity(edits)
    mask = self.target_mask
    return {
        'expression_accuracy': _fraction(self.judges.psi(edits)
                                         == self.wanted),
        'identity_retention': (None if identity is None else _fraction(
            identity == self.records['subject'])),
        'ssim_edit': float(np.mean(scores.ssim(edits[mask], self.target[mask],
                                               self.batch)))}

  def _leed_edits(self, name):
    settings = self.context.config.evaluate
    edit = evaluate.leed_editor(self.context.outputs[name],
                                self.records['image'], self.neutral,
                                settings.edit_mode, self.batch)
    return self._edit_scores(edit(np.arange(len(self.references)),
                                  self.references, settings.alpha))

  def _reconstructions(self, name):
    trained = self.context.outputs[name]
    images = self.records['image']
    # The variables are an argument, not constants compiled in.
    reconstruct = jax.jit(functools.partial(editing.reconstruct,
                                            trained['nets']))
    remade = batched.in_batches(
        lambda x: base.to_uint8(reconstruct(trained['variables'],
                                            pipeline.to_float(x))),
        [images], self.batch)
    return {'reconstruction_ssim': float(np.mean(scores.ssim(
                remade, images, self.batch))),
            'reconstruction_keeps_expression': _fraction(
                self.judges.psi(remade) == self.records['expression'])}


def measured_stages(config) -> list[str]:
  """The config's stages that have curves, in the order they are measured."""
  known = ('classifier', 'identity_judge', 'neutralizer', 'leed',
           *leed_stage.ABLATIONS, *EXPRGAN_MEASURED)
  return [name for name in config.stages if name in known]


def _load_finished(context: Context) -> list[str]:
  """Loads every finished stage before `evaluate`; returns their names."""
  finished = []
  for name in context.config.stages:
    stage_dir = context.workdir / name
    if name == 'evaluate' or not (stage_dir / run.DONE_FILE).is_file():
      continue
    run.STAGES[name][1](context, stage_dir)
    finished.append(name)
  return finished


def _load_step(context, name: str, step: int | None) -> None:
  """Puts stage `name`'s checkpoint of `step` (None: its final state) into
  `context.outputs`."""
  run.STAGES[name][1](context, context.workdir / name, step=step)


def measure(config, workdir: pathlib.Path) -> dict[str, list[dict]]:
  """{stage: [{'step': s, metric: value, ...} per kept checkpoint]} of every
  finished stage with curves; also written to `workdir/curves/`.

  Raises:
    NothingToMeasureError: no finished stage with curves, or no Psi to judge.
  """
  config_checks.check(config, num_devices=jax.device_count(),
                      num_processes=jax.process_count(),
                      known_stages=tuple(run.STAGES))
  context = Context(config=config, workdir=workdir,
                    mesh=sharding.make_mesh())
  finished = _load_finished(context)
  stages = [name for name in measured_stages(config) if name in finished]
  if 'classifier' not in finished or not stages:
    raise NothingToMeasureError(
        f'{workdir} has no finished classifier and training stage to '
        f'measure (finished: {finished or "none"}); train first: python -m '
        f'leedjax.main --config=... --workdir={workdir}')
  measures = _Measures(context)
  curves = {}
  for name in stages:
    steps = checkpoints.saved_steps(workdir / name / 'checkpoints')
    points = []
    for step in steps:
      start = time.perf_counter()
      _load_step(context, name, step)
      point = {'step': step, **measures.of(name)}
      points.append(point)
      _say(f'  curves: {name} step {step:,} ({time.perf_counter() - start:.1f}'
           f' s): ' + ', '.join(f'{key} {value:.3f}' for key, value in
                                point.items() if isinstance(value, float)))
    _load_step(context, name, None)  # later stages measure the finished one
    curves[name] = points
  if jax.process_index() == 0:
    _write(workdir / CURVES_DIR, curves)
  return curves


def _say(message: str) -> None:
  if jax.process_index() == 0:
    print(message, flush=True)


def _write(directory: pathlib.Path, curves: dict[str, list[dict]]) -> None:
  # In the order measured: stages as the config runs them, 'step' first.
  files.write_text(directory / 'curves.json', json.dumps(curves, indent=2))
  files.write_text(directory / 'curves.md', markdown(curves))
  for name, points in curves.items():
    if not points:
      continue
    metrics = _metric_names(points)
    plots.line_chart_png(
        f'{name} (x: training step)', [point['step'] for point in points],
        {metric: [point.get(metric) for point in points]
         for metric in metrics}, directory / f'{name}.png')


def _metric_names(points) -> list[str]:
  return [key for key in points[0] if key != 'step']


def markdown(curves: dict[str, list[dict]]) -> str:
  """One table per stage: a row per kept checkpoint."""
  lines = ['# Learning curves', '',
           'Each kept checkpoint measured on the test split with the '
           "job's finished judges (python -m leedjax.curves).", '']
  for name, points in curves.items():
    lines += [f'## {name}', '']
    if not points:
      lines += ['No checkpoint kept.', '']
      continue
    metrics = _metric_names(points)
    lines += ['| step | ' + ' | '.join(metrics) + ' |',
              '| ---: |' + ' ---: |' * len(metrics)]
    for point in points:
      cells = ['' if point.get(metric) is None else f'{point[metric]:.3f}'
               for metric in metrics]
      lines.append(f'| {point["step"]:,} | ' + ' | '.join(cells) + ' |')
    lines.append('')
  return '\n'.join(lines)


_CONFIG = config_flags.DEFINE_config_file(
    'config', None, 'The config the workdir was trained with.',
    lock_config=True)
_WORKDIR = flags.DEFINE_string('workdir', None, 'A trained workdir.')
flags.mark_flags_as_required(['config', 'workdir'])

_ERROR_EXITS = (
    (NothingToMeasureError, 'Cannot draw learning curves', cli.EXIT_BAD_INPUT),
    (config_checks.ConfigError, 'Invalid config', cli.EXIT_BAD_INPUT),
)


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'Unexpected arguments: {argv[1:]}')
  cli.quiet_library_logs()
  workdir = cli.user_path(_WORKDIR.value)

  def draw():
    tfds.disable_progress_bar()
    measure(cli.loaded_config(_CONFIG), workdir)
    print(f'Wrote {workdir / CURVES_DIR}/curves.md, curves.json and a figure '
          'per stage.')

  cli.guarded(draw, program='leedjax.curves', errors=_ERROR_EXITS,
              log_dir=workdir)


if __name__ == '__main__':
  app.run(main, flags_parser=cli.flags_parser('Invalid command line'))

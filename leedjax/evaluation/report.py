"""`report.md`: the evaluation's `report.json` as tables and figures."""

# Columns of the methods table: (report key, header, format).
_COLUMNS = (
    ('fid', 'FID (lower is better)', '{:.2f}'),
    ('ssim_paper', 'SSIM, paper', '{:.4f}'),
    ('ssim_true', 'SSIM, exact answer', '{:.4f}'),
    ('lpips_paper', 'LPIPS, paper', '{:.4f}'),
    ('lpips_true', 'LPIPS, exact answer', '{:.4f}'),
    ('ssim_input', 'SSIM to its input', '{:.4f}'),
    ('expression_accuracy', 'expression (Psi)', '{:.1%}'),
    ('fer_expression_accuracy', 'expression (fer)', '{:.1%}'),
    ('identity_retention', 'identity', '{:.1%}'),
)

_METHOD_NOTES = {
    'leed': 'LEED',
    'leed_without_q': 'LEED without Q (ablation)',
    'leed_without_s': 'LEED without S (ablation)',
    'stargan': 'StarGAN towards the reference\'s class (uses labels)',
    'exprgan': 'ExprGAN transfer: Q\'s code of the reference (uses labels)',
    'copy_input': 'copy the input (edits nothing)',
    'copy_reference': 'copy the reference',
}

_FIGURES = (
    ('edits', 'Test pairs: inputs, references, their neutral faces, each '
     'method\'s edit'),
    ('ablation', 'Ablations (Fig. 3): without Q, without S, final'),
    ('interpolation', 'Interpolation and extrapolation (Fig. 7): alpha 0 is '
     'the input\'s neutral face, 1 the reference\'s expression'),
    ('angles', 'Across camera angles (Fig. 5)'),
    ('tsne', 't-SNE of encoder, residual and extractor features, coloured '
     'by expression (Fig. 4)'),
    ('exprgan_intensity', 'ExprGAN: one test face as every class at five '
     'intensities, weak to strong (ExprGAN Fig. 3)'),
    ('exprgan_retrieval', 'ExprGAN: top-1 retrieval by expression code, label '
     'and pixels among other subjects\' test faces (ExprGAN Fig. 7)'),
)


def _cell(value, spec: str) -> str:
  return '-' if value is None else spec.format(value)


def _methods_table(methods: dict) -> list[str]:
  columns = [c for c in _COLUMNS
             if any(row.get(c[0]) is not None for row in methods.values())]
  lines = ['| method | ' + ' | '.join(c[1] for c in columns) + ' |',
           '| --- |' + ' ---: |' * len(columns)]
  for name, row in methods.items():
    cells = [_cell(row.get(key), spec) for key, _, spec in columns]
    lines.append(f'| {_METHOD_NOTES.get(name, name)} | '
                 + ' | '.join(cells) + ' |')
  return lines


def markdown(report: dict) -> str:
  """The report as Markdown (figures linked by file name)."""
  settings = report['settings']
  lines = [
      '# Evaluation report', '',
      f'{settings["num_pairs"]} test pairs of {settings["dataset"]} at '
      f'{settings["image_size"]} px ({settings["split_scheme"]} split, '
      f'{settings["pairing"].replace("_", " ")} pairs), alpha '
      f'{settings["alpha"]:g}, edit mode {settings["edit_mode"]}, neutral '
      f'faces from {settings["neutral_faces"] or "no neutralizer"}. '
      f'Headline method: {settings.get("headline_method", "leed")}. '
      'Written in '
      f'{report["evaluate_seconds"]:.0f} s.', '',
      '## Image quality and judges (Table 1)', '',
      *_methods_table(report['methods']), '',
      'FID compares the real test images with each method\'s images (the '
      'copies are real images: their FID is the floor at this sample size). '
      '"Paper" targets are the dataset\'s image of the input\'s person with '
      'the reference\'s expression (LEED Sec. 4.1); "exact answer" is the '
      'edit SynthFaces renders (input\'s identity, pose and gaze; '
      'reference\'s expression). Expression: the edit is classified as the '
      'reference\'s expression; identity: as the input\'s subject.', '',
      '## Expression classification protocols (Table 2)', '',
  ]
  protocols = report['classification_protocols']
  headline = {'leed': 'LEED', 'exprgan': 'ExprGAN'}[
      settings.get('headline_method', 'leed')]
  lines += ['| protocol | accuracy |', '| --- | ---: |',
            f'| R: Psi on the real test images | {_cell(protocols["R"], "{:.1%}")} |',
            f'| G: Psi on {headline}\'s edits | '
            f'{_cell(protocols["G"], "{:.1%}")} |']
  if 'R+G' in protocols:
    details = protocols['R+G_details']
    lines.append(
        f'| R+G: Psi\'s recipe trained on {details["num_real"]} real + '
        f'{details["num_generated"]} edited training images, on the real test '
        f'images | {_cell(protocols["R+G"], "{:.1%}")} |')
  if 'R_fer' in protocols:
    lines.append('| fer on the real test images (no contempt) | '
                 f'{_cell(protocols["R_fer"], "{:.1%}")} |')
  ceilings = report['judge_ceilings']
  if ceilings:
    lines += ['', 'The judges on the exact answers (the most an edit can '
              'score with them), sharp and after losing all detail finer '
              'than 16 px: ' + ', '.join(
                  f'{key.replace("_", " ")} {_cell(value, "{:.1%}")}'
                  for key, value in ceilings.items()) + '.']
  if 'tsne_neighbour_agreement' in report:
    lines += ['', '## Feature visualisation (Fig. 4)', '',
              'Share of each test image\'s 10 nearest t-SNE neighbours with '
              'its expression (1: compact clusters):', '',
              '| features | agreement |', '| --- | ---: |']
    lines += [f'| {name} | {value:.3f} |' for name, value in
              report['tsne_neighbour_agreement'].items()]
  if 'exprgan' in report:
    lines += ['', *_exprgan_lines(report['exprgan'])]
  figures = report.get('figures', {})
  if figures:
    lines += ['', '## Figures', '']
    for key, caption in _FIGURES:
      if key in figures:
        lines += [f'### {caption}', '', f'![{key}]({figures[key]})', '']
  return '\n'.join(lines).rstrip() + '\n'


def _exprgan_lines(extras: dict) -> list[str]:
  """ExprGAN's intensity agreement, retrieval and augmentation tables."""
  lines = ['## ExprGAN', '']
  agreement = extras.get('intensity_agreement')
  if agreement:
    means = ', '.join(f'{requested} -> {matched:.2f}' for requested, matched
                      in agreement['matched_mean'].items())
    lines += [f'Intensity agreement: {agreement["num_edits"]} edits to every '
              'non-neutral class, each matched to the nearest of the '
              'renderer\'s faces of that person and class at intensities '
              f'0-1; correlation of requested and matched intensity '
              f'{agreement["pearson"]:.3f} (mean matched intensity per '
              f'requested: {means}).', '']
  table = extras.get('retrieval')
  if table:
    gaps = any('intensity_gap' in row for row in table.values())
    lines += ['Top-1 retrieval (Fig. 7) among other subjects\' test faces:',
              '', '| by | same class | intensity gap |' if gaps
              else '| by | same class |',
              '| --- | ---: | ---: |' if gaps else '| --- | ---: |']
    for name, label in (('c', 'expression code c'), ('y', 'label y'),
                        ('x', 'pixels x')):
      row = table[name]
      cells = [f'{row["same_class"]:.1%}']
      if gaps:
        cells.append(f'{row["intensity_gap"]:.3f}')
      lines.append(f'| {label} | ' + ' | '.join(cells) + ' |')
    lines.append('')
  augmentation = extras.get('augmentation')
  if augmentation:
    lines += ['Data augmentation (Table 1): Psi\'s recipe trained on the real '
              'training images plus N ExprGAN faces, accuracy on the real '
              'test images:', '', '| N | accuracy |', '| ---: | ---: |']
    lines += [f'| {count} | {accuracy:.1%} |'
              for count, accuracy in augmentation.items()]
  return lines

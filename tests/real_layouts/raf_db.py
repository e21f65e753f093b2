"""RAF-DB's layout: `EmoLabel/list_patition_label.txt` (sic) with lines
`train_00001.jpg 5`, the aligned 100 x 100 faces at
`Image/aligned/train_00001_aligned.jpg` and the photographs at
`Image/original/train_00001.jpg`, the face where `FIXED_CROP` says."""

import pathlib

import real_layouts

# Written out here, not taken from the builder, so that a builder that
# misreads RAF-DB fails its tests.
LABEL_FILE = 'EmoLabel/list_patition_label.txt'
LABELS = {'surprised': 1, 'fearful': 2, 'disgusted': 3, 'happy': 4, 'sad': 5,
          'angry': 6, 'neutral': 7}
ALIGNED_SIDE = 100
# The photographs: 400 x 300, the face's square left of centre.
WIDTH, HEIGHT, CENTRE, SIDE = 400, 300, (150, 140), 150
FIXED_CROP = (CENTRE[0] / WIDTH, CENTRE[1] / WIDTH, SIDE / WIDTH)


def write_image(directory: pathlib.Path, stem: str, face) -> None:
  """Writes `stem`'s aligned face and its photograph."""
  real_layouts.write_jpeg(
      directory / 'Image' / 'aligned' / f'{stem}_aligned.jpg',
      real_layouts.photo(face, width=ALIGNED_SIDE, height=ALIGNED_SIDE,
                         centre=(ALIGNED_SIDE / 2, ALIGNED_SIDE / 2),
                         side=ALIGNED_SIDE))
  real_layouts.write_jpeg(
      directory / 'Image' / 'original' / f'{stem}.jpg',
      real_layouts.photo(face, width=WIDTH, height=HEIGHT, centre=CENTRE,
                         side=SIDE))


def write(directory: pathlib.Path, seed: int = 0) -> dict:
  """Writes the fixture: SynthFaces subject 0 in each of the seven classes
  as `train_0000N.jpg`, subject 1 as `test_000N.jpg`; then lines to leave
  out.

  Returns:
    {'train': [(class word, face)], 'test': [...], 'skipped': {reason
    fragment: count}}.
  """
  words = tuple(LABELS)
  rendered = real_layouts.faces(2, words, seed=seed)
  lines, kept = [], {'train': [], 'test': []}
  for subject, split in enumerate(('train', 'test')):
    for number, word in enumerate(words, 1):
      stem = (f'train_{number:05d}' if split == 'train'
              else f'test_{number:04d}')
      face = rendered[(subject, word, 0.0)]
      write_image(directory, stem, face)
      lines.append(f'{stem}.jpg {LABELS[word]}')
      kept[split].append((word, face))
  face = rendered[(0, 'happy', 0.0)]
  write_image(directory, 'train_00009', face)
  write_image(directory, 'val_0001', face)
  for path in ('Image/aligned/test_0008_aligned.jpg',
               'Image/original/test_0008.jpg'):
    real_layouts.write_corrupt_jpeg(directory / path)
  lines += [
      'train_00008.jpg',       # no label
      '',                      # (blank lines are passed over)
      'train_00009.jpg 8',     # not a label
      'val_0001.jpg 3',        # not a split's name
      'train_00010.jpg 4',     # no such image
      'test_0008.jpg 1',       # an image no decoder reads
  ]
  label_file = directory / LABEL_FILE
  label_file.parent.mkdir(parents=True, exist_ok=True)
  # Windows line ends, as a copy may have.
  label_file.write_text('\r\n'.join(lines) + '\r\n')
  kept['skipped'] = {'not like': 2, 'not among': 1, 'missing': 1,
                     'unreadable image': 1}
  return kept

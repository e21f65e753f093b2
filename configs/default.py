"""Defaults shared by every leedjax config; dataset configs import and override.

Every tunable is a field here; `--config.a.b=value` overrides any of them.
"""

import ml_collections

# RaFD's camera angles (degrees of yaw).
RAFD_ANGLES = (-90.0, -45.0, 0.0, 45.0, 90.0)


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.seed = 0
  # Stages `python -m leedjax.main` runs, in order; finished ones are skipped.
  config.stages = ('data',)

  # ---------------------------------------------------------------- data ---
  config.data = data = ml_collections.ConfigDict()
  # A TFDS builder name: 'synth_faces' (embedded, rendered locally), or a
  # licence-gated dataset prepared from the user's own copy ('rafd', 'cfeed').
  data.dataset = 'synth_faces'
  # Where TFDS writes and reads prepared datasets; None is TFDS's default
  # (~/tensorflow_datasets, or $TFDS_DATA_DIR).
  data.data_dir = ml_collections.FieldReference(None, field_type=str)
  data.image_size = 128
  # 'random': the papers' random 90/10 split of images; 'subject': no subject
  # appears in both train and test.
  data.split_scheme = 'random'
  data.test_fraction = 0.1
  data.split_seed = 0
  data.shuffle_seed = 0
  data.flip = True          # random horizontal flips of training images
  data.num_workers = 0      # grain worker processes (0 reads in-process)
  data.prefetch = 2         # batches read ahead

  # SynthFaces only: what the renderer puts in the grid (see data/synthfaces).
  data.synthfaces = synthfaces = ml_collections.ConfigDict()
  synthfaces.num_subjects = 67
  synthfaces.intensities = (0.4, 0.7, 1.0)
  synthfaces.angles = RAFD_ANGLES
  synthfaces.max_gaze = 0.5
  synthfaces.seed = 0

  # ------------------------------------------------------------ training ---
  config.batch_size = 24    # global batch, split over every device
  return config

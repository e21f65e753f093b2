"""Defaults shared by every leedjax config; dataset configs import and override.

Every tunable is a field here; `--config.a.b=value` overrides any of them.
"""

import ml_collections

from leedjax.nets import leed as leed_nets
from leedjax.trainers import exprgan as exprgan_trainer

# RaFD's camera angles (degrees of yaw).
RAFD_ANGLES = (-90.0, -45.0, 0.0, 45.0, 90.0)


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.seed = 0
  # Stages `python -m leedjax.main` runs, in order; finished ones are skipped.
  # Every stage's batch_size is global: split over every device.
  config.stages = ('data', 'classifier', 'neutralizer', 'cache', 'leed',
                   'identity_judge', 'evaluate')

  # ---------------------------------------------------------------- data ---
  config.data = data = ml_collections.ConfigDict()
  # A TFDS builder name: 'synth_faces' (embedded, rendered locally), or a
  # dataset read from the user's own copy in data.manual_dir ('rafd',
  # 'cfeed', 'oulu', 'affectnet', 'raf_db', 'image_folder';
  # leedjax/data/real/).
  data.dataset = 'synth_faces'
  # Where TFDS writes and reads prepared datasets; None is TFDS's default
  # (~/tensorflow_datasets, or $TFDS_DATA_DIR).
  data.data_dir = ml_collections.FieldReference(None, field_type=str)
  # Licence-gated datasets: the directory holding your own copy as its
  # owners distribute it (TFDS's manual_dir).
  data.manual_dir = ml_collections.FieldReference(None, field_type=str)
  # Real datasets: how faces are cut out ('detect', 'box', 'fixed',
  # 'center'; None: the dataset's own default, e.g. RaFD's fixed square),
  # the margin added around a detected or given face box (a fraction of
  # its side, each side), and the square of crop='fixed' as (centre x,
  # centre y, side) fractions of the image width (None: the dataset's).
  data.crop = ml_collections.FieldReference(None, field_type=str)
  data.crop_margin = 0.25
  data.fixed_crop = ml_collections.FieldReference(None, field_type=tuple)
  # Settings of one dataset's builder (its OPTIONS); dataset configs add
  # them, e.g. configs/cfeed.py's file-name pattern.
  data.options = ml_collections.ConfigDict()
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

  # ---------------------------------------------------------- classifier ---
  # Psi, the expression classifier (ResNet-18 style) whose penultimate
  # features LEED's Q predicts; trainers/classifier.py.
  config.classifier = classifier_config(label_key='expression')

  # ------------------------------------------------------ identity judge ---
  # The evaluation's subject classifier: it judges whether an edit kept the
  # input's identity, so it learns the subjects whose edits are judged.
  config.identity_judge = judge = classifier_config(label_key='subject')
  judge.num_steps = 2_000
  # Split of config.data.split_scheme it trains on: 'test' (the subjects
  # whose edits are evaluated) or 'train'.
  judge.train_split = 'test'
  # Share of that split's images held out to measure the judge itself.
  judge.holdout_fraction = 0.2

  # --------------------------------------------------------- neutralizer ---
  # StarGAN (the original release's RaFD recipe); trainers/stargan.py.
  config.neutralizer = neutralizer = ml_collections.ConfigDict()
  neutralizer.label_key = 'expression'
  neutralizer.g_conv_dim = 64
  neutralizer.d_conv_dim = 64
  neutralizer.num_residual_blocks = 6
  # Stride-2 convs in D; None: 6, or fewer below 64 px (a >= 1x1 last map).
  neutralizer.d_repeat_num = ml_collections.FieldReference(None,
                                                           field_type=int)
  # A step is n_critic D updates, then one G update: the release's 200k
  # iterations (D updates) are 40k steps.
  neutralizer.num_steps = 40_000
  neutralizer.batch_size = 16       # images per update; a step reads n_critic x
  neutralizer.n_critic = 5
  # Both constant for the first half of training, then linearly to 0.
  neutralizer.g_learning_rate = 1e-4
  neutralizer.d_learning_rate = 1e-4
  neutralizer.betas = (0.5, 0.999)
  neutralizer.lambda_cls = 1.0
  neutralizer.lambda_rec = 10.0
  neutralizer.lambda_gp = 10.0
  # Not in StarGAN's release: L1(G(x, c_x), x), CycleGAN's identity
  # mapping term, which keeps G from repainting what its target does not
  # ask it to change (colours, background). 0: the release.
  neutralizer.lambda_identity = 0.0
  # Not in StarGAN's release: neutral faces come from a moving average of
  # G's parameters (StarGAN v2's practice), which averages away the noise
  # of the last updates, with a ramped-up decay (stargan.ema_decay_at);
  # 0 uses G itself.
  neutralizer.ema_decay = 0.999
  # Comparison only: the cache stage takes SynthFaces' rendered true neutral
  # faces instead of StarGAN's. That is an oracle no real dataset has, so it
  # must never be the default; it measures what a perfect neutralizer buys.
  neutralizer.use_renderer_neutral = False
  _stage_schedule(neutralizer, log_every=100, checkpoint_every=2_000,
                  sample_every=1_000)

  # ----------------------------------------------------------------- leed ---
  # The paper's recipe (supplementary): Adam(1e-4, 0.5, 0.999), batch 24,
  # 100 epochs (constant for 50, then linear to 0), lambda_Q 0.01,
  # lambda_recon 10, lambda_S 1000, lambda_gp 100.
  config.leed = leed = ml_collections.ConfigDict()
  leed.width = 1.0               # E, Dec, X, I (1: the tables' widths)
  leed.critic_width = 1.0
  leed.regularizer_width = 1.0
  leed.siamese_width = 1.0
  # E's downsampling: 16 is the tables' (8x8 codes at 128 px); 8, 4 or 2
  # keep that 8x8 code at 64, 32 or 16 px.
  leed.code_stride = 16
  # Channels of E's conv blocks (a max-pool before blocks 2 .. log2(stride)
  # + 1; the last conv is the code) and of Dec's stages (upsampling before
  # the last log2(stride)), at width 1: the supplementary Tables 6 and 7.
  leed.encoder_blocks = leed_nets.ENCODER_BLOCKS
  leed.decoder_stages = leed_nets.DECODER_STAGES
  leed.batch_size = 24
  leed.num_steps = 30_150        # 100 epochs of RaFD's 7,236 training images
  leed.learning_rate = 1e-4
  leed.b1 = 0.5
  leed.b2 = 0.999
  leed.decay_start_fraction = 0.5
  leed.lambda_q = 0.01
  leed.lambda_recon = 10.0
  leed.lambda_s = 1000.0
  leed.lambda_gp = 100.0
  # Phi of the perceptual loss: ImageNet VGG16 layers (no VGG19 offline).
  leed.perceptual_layers = ('relu1_2', 'relu2_2', 'relu3_3', 'relu4_3')
  # Not in the paper: a squared pixel error beside the perceptual one (0: off).
  leed.pixel_weight = 0.0
  # Ablations of the paper's Fig. 3: without Q, without S.
  leed.use_q = True
  leed.use_siamese = True
  leed.siamese_alternate = True  # S and E's siamese term take turns
  _stage_schedule(leed, log_every=100, checkpoint_every=2_000,
                  sample_every=1_000)

  # -------------------------------------------------------------- exprgan ---
  # ExprGAN (AAAI 2018) with its authors' released hyperparameters
  # (trainers/exprgan.py). Its stages are not in `stages` yet.
  config.exprgan = exprgan = ml_collections.ConfigDict()
  exprgan.label_key = 'expression'
  exprgan.identity_dim = 50        # g(x)
  exprgan.code_dim = 5             # d: code entries per class
  exprgan.width = 1.0
  exprgan.batch_size = 48
  exprgan.learning_rate = 2e-4
  exprgan.betas = (0.5, 0.999)
  # The paper's identity loss uses VGG-Face conv{1..5}_2, which no package
  # offers offline: ImageNet VGG16's layers of the same names stand in.
  exprgan.identity_layers = ('relu1_2', 'relu2_2', 'relu3_2', 'relu4_2',
                             'relu5_2')
  exprgan.lambda_identity = 1.0             # lambda_1
  exprgan.lambda_q = 1.0                    # lambda_2 (the release: 1 too
                                            # in the reconstruction stage)
  exprgan.lambda_image_adversarial = 0.01   # lambda_3, refinement only
  exprgan.lambda_latent_adversarial = 0.01  # lambda_4, refinement only
  exprgan.lambda_tv = 0.001                 # lambda_5, refinement only
  # The release's run_oulu.sh: 50 epochs of batch 48 (1,296 Oulu-CASIA
  # training images, 27 steps an epoch) for reconstruction and for
  # refinement; the controller is given as many here.
  for stage in ('controller', 'reconstruction', 'refinement'):
    exprgan[stage] = ml_collections.ConfigDict()
    exprgan[stage].num_steps = 1_350
    _stage_schedule(exprgan[stage], log_every=25, checkpoint_every=250,
                    sample_every=250)

  # ---------------------------------------------------------------- cache ---
  config.cache = ml_collections.ConfigDict()
  config.cache.batch_size = 64   # images per forward pass of G and Psi

  # ------------------------------------------------------------- evaluate ---
  config.evaluate = evaluate = ml_collections.ConfigDict()
  # Each test image is edited towards a test reference of another subject:
  # 'same_angle' (the reference shares the camera angle) or 'any_angle'.
  evaluate.pairing = 'any_angle'
  # Test images edited (each the input of one pair): None for all, or a
  # seeded subset for a quicker evaluation.
  evaluate.num_pairs = ml_collections.FieldReference(None, field_type=int)
  evaluate.alpha = 1.0
  # 'decode': the paper's edit; 'residual': the same edit applied as a change
  # to the input image (see leedjax/editing.py).
  evaluate.edit_mode = 'decode'
  evaluate.batch_size = 64
  evaluate.seed = 0
  # Judges of the edits' expressions: 'psi' (always) and 'fer', fer's
  # real-face classifier (for photographs; `--judge=fer` adds it).
  evaluate.judges = ('psi',)
  evaluate.fid_batch_size = 50
  # FID (the ported Inception at 299 px: most of the evaluation's time on
  # a CPU) and Table 2's R+G (Psi's recipe trained on real plus edited
  # training images); off for a quick look at the other scores.
  evaluate.fid = True
  evaluate.real_plus_generated = True
  evaluate.figures = True
  # Figures: pairs shown, the alphas of the interpolation grid (Fig. 7), the
  # reference expression of the camera-angle grid (Fig. 5), and the t-SNE
  # of Fig. 4 (test images embedded, perplexity).
  evaluate.figure_pairs = 8
  evaluate.figure_alphas = (0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
  evaluate.angle_figure_expression = 'surprised'
  evaluate.tsne_points = 1_000
  evaluate.tsne_perplexity = 30.0
  # ExprGAN, when its stages are listed: test faces edited to every class at
  # five intensities for the intensity agreement (SynthFaces), and Table 1's
  # numbers of generated faces added to Psi's training images (0 is Psi;
  # each other count retrains Psi's recipe once; () skips the table).
  evaluate.exprgan_intensity_inputs = 40
  evaluate.exprgan_augmentation = (0, 3_000, 6_000, 30_000)
  return config


def _stage_schedule(section: ml_collections.ConfigDict, *, log_every: int,
                    checkpoint_every: int, sample_every: int,
                    keep_checkpoints: int = 2) -> None:
  """The loop's fields every trained stage has (in steps)."""
  section.log_every = log_every
  section.checkpoint_every = checkpoint_every
  section.sample_every = sample_every
  section.keep_checkpoints = keep_checkpoints


def classifier_config(label_key: str) -> ml_collections.ConfigDict:
  """A classifier stage: ResNet-18 style, AdamW, warmup then cosine decay."""
  section = ml_collections.ConfigDict()
  section.label_key = label_key   # the integer label field it learns
  section.width = 1.0             # channel multiplier (1: ResNet-18)
  # 4: ResNet-18's 7x7 stride-2 stem and max-pool; 2 or 1: one 3x3 conv of
  # that stride (1: CIFAR ResNets'), which keeps small images' detail.
  section.stem_stride = 4
  section.num_steps = 5_000
  section.batch_size = 64
  section.learning_rate = 1e-3
  section.warmup_steps = 200
  section.weight_decay = 0.01     # AdamW's decoupled decay
  section.label_smoothing = 0.0
  section.eval_batch_size = 256
  # The degradations a classifier of real photos sees (data/augment.py):
  # the paper's Psi learned from in-the-wild photos, and a judge trained on
  # sharp renders alone calls a perfect edit blurred to 16 px wrong
  # (docs/status.md). Each training image gets its own draw.
  section.augment = augment = ml_collections.ConfigDict()
  augment.enabled = True
  augment.blur_probability = 0.5
  augment.max_blur_sigma = 1.5       # pixels at 32 px, scaled with the side
  augment.max_shift_fraction = 0.0625  # of the side: 2 px at 32 px
  augment.brightness = 0.1           # offset, images in [-1, 1]
  augment.contrast = 0.2             # factor in [1 - c, 1 + c]
  augment.saturation = 0.3           # factor in [1 - s, 1 + s]
  augment.max_noise_std = 0.05
  _stage_schedule(section, log_every=100, checkpoint_every=1_000,
                  sample_every=1_000)
  return section


def smoke_trainers(config):
  """A few steps of each trainer, to check that everything runs."""
  for section in (config.classifier, config.identity_judge):
    section.num_steps = 4
    section.warmup_steps = 1
    section.batch_size = 8
    section.eval_batch_size = 16
  neutralizer = config.neutralizer
  neutralizer.num_steps = 2
  neutralizer.n_critic = 2         # the step unrolls n_critic D updates
  neutralizer.batch_size = 4
  neutralizer.g_conv_dim = 8
  neutralizer.d_conv_dim = 8
  neutralizer.num_residual_blocks = 1
  leed = config.leed
  for field in ('width', 'critic_width', 'regularizer_width',
                'siamese_width'):
    leed[field] = 0.125
  leed.batch_size = 4
  leed.num_steps = 2
  config.cache.batch_size = 16
  config.evaluate.batch_size = 16
  config.evaluate.num_pairs = 32      # of the 80 test images
  config.evaluate.fid_batch_size = 16
  for section in (config.classifier, config.identity_judge, neutralizer,
                  leed):
    section.log_every = 1
    section.checkpoint_every = 2
    section.sample_every = 2


def smoke_exprgan(config):
  """A few steps of each ExprGAN stage, to check that everything runs."""
  exprgan = config.exprgan
  exprgan.width = 1 / 16
  exprgan.batch_size = 4
  exprgan.identity_layers = ('relu1_2', 'relu2_2')
  for stage in exprgan_trainer.STAGES:
    section = exprgan[stage]
    section.num_steps = 2
    section.log_every = 1
    section.checkpoint_every = 2
    section.sample_every = 2
  config.evaluate.exprgan_intensity_inputs = 4
  config.evaluate.exprgan_augmentation = (0, 16)

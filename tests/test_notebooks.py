"""The notebooks: each runs top to bottom at smoke size (`pytest -m
notebooks`), and each is stored with its outputs (the default selection).

  python -m pytest -n 2 -m notebooks

executes every notebook in notebooks/ with nbclient in a kernel started in
notebooks/, as Jupyter starts one, with its outputs in a temporary
directory: `train_and_edit.ipynb` trains the smoke config (without the
judges and the evaluation), and `edit_photos.ipynb` edits with the workdir
it trained.

  python tests/test_notebooks.py [NAME.ipynb ...]

executes the notebooks (default: all) at the size they default to, writing
into the checkout's runs/, and stores them with their outputs
(notebooks/README.md).
"""

import os
import pathlib
import re
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError
from PIL import Image
import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPO / 'notebooks'
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob('*.ipynb'))
# The notebook that trains, and those that edit with the workdir it trained.
TRAINS = 'train_and_edit.ipynb'
USES_TRAINED = ('edit_photos.ipynb',)
# What the notebooks read to run at another size (LEEDJAX_NOTEBOOK_WORKDIR
# too): the smoke config, stopped after LEED (the notebooks show edits, not
# the evaluation's scores).
SMOKE = {
    'LEEDJAX_NOTEBOOK_CONFIG': 'configs/synthetic.py:smoke',
    'LEEDJAX_NOTEBOOK_OVERRIDES':
        "--config.stages=\"('data', 'classifier', 'neutralizer', 'cache', "
        "'leed')\"",
}
CELL_TIMEOUT_SECONDS = 1800
MAX_STORED_BYTES = 3_000_000
WIDGET_VIEW = 'application/vnd.jupyter.widget-view+json'
ANSI_CODES = re.compile(r'\x1b\[[0-9;]*m')


class NotebookError(AssertionError):
  """A cell of a notebook failed; the message holds its source and error."""


def execute(path: pathlib.Path, env: dict[str, str]):
  """Runs a notebook top to bottom in a `python3` kernel started in
  notebooks/ with `env`; returns it with its outputs.

  Raises:
    NotebookError: naming the notebook, the failed cell's source and its
      error.
  """
  notebook = nbformat.read(path, as_version=4)
  client = NotebookClient(
      notebook, kernel_name='python3', timeout=CELL_TIMEOUT_SECONDS,
      record_timing=False, resources={'metadata': {'path': str(path.parent)}})
  try:
    client.execute(env=env)
  except CellExecutionError as error:
    raise NotebookError(f'{path.name} failed:\n'
                        f'{ANSI_CODES.sub("", str(error))}') from None
  return notebook


def kernel_env(**variables: str) -> dict[str, str]:
  """This process's environment, leedjax importable from this checkout."""
  return dict(os.environ, PYTHONPATH=str(REPO), **variables)


def images_in(notebook) -> list[bytes]:
  return [output['data']['image/png']
          for cell in notebook.cells if cell.cell_type == 'code'
          for output in cell.outputs if 'image/png' in output.get('data', {})]


def text_in(notebook) -> str:
  return '\n'.join(output.get('text', '') + output.get('data', {}).get(
      'text/plain', '') for cell in notebook.cells if cell.cell_type == 'code'
                   for output in cell.outputs)


# ------------------------------------------------- executed at smoke size


@pytest.fixture(scope='session')
def smoke_env(tmp_path_factory):
  """The kernels' environment: smoke size, and TFDS's datasets (unless CI
  chose a directory) in a temporary directory."""
  env = kernel_env(**SMOKE)
  env.setdefault('TFDS_DATA_DIR', str(tmp_path_factory.mktemp('tfds')))
  return env


@pytest.fixture(scope='session')
def trained(smoke_env, tmp_path_factory):
  """train_and_edit.ipynb executed once: (notebook, its workdir)."""
  workdir = tmp_path_factory.mktemp('notebooks') / 'runs' / 'smoke'
  notebook = execute(NOTEBOOK_DIR / TRAINS,
                     dict(smoke_env, LEEDJAX_NOTEBOOK_WORKDIR=str(workdir)))
  return notebook, workdir


def _notebook_params():
  for path in NOTEBOOKS:
    shares_workdir = path.name in (TRAINS, *USES_TRAINED)
    yield pytest.param(path, id=path.name, marks=[pytest.mark.xdist_group(
        'trained_notebook')] if shares_workdir else [])


def _check_train_and_edit(notebook, workdir):
  # The sample grids of two stages, 3 loss-curve sheets, 2 edit grids, the
  # interpolation strip (the slider's own output stays in its widget).
  assert len(images_in(notebook)) >= 7
  assert (workdir / 'leed' / 'done.json').is_file()
  exported = workdir / 'export' / 'edit.jaxexport'
  assert exported.is_file() and exported.stat().st_size > 10_000
  text = text_in(notebook)
  assert 'Devices: [' in text and 'leed: global batch 4' in text
  difference = re.search(r'largest difference (\S+)', text)
  assert difference and float(difference.group(1)) < 1e-4, text[-2000:]


def _check_edit_photos(notebook, workdir):
  assert len(images_in(notebook)) >= 2
  out = workdir / 'photo_edits'
  # Two 256 px renders in; the edit and a strip of the input and 4 alphas.
  assert Image.open(out / 'edited.png').size == (256, 256)
  assert Image.open(out / 'strip.png').size == (5 * 256, 256)


CHECKS = {TRAINS: _check_train_and_edit,
          'edit_photos.ipynb': _check_edit_photos}


@pytest.mark.notebooks
@pytest.mark.parametrize('path', _notebook_params())
def test_notebook_runs_top_to_bottom(path, request, smoke_env, tmp_path):
  if path.name == TRAINS:
    notebook, workdir = request.getfixturevalue('trained')
  else:
    workdir = (request.getfixturevalue('trained')[1]
               if path.name in USES_TRAINED else tmp_path / 'workdir')
    notebook = execute(path, dict(smoke_env,
                                  LEEDJAX_NOTEBOOK_WORKDIR=str(workdir)))
  code = [cell for cell in notebook.cells if cell.cell_type == 'code']
  assert [cell.execution_count for cell in code] == list(
      range(1, len(code) + 1))
  assert images_in(notebook), f'{path.name} shows no image'
  if path.name in CHECKS:
    CHECKS[path.name](notebook, workdir)


# ------------------------------------------------- the stored notebooks


@pytest.mark.parametrize('path', NOTEBOOKS, ids=lambda path: path.name)
def test_notebook_is_stored_with_its_outputs(path):
  assert path.stat().st_size < MAX_STORED_BYTES, (
      f'{path.name} is {path.stat().st_size / 1e6:.1f} MB')
  notebook = nbformat.read(path, as_version=4)
  nbformat.validate(notebook)
  code = [cell for cell in notebook.cells if cell.cell_type == 'code']
  assert [cell.execution_count for cell in code] == list(
      range(1, len(code) + 1)), (
          f'{path.name} is not stored executed top to bottom; store it '
          'with `python tests/test_notebooks.py` (notebooks/README.md)')
  errors = [output for cell in code for output in cell.outputs
            if output.output_type == 'error']
  assert not errors, f'{path.name} is stored with an error: {errors[0]}'
  assert images_in(notebook), f'{path.name} is stored without its images'


def test_the_quick_config_passes_its_checks():
  sys.path.insert(0, str(REPO / 'configs'))
  import synthetic  # pylint: disable=g-import-not-at-top,import-outside-toplevel
  from leedjax import config_checks  # pylint: disable=g-import-not-at-top,import-outside-toplevel
  from leedjax import run  # pylint: disable=g-import-not-at-top,import-outside-toplevel
  quick, default = synthetic.get_config('quick'), synthetic.get_config()
  for devices in (1, 8):  # a CPU, a TPU v2-8 or v3-8
    config_checks.check(quick, num_devices=devices, num_processes=1,
                        known_stages=tuple(run.STAGES))
  # The default's data and networks, fewer steps.
  assert quick.data == default.data
  assert quick.leed.width == default.leed.width
  assert quick.leed.num_steps < default.leed.num_steps
  assert tuple(quick.stages) == tuple(default.stages)[:5]


# ------------------------------------------- storing them with outputs


def _for_storage(notebook):
  """Drops the widgets' views (they need a live kernel; their cells' static
  output follows them) and keeps each progress bar's last state."""
  notebook.metadata.pop('widgets', None)
  for cell in notebook.cells:
    if cell.cell_type != 'code':
      continue
    cell.outputs = [output for output in cell.outputs
                    if WIDGET_VIEW not in output.get('data', {})]
    for output in cell.outputs:
      if output.output_type == 'stream':
        output.text = '\n'.join(line.rstrip('\r').rsplit('\r', 1)[-1]
                                for line in output.text.split('\n'))
  return notebook


def store(paths) -> None:
  """Executes each notebook at its default size and writes it back with its
  outputs; the one that trains goes first, for those that use its workdir."""
  for path in sorted(paths, key=lambda path: path.name != TRAINS):
    print(f'Executing {path.relative_to(REPO)} ...', flush=True)
    notebook = _for_storage(execute(path, kernel_env()))
    nbformat.write(notebook, path)
    print(f'Stored {path.relative_to(REPO)} '
          f'({path.stat().st_size / 1e6:.2f} MB).', flush=True)


if __name__ == '__main__':
  store([NOTEBOOK_DIR / name for name in sys.argv[1:]] or NOTEBOOKS)

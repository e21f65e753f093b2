"""The README's commands, exactly as written, from a directory outside the
checkout with relative paths (a user's terminal): the photo editor and
export read the smoke job's relative workdir (the smoke job itself
was started the same way, see conftest.smoke_job)."""

import json
import pathlib
import re
import shlex

from PIL import Image
import pytest
import skimage.data

from conftest import REPO
from conftest import run_command

pytestmark = pytest.mark.xdist_group('smoke_job')


def readme_commands(module: str) -> list[list[str]]:
  """Every `python -m MODULE ...` command in the README's code blocks, with
  line continuations joined, as argv lists (without `python -m MODULE`)."""
  text = (REPO / 'README.md').read_text()
  blocks = re.findall(r'```bash\n(.*?)```', text, flags=re.S)
  commands = []
  for block in blocks:
    joined = re.sub(r'\\\n\s*', ' ', block)
    for line in joined.splitlines():
      line = line.split('  #')[0].strip()
      for part in line.split('&&'):
        words = shlex.split(part)
        if words[:3] == ['python', '-m', module]:
          commands.append(words[3:])
  return commands


def test_the_readme_has_the_commands_tested_here():
  main_args = readme_commands('leedjax.main')
  assert ['--config=configs/synthetic.py',
          '--workdir=runs/synthetic'] in main_args
  edit_args = readme_commands('leedjax.edit')
  assert edit_args and '--workdir=runs/synthetic' in edit_args[0]


def test_readme_photo_edit_runs_with_relative_paths(smoke_job):
  workdir = smoke_job[0]
  user_dir = workdir.parents[1]
  assert workdir == user_dir / 'runs' / 'synthetic'
  face = skimage.data.astronaut()
  Image.fromarray(face).save(user_dir / 'me.jpg')
  Image.fromarray(face).save(user_dir / 'smile.jpg')
  args = next(args for args in readme_commands('leedjax.edit')
              if '--gif' not in args)
  result = run_command('leedjax.edit', *args, cwd=user_dir)
  assert result.returncode == 0, result.stderr[-3000:]
  out = dict(arg[2:].split('=', 1) for arg in args)['out']
  alphas = dict(arg[2:].split('=', 1) for arg in args)['alpha'].split(',')
  width, height = Image.open(user_dir / out).size
  assert (width, height) == ((len(alphas) + 1) * face.shape[1],
                             face.shape[0])


def test_export_takes_a_relative_workdir(smoke_job):
  workdir = smoke_job[0]
  user_dir = workdir.parents[1]
  relative = pathlib.Path('runs') / 'synthetic'
  config = f'{REPO / "configs" / "synthetic.py"}:smoke'
  result = run_command('leedjax.main', f'--config={config}',
                       f'--workdir={relative}', '--mode=export',
                       cwd=user_dir)
  assert result.returncode == 0, result.stderr[-3000:]
  assert (workdir / 'export' / 'edit.jaxexport').is_file()
  signature = json.loads((workdir / 'export' / 'edit.json').read_text())
  assert signature

"""leedjax.cli: user errors are one message and a status, anything else a
one-line bug report with a crash log, never a traceback on the terminal."""

import os
import pathlib

import pytest

from leedjax import cli

from conftest import run_command


class _BadInput(ValueError):
  pass


def _raise(error):
  def body():
    raise error
  return body


def test_a_user_error_prints_its_prefix_and_exits_with_its_status(capsys):
  with pytest.raises(SystemExit) as exited:
    cli.guarded(_raise(_BadInput('no such photo: me.jpg')), program='tool',
                errors=((_BadInput, 'Cannot edit', 2),))
  assert exited.value.code == 2
  assert capsys.readouterr().err == 'Cannot edit: no such photo: me.jpg\n'


def test_a_bug_is_one_line_naming_a_crash_log_with_the_traceback(
    tmp_path, capsys):
  with pytest.raises(SystemExit) as exited:
    cli.guarded(_raise(KeyError('decoder')), program='leedjax.main',
                errors=((_BadInput, 'Cannot edit', 2),), log_dir=tmp_path)
  assert exited.value.code == cli.EXIT_BUG
  err = capsys.readouterr().err
  assert len(err.strip().splitlines()) == 1
  assert "KeyError: 'decoder'" in err and 'Traceback' not in err
  logs = list((tmp_path / 'logs').glob('leedjax-crash-leedjax.main-*.txt'))
  assert len(logs) == 1 and str(logs[0]) in err
  report = logs[0].read_text()
  assert 'Traceback (most recent call last)' in report
  assert 'in _raise' in report or 'in body' in report


def test_an_unwritable_log_dir_falls_back_to_the_temporary_directory(
    tmp_path, monkeypatch):
  blocker = tmp_path / 'file'
  blocker.write_text('not a directory')
  monkeypatch.setenv('TMPDIR', str(tmp_path / 'tmp'))
  (tmp_path / 'tmp').mkdir()
  import tempfile  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(tempfile, 'tempdir', None)
  assert cli.crash_log_dir(blocker) == tmp_path / 'tmp'


def test_ctrl_c_exits_130_without_a_traceback(capsys):
  with pytest.raises(SystemExit) as exited:
    cli.guarded(_raise(KeyboardInterrupt()), program='tool')
  assert exited.value.code == cli.EXIT_INTERRUPTED
  assert 'Traceback' not in capsys.readouterr().err


def test_user_path_is_absolute_and_relative_to_the_current_directory(
    tmp_path, monkeypatch):
  monkeypatch.chdir(tmp_path)
  assert cli.user_path('runs/x') == tmp_path / 'runs' / 'x'
  assert cli.user_path(tmp_path) == tmp_path
  assert cli.user_path('~/x') == pathlib.Path(os.path.expanduser('~/x'))


def test_a_crash_in_the_command_is_reported_not_shown(tmp_path):
  # A finished-looking workdir whose checkpoint is garbage: reading it
  # fails inside orbax, which the editor does not expect.
  workdir = tmp_path / 'runs' / 'broken'
  for stage in ('neutralizer', 'leed'):
    (workdir / stage / 'checkpoints' / '2' / 'train').mkdir(parents=True)
    (workdir / stage / 'checkpoints' / '2' / 'train' / 'junk').write_text('x')
    (workdir / stage / 'done.json').write_text('{}')
  (workdir / 'config.json').write_text('{"neutralizer": {}}')
  result = run_command('leedjax.main', '--config=unused',
                       '--workdir=runs/broken', '--mode=export', cwd=tmp_path)
  assert 'Traceback' not in result.stderr, result.stderr[-3000:]
  assert result.returncode in (cli.EXIT_BAD_INPUT, cli.EXIT_BUG)

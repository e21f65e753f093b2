"""What every leedjax command does around its work, so a user never sees a
traceback.

`guarded(body, program=..., errors=...)` runs a command's body:
  * an error the user can act on (a bad flag, a missing file, a config that
    cannot work) prints `PREFIX: message` on stderr and exits with its
    status (2 for bad input);
  * any other exception is a bug in leedjax: its traceback goes to a crash
    log, and the user sees one line that names the error and the log, and
    exit status 70 (EX_SOFTWARE);
  * Ctrl-C exits 130 with one line.
Third-party libraries' log lines are hidden below ERROR unless the user
passes `--verbosity` (`quiet_library_logs`).
"""

import datetime
import os
import pathlib
import platform
import sys
import tempfile
import traceback
from typing import Callable, Sequence

from absl import flags
from absl import logging
from ml_collections import config_flags

from leedjax import config_checks

EXIT_BAD_INPUT = 2
EXIT_BUG = 70        # EX_SOFTWARE: an internal error
EXIT_INTERRUPTED = 130

# (exception types, message prefix, exit status)
ErrorExits = Sequence[tuple[type[BaseException] | tuple[type[BaseException],
                                                        ...], str, int]]


def user_path(path: str | os.PathLike) -> pathlib.Path:
  """A path as the user typed it (relative to the current directory, `~`
  allowed), made absolute once, so that every library sees the same file
  whatever it does with the working directory (orbax needs absolute
  paths)."""
  return pathlib.Path(path).expanduser().absolute()


def loaded_config(config_flag: flags.FlagHolder):
  """A `config_flags.DEFINE_config_file` flag's ConfigDict;
  `config_checks.ConfigError` if its file could not be read (ml_collections
  defers that error to the config's first use)."""
  config = config_flag.value
  try:
    config.get('stages')
  except OSError as error:
    path = config_flags.get_config_filename(flags.FLAGS[config_flag.name])
    raise config_checks.ConfigError(
        f'cannot read --config file {path!r} (from '
        f'{user_path(".")}): {error.__cause__ or error}') from None
  return config


def flags_parser(prefix: str) -> Callable[[list[str]], list[str]]:
  """A flags parser for `absl.app.run` that reports a bad flag, a config
  file that fails to load or an override of a field no config has in one
  message and exits 2 (absl prints tracebacks for some of them)."""
  def parse(argv: list[str]) -> list[str]:
    try:
      return flags.FLAGS(argv)
    except (AttributeError, KeyError) as error:  # --config.no.such=1
      overrides = ' '.join(arg for arg in argv[1:]
                           if arg.startswith('--config.'))
      field = str(error).strip('\'"')
      message = f'no config field {field!r} (in {overrides})'
    except Exception as error:  # pylint: disable=broad-exception-caught
      message = _without_traceback(str(error))
    print(f'{prefix}: {message}\nPass --helpshort to see the flags.',
          file=sys.stderr)
    sys.exit(EXIT_BAD_INPUT)
  return parse


def _without_traceback(message: str) -> str:
  """An error message with any embedded traceback cut down to its last
  line (the exception itself), as ml_collections' config flags embed one."""
  if 'Traceback (most recent call last)' not in message:
    return message
  head = message.split('Traceback (most recent call last)')[0].strip()
  lines = [line.strip() for line in message.splitlines() if line.strip()]
  return f'{head} {lines[-1]}'.strip()


def quiet_library_logs() -> None:
  """Hides INFO and WARNING log lines of TFDS, orbax, grain and absl users
  unless `--verbosity` was passed; leedjax's own messages are printed."""
  if not flags.FLAGS.is_parsed() or not flags.FLAGS['verbosity'].present:
    logging.set_verbosity(logging.ERROR)
  # XLA's and TSL's C++ logging; set before the backend starts.
  os.environ.setdefault('TF_CPP_MIN_LOG_LEVEL', '2')


def crash_log_dir(preferred: str | os.PathLike | None = None) -> pathlib.Path:
  """`preferred/logs` when it can be written (a run's workdir), else the
  temporary directory."""
  if preferred:
    candidate = user_path(preferred) / 'logs'
    try:
      candidate.mkdir(parents=True, exist_ok=True)
      return candidate
    except OSError:
      pass
  return pathlib.Path(tempfile.gettempdir())


def write_crash_log(program: str, error: BaseException,
                    directory: pathlib.Path) -> pathlib.Path:
  """Writes the traceback, command line and versions; returns the file."""
  stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S')
  path = directory / f'leedjax-crash-{program}-{stamp}-{os.getpid()}.txt'
  versions = []
  for module in ('jax', 'jaxlib', 'flax', 'optax', 'orbax.checkpoint'):
    imported = sys.modules.get(module)
    versions.append(f'{module} {getattr(imported, "__version__", "?")}')
  lines = [f'leedjax crash report: {program}',
           f'command: {" ".join(sys.argv)}',
           f'cwd: {os.getcwd()}',
           f'python {platform.python_version()} on {platform.platform()}',
           ', '.join(versions), '',
           ''.join(traceback.format_exception(error))]
  path.write_text('\n'.join(lines), encoding='utf-8')
  return path


def _exit_for(error: BaseException, errors: ErrorExits):
  for kinds, prefix, status in errors:
    if isinstance(error, kinds):
      return prefix, status
  return None


def guarded(body: Callable[[], None], *, program: str,
            errors: ErrorExits = (), log_dir: str | os.PathLike | None = None
            ) -> None:
  """Runs `body`; turns every exception into a message and an exit status.

  Args:
    body: the command's work.
    program: the command's name, for messages and the crash log's name.
    errors: the errors a user can act on, as (types, prefix, status); the
      first that matches wins.
    log_dir: where a crash log goes (`log_dir/logs`, e.g. the workdir);
      None or unwritable: the temporary directory.
  """
  try:
    body()
  except KeyboardInterrupt:
    print(f'\n{program}: interrupted.', file=sys.stderr)
    sys.exit(EXIT_INTERRUPTED)
  except SystemExit:
    raise
  except Exception as error:  # pylint: disable=broad-exception-caught
    known = _exit_for(error, errors)
    if known is not None:
      prefix, status = known
      print(f'{prefix}: {error}', file=sys.stderr)
      sys.exit(status)
    try:
      log = write_crash_log(program, error, crash_log_dir(log_dir))
      where = f'the full report is in {log}'
    except OSError as log_error:
      where = f'no report could be written ({log_error})'
    summary = f'{type(error).__name__}: {error}'.splitlines()[0][:300]
    print(f'{program} failed with an internal error ({summary}); this is a '
          f'bug in leedjax, {where}. Please report it with that file.',
          file=sys.stderr)
    sys.exit(EXIT_BUG)

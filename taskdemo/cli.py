"""The command line: flags, their TASKDEMO_* environment twins (a flag wins), and one clear line for a bad value.

    python main.py [--host H] [--port P] [--native] [--tasks N] [--failure-rate F] [--min-duration S]
                   [--max-duration S] [--speed X] [--seed N] [--cors-origin URL ...] [--control-token T]
"""
from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, NoReturn

import platformdirs

from .settings import (
    DEFAULT_CORS_ORIGINS,
    MAX_TASKS,
    RunSettings,
    Settings,
    SettingsError,
    parse_int,
    parse_number,
    parse_seed,
)

ENV_PREFIX = 'TASKDEMO_'


class UsageError(Exception):
    """A flag or variable had a bad value; the message names it."""


def default_data_dir() -> Path:
    """The platform's folder for a user's application data (~/.local/share/taskdemo on Linux)."""
    return Path(platformdirs.user_data_dir('taskdemo', appauthor=False))


def _flag(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {'1', 'true', 'yes', 'on'}:
        return True
    if lowered in {'0', 'false', 'no', 'off', ''}:
        return False
    raise ValueError(text)


def _origins(text: str) -> tuple[str, ...]:
    return tuple(origin.strip() for origin in text.split(',') if origin.strip())


# name -> (parse, what the value must look like, help). Names are Settings/RunSettings fields.
OPTIONS: dict[str, tuple[Callable[[str], Any], str, str]] = {
    'host': (str, 'a host name or address', 'address to serve on (default 127.0.0.1: this machine only)'),
    'port': (parse_int, 'a whole number', 'port to serve on (default 8080)'),
    'tasks': (parse_int, 'a whole number', f'tasks per run, 1 to {MAX_TASKS:,} (default 50)'),
    'failure_rate': (parse_number, 'a finite number', 'probability that a task fails, 0 to 1 (default 0.2)'),
    'min_duration': (parse_number, 'a finite number', 'shortest task in simulated seconds (default 30)'),
    'max_duration': (parse_number, 'a finite number', 'longest task in simulated seconds (default 120)'),
    'speed': (parse_number, 'a finite number', 'simulated seconds per real second: 60 makes a 2-minute task take 2 s '
                                   '(default 1)'),
    'seed': (parse_seed, 'a whole number', 'random seed: the same seed gives exactly the same run (default: random)'),
    'concurrency': (parse_int, 'a whole number', 'at most this many tasks run at once; the rest wait '
                                                '(default 0: all at once)'),
    'control_token': (str, 'a text', 'when set, starting, resetting and cancelling need this token '
                                     '(Authorization: Bearer <token>); watching stays open'),
    'data_dir': (lambda text: Path(text).expanduser(), 'a folder', 'where runs are stored '
                 f'(default {default_data_dir()})'),
    'keep_runs': (parse_int, 'a whole number', 'how many past runs the history keeps (default 100)'),
}
RUN_FIELDS = ('tasks', 'failure_rate', 'min_duration', 'max_duration', 'speed', 'seed', 'concurrency')


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog='main.py', description='Serve the taskdemo live task board.',
                     epilog=f'Every option can also be set as an environment variable {ENV_PREFIX}<NAME> '
                            '(e.g. TASKDEMO_FAILURE_RATE=0.1, TASKDEMO_CORS_ORIGINS=a,b); a flag wins.')
    for name, (_, metavar, help_text) in OPTIONS.items():
        parser.add_argument(_flag_name(name), dest=name, metavar=metavar.split()[-1].upper(), help=help_text)
    parser.add_argument('--native', action='store_true', default=None,
                        help="open the board in a desktop window (needs: pip install -e '.[native]')")
    parser.add_argument('--compression', action='store_true', default=None,
                        help='compress WebSocket frames (permessage-deflate): about 12 times fewer bytes for /ws '
                             'viewers of large runs, for remote viewers on slow links; costs server CPU for every '
                             'connection (see README, Performance)')
    parser.add_argument('--cors-origin', dest='cors_origins', action='append', metavar='URL',
                        help='a web origin allowed to call the API from a browser; repeat for more '
                             f'(default {", ".join(DEFAULT_CORS_ORIGINS)})')
    return parser


def parse_args(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> Settings:
    """Settings from flags, then environment, then defaults. Raises UsageError naming the flag or variable."""
    argv = sys.argv[1:] if argv is None else argv
    env = os.environ if env is None else env
    given = vars(build_parser().parse_args(argv))
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, (parse, kind, _) in OPTIONS.items():
        raw, source = given[name], _flag_name(name)
        if raw is None and ENV_PREFIX + name.upper() in env:
            raw, source = env[ENV_PREFIX + name.upper()], ENV_PREFIX + name.upper()
        if raw is None:
            continue
        try:
            values[name] = parse(raw)
        except ValueError:
            raise UsageError(f'{source} must be {kind}, got {raw!r}') from None
        sources[name] = source
    for name, parse, text in (('native', _flag, env.get(ENV_PREFIX + 'NATIVE')),
                              ('compression', _flag, env.get(ENV_PREFIX + 'COMPRESSION')),
                              ('cors_origins', _origins, env.get(ENV_PREFIX + 'CORS_ORIGINS'))):
        if given[name] is not None:
            values[name] = tuple(given[name]) if name == 'cors_origins' else given[name]
        elif text is not None:
            try:
                values[name] = parse(text)
            except ValueError:
                raise UsageError(f'{ENV_PREFIX}{name.upper()} must be true or false, got {text!r}') from None
    values.setdefault('data_dir', default_data_dir())
    try:
        run = RunSettings(**{name: values.pop(name) for name in RUN_FIELDS if name in values})
        return Settings(run=run, **values)
    except SettingsError as error:
        source = sources.get(error.field, _flag_name(error.field))
        raise UsageError(f'{source} {error.problem}') from None


def _flag_name(name: str) -> str:
    return '--' + name.replace('_', '-')

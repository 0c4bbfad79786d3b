"""The command line: flags, their TASKDEMO_* environment twins (a flag wins), and one clear line for a bad value.

    python main.py [--host H] [--port P] [--native] [--tasks N] [--failure-rate F] [--min-duration S]
                   [--max-duration S] [--speed X] [--seed N] [--stall-rate F] [--task-timeout S]
                   [--cors-origin URL ...] [--control-token T] ...

The options are made from the rules in settings.py, so a bad value gets the message the API and the settings panel
give, with the flag's (or the variable's) name in front.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn

import platformdirs

from . import __version__
from .settings import (
    DEFAULT_CORS_ORIGINS,
    RUN_RULES,
    SERVER_RULES,
    Rule,
    RunSettings,
    Settings,
    SettingsError,
    default_of,
)

ENV_PREFIX = 'TASKDEMO_'
CHECKOUT = Path(__file__).resolve().parent.parent
METAVARS = {'whole': 'N', 'number': 'X', 'seed': 'N', 'limit': 'S', 'text': 'TEXT', 'path': 'DIR'}


class UsageError(Exception):
    """A flag or variable had a bad value; the message names it."""


def default_data_dir() -> Path:
    """The platform's folder for a user's application data (~/.local/share/taskdemo on Linux)."""
    return Path(platformdirs.user_data_dir('taskdemo', appauthor=False))


def native_install_hint() -> str:
    """How to add pywebview: to the checkout this runs from (an editable install), or to an installed taskdemo."""
    return install_hint('native')


def install_hint(extra: str) -> str:
    """How to add an extra: to the checkout this runs from (an editable install), or to an installed taskdemo."""
    if (CHECKOUT / 'pyproject.toml').is_file() and (CHECKOUT / 'main.py').is_file():
        return f"pip install -e '.[{extra}]'"
    return f"pip install 'taskdemo[{extra}]'"


def _flag(text: str) -> bool:
    lowered = text.strip().lower()
    if lowered in {'1', 'true', 'yes', 'on'}:
        return True
    if lowered in {'0', 'false', 'no', 'off', ''}:
        return False
    raise ValueError(text)


def _origins(text: str) -> tuple[str, ...]:
    return tuple(origin.strip() for origin in text.split(',') if origin.strip())


RULES = {**SERVER_RULES, **RUN_RULES}
ENV_NAMES = {'redis': ENV_PREFIX + 'REDIS_URL'}  # where the variable's name is not simply TASKDEMO_<NAME>


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(message)


def build_parser(prog: str | None = None) -> argparse.ArgumentParser:
    parser = _Parser(prog=prog, description='Serve the taskdemo live task board.',
                     epilog=f'Every option can also be set as an environment variable {ENV_PREFIX}<NAME> '
                            '(e.g. TASKDEMO_FAILURE_RATE=0.1, TASKDEMO_CORS_ORIGINS=a,b); a flag wins.')
    for name, rule in RULES.items():
        parser.add_argument(_flag_name(name), dest=name, metavar=METAVARS[rule.kind], help=_help(rule))
    parser.add_argument('--native', action='store_true', default=None,
                        help=f'open the board in a desktop window (needs pywebview: {native_install_hint()})')
    parser.add_argument('--compression', action='store_true', default=None,
                        help='compress WebSocket frames (permessage-deflate): about 12 times fewer bytes for /ws '
                             'viewers of large runs, for remote viewers on slow links; costs server CPU for every '
                             'connection (see README, Performance)')
    parser.add_argument('--cors-origin', dest='cors_origins', action='append', metavar='URL',
                        help='a web origin allowed to call the API from a browser; repeat for more '
                             f'(default {", ".join(DEFAULT_CORS_ORIGINS)})')
    parser.add_argument('--version', action='version', version=f'taskdemo {__version__}')
    return parser


def parse_args(argv: list[str] | None = None, env: Mapping[str, str] | None = None, *,
               prog: str | None = None) -> Settings:
    """Settings from flags, then environment, then defaults. Raises UsageError naming the flag or variable."""
    argv = sys.argv[1:] if argv is None else argv
    env = os.environ if env is None else env
    given = vars(build_parser(prog).parse_args(argv))
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for name, rule in RULES.items():
        raw, source, variable = given[name], _flag_name(name), ENV_NAMES.get(name, ENV_PREFIX + name.upper())
        if raw is None and variable in env:
            raw, source = env[variable], variable
        if raw is None:
            continue
        values[name] = rule.parse(raw)  # checked below, by the settings themselves, with their one message
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
        run = RunSettings(**{name: values.pop(name) for name in RUN_RULES if name in values})
        settings = Settings(run=run, **values)
    except SettingsError as error:
        source = sources.get(error.field, _flag_name(error.field))
        raise UsageError(f'{source} {error.problem}') from None
    if settings.redis is not None:
        _check_redis(settings.redis, sources['redis'])
    return settings


def _check_redis(url: str, source: str) -> None:
    """Cluster mode needs redis-py (the cluster extra) and a URL it can use."""
    if importlib.util.find_spec('redis') is None:
        raise UsageError(f"{source} needs the redis package: {install_hint('cluster')}")
    from .cluster.link import check_url
    try:
        check_url(url.strip())
    except ValueError as error:
        raise UsageError(f'{source} {error}') from None


def _help(rule: Rule) -> str:
    default = default_data_dir() if rule.name == 'data_dir' else default_of(rule.name)
    if default is None:
        shown = 'random' if rule.name == 'seed' else 'none'
    else:
        shown = f'{default:g}' if isinstance(default, float) else str(default)
    values = '' if rule.kind in {'text', 'path'} else f'; {rule.expected}'
    return f'{rule.help}{values} (default: {shown})'


def _flag_name(name: str) -> str:
    return '--' + name.replace('_', '-')

"""Settings: one frozen dataclass for a run, one for the server, and the one table of rules both are checked by.

Every setting has a `Rule`: what its values may be, how its text (a flag, a TASKDEMO_* variable, a field of the
settings panel, a shared link) is read, and what its help says. The CLI's options, the API's `POST /start` body and
the settings panel are all made from these rules, so a bad value gets the same message wherever it comes from; only
the name in front of it changes (`--tasks`, `TASKDEMO_TASKS`, `tasks`).
"""
from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any

MAX_TASKS = 10_000
MAX_DURATION_S = 7 * 24 * 3600.0
MAX_SPEED = 100_000.0
MAX_SEED = 2**63 - 1
MAX_PORT = 65_535
MAX_KEEP_RUNS = 100_000
MAX_TAKEOVER_LIMIT_S = 7 * 24 * 3600.0
DEFAULT_CORS_ORIGINS = ('http://localhost:3000',)
MAKE_A_TOKEN = "python3 -c 'import secrets; print(secrets.token_urlsafe(24))'"
RANDOM_SEED_TEXTS = {'', 'none', 'random'}
NO_LIMIT_TEXTS = {'', 'none'}


class SettingsError(ValueError):
    """A setting had a bad value; `field` is its Python name, `problem` says what is wrong with it."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f'{field_name} {problem}')
        self.field = field_name
        self.problem = problem


@dataclass(frozen=True)
class Rule:
    """The one definition of a setting's values.

    `kind` is 'whole' (an integer), 'number' (a finite float), 'seed' (a whole number or none), 'limit' (a number
    or none), 'text' or 'path'.
    Numbers lie from `low` to `high`; with `low_open` they must be greater than `low`.
    """

    name: str
    kind: str
    help: str
    low: float = 0
    high: float = 0
    low_open: bool = False
    what: str = ''  # what a value must be, when the kind alone does not say it well

    @property
    def expected(self) -> str:
        """What a value must be, as the messages and the help say it."""
        if self.what:
            return self.what
        low, high = _shown(self.low), _shown(self.high)
        if self.kind == 'whole':
            return f'a whole number from {low} to {high}'
        if self.kind == 'seed':
            return f'a whole number from {low} to {high}, or empty for a random one'
        if self.kind == 'limit':
            return f'a number greater than {low} and at most {high}, or none for no limit'
        if self.kind == 'number':
            return f'a number greater than {low} and at most {high}' if self.low_open else \
                f'a number from {low} to {high}'
        return 'a text that is not blank' if self.kind == 'text' else 'a folder'

    def parse(self, text: str) -> Any:
        """A value from text: numbers become numbers; anything else is left for `check` to name."""
        if self.kind == 'path':
            return Path(text).expanduser()
        if self.kind not in {'whole', 'number', 'seed', 'limit'}:
            return text
        stripped = text.strip()
        if self.kind == 'seed' and stripped.lower() in RANDOM_SEED_TEXTS:
            return None
        if self.kind == 'limit' and stripped.lower() in NO_LIMIT_TEXTS:
            return None
        for read in (lambda t: int(t, 10), float):
            try:
                return read(stripped)
            except ValueError:
                pass
        return text

    def check(self, value: Any) -> Any:
        """The value as the settings hold it; raises SettingsError with the one message for this setting."""
        if self.kind in {'seed', 'limit'} and value is None:
            return None
        if self.kind in {'whole', 'seed'}:
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            if isinstance(value, bool) or not isinstance(value, int) or not self.low <= value <= self.high:
                raise self.error(value)
            return value
        if self.kind in {'number', 'limit'}:
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise self.error(value)
            too_low = value <= self.low if self.low_open else value < self.low
            if too_low or value > self.high:
                raise self.error(value)
            return float(value)
        if self.kind == 'text':
            if not isinstance(value, str) or not value.strip():
                raise self.error(value)
            return value
        if not isinstance(value, Path):
            raise self.error(value)
        return value

    def error(self, value: Any) -> SettingsError:
        return SettingsError(self.name, f'must be {self.expected}, got {described(value)}')

    def json_schema(self) -> dict[str, Any]:
        """The value as OpenAPI describes it, from the same bounds."""
        if self.kind in {'whole', 'seed'}:
            schema: dict[str, Any] = {'type': 'integer', 'minimum': int(self.low), 'maximum': int(self.high)}
            return {'anyOf': [schema, {'type': 'null'}]} if self.kind == 'seed' else schema
        bound = 'exclusiveMinimum' if self.low_open else 'minimum'
        schema = {'type': 'number', bound: self.low, 'maximum': self.high}
        return {'anyOf': [schema, {'type': 'null'}]} if self.kind == 'limit' else schema


RUN_RULES: dict[str, Rule] = {rule.name: rule for rule in (
    Rule('tasks', 'whole', 'tasks per run', 1, MAX_TASKS),
    Rule('failure_rate', 'number', 'probability that a task fails', 0.0, 1.0),
    Rule('min_duration', 'number', 'shortest task, in simulated seconds', 0.0, MAX_DURATION_S, low_open=True),
    Rule('max_duration', 'number', 'longest task, in simulated seconds', 0.0, MAX_DURATION_S, low_open=True),
    Rule('speed', 'number', 'simulated seconds per real second: 60 makes a 2-minute task take 2 s',
         0.0, MAX_SPEED, low_open=True),
    Rule('seed', 'seed', 'random seed: the same seed gives exactly the same run', 0, MAX_SEED),
    Rule('concurrency', 'whole', 'at most this many tasks run at once, the rest wait; 0 runs them all at once',
         0, MAX_TASKS),
    Rule('stall_rate', 'number', 'probability that a task hangs part way and stops moving (half of hangs end by '
                                 'themselves)', 0.0, 1.0),
    Rule('task_timeout', 'limit', 'a task still running after this many simulated seconds fails as timed out',
         0.0, MAX_DURATION_S, low_open=True),
)}
SERVER_RULES: dict[str, Rule] = {rule.name: rule for rule in (
    Rule('host', 'text', 'address to serve on; the default serves this machine only'),
    Rule('port', 'whole', 'port to serve on', 0, MAX_PORT),
    Rule('control_token', 'text', 'when set, /start, /reset, /cancel, /resume, /retry and /tasks/{id}/cancel and '
                                  '/retry need "Authorization: '
                                  f'Bearer <token>" and the board asks for it; make a good one with {MAKE_A_TOKEN}',
         what=f'a secret that is not blank (make a good one with {MAKE_A_TOKEN})'),
    Rule('data_dir', 'path', 'where runs are stored'),
    Rule('keep_runs', 'whole', 'how many past runs the history keeps', 1, MAX_KEEP_RUNS),
    Rule('redis', 'text', 'cluster mode: share one run with every taskdemo process started with the same Redis '
                          '(redis://HOST:PORT/DB; needs the cluster extra); without it, one process keeps its runs '
                          'in SQLite', what='a Redis URL like redis://127.0.0.1:6379/0'),
    Rule('takeover_limit', 'number', 'cluster mode: a run whose engine was gone longer than this many seconds waits '
                                     'to be resumed instead of going on by itself', 0, MAX_TAKEOVER_LIMIT_S),
)}


@dataclass(frozen=True, kw_only=True)
class RunSettings:
    """What one run of the simulator is made of. Durations are in simulated seconds."""

    tasks: int = 50
    failure_rate: float = 0.2
    min_duration: float = 30.0
    max_duration: float = 120.0
    speed: float = 1.0
    seed: int | None = None
    concurrency: int = 0  # at most this many tasks run at once; 0 runs them all at once, as the seed does
    stall_rate: float = 0.0  # probability that a task hangs (model.py plans where, and whether it recovers)
    task_timeout: float | None = None  # simulated seconds a task may run before it fails as timed out; None: no limit

    def __post_init__(self) -> None:
        for name, rule in RUN_RULES.items():
            object.__setattr__(self, name, rule.check(getattr(self, name)))
        if self.min_duration > self.max_duration:
            raise SettingsError('min_duration',
                                f'must not be greater than the longest duration ({self.max_duration:g})')

    @classmethod
    def from_mapping(cls, values: dict[str, Any], *, base: RunSettings | None = None) -> RunSettings:
        """Settings from a mapping (a JSON body, say): unknown names are an error, missing ones come from `base`."""
        for name in values:
            if name not in RUN_RULES:
                raise SettingsError(str(name), f'is not a setting (known: {", ".join(RUN_RULES)})')
        current = {f.name: getattr(base or cls(), f.name) for f in fields(cls)}
        return cls(**{**current, **values})

    def as_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True, kw_only=True)
class Settings:
    """Everything the app is started with."""

    host: str = '127.0.0.1'
    port: int = 8080
    native: bool = False
    run: RunSettings = field(default_factory=RunSettings)
    cors_origins: tuple[str, ...] = DEFAULT_CORS_ORIGINS
    control_token: str | None = None
    data_dir: Path | None = None  # where runs are stored; None keeps them in memory only (the CLI always sets one)
    keep_runs: int = 100
    # WebSocket permessage-deflate: fewer bytes, but CPU for every connection. Off by default: the board serves
    # this machine unless told otherwise, and on loopback bytes are free while CPU is not (README, Performance)
    compression: bool = False
    redis: str | None = None  # a Redis URL: cluster mode (taskdemo/cluster); None is the one-process default
    takeover_limit: float = 30.0

    def __post_init__(self) -> None:
        for name, rule in SERVER_RULES.items():
            value = getattr(self, name)
            if value is not None or name not in {'control_token', 'data_dir', 'redis'}:
                object.__setattr__(self, name, rule.check(value))


def run_settings_from_text(texts: dict[str, str], *, base: RunSettings) -> RunSettings:
    """Settings from text (a form, a link's query); raises SettingsError naming the first bad field."""
    for name in texts:
        if name not in RUN_RULES:
            raise SettingsError(name, f'is not a setting (known: {", ".join(RUN_RULES)})')
    return RunSettings.from_mapping({name: RUN_RULES[name].parse(text) for name, text in texts.items()}, base=base)


def default_of(name: str) -> Any:
    """The default value of a setting, as the dataclasses declare it."""
    for cls in (RunSettings, Settings):
        for f in fields(cls):
            if f.name == name:
                return f.default if f.default is not MISSING else None
    raise KeyError(name)


def described(value: Any) -> str:
    """A value as a message shows it: a number as a number, a text quoted (and cut short), anything else (what a
    JSON body may hold) by its JSON name, never as Python's repr."""
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:40] + '...')
    if isinstance(value, bool) or value is None:
        return {True: 'true', False: 'false', None: 'null'}[value]
    if isinstance(value, int | float):
        return _shown(value)
    return {dict: 'an object', list: 'a list'}.get(type(value), f'a {type(value).__name__}')


def _shown(value: float) -> str:
    """A number as people read it: 10,000 and 0.5, not 10000 and 0.5000."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return f'{value:,}' if isinstance(value, int) else f'{value:,g}'


def settings_text(settings: dict, seed: int) -> str:
    """1,000 tasks, 20 % failing, 30-120 s, ×1, seed 7 (and "10 at a time", "10 % hanging", "time limit 90 s" when
    the run had them)."""
    text = (f"{settings['tasks']:,} tasks, {100 * settings['failure_rate']:g} % failing, "
            f"{settings['min_duration']:,g}-{settings['max_duration']:,g} s, ×{settings['speed']:g}")
    if settings.get('concurrency'):
        text += f", {settings['concurrency']:,} at a time"
    if settings.get('stall_rate'):
        text += f", {100 * settings['stall_rate']:g} % hanging"
    if settings.get('task_timeout'):
        text += f", time limit {settings['task_timeout']:,g} s"
    return f'{text}, seed {seed}'

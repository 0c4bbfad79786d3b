"""Settings: one frozen dataclass for a run, one for the server, and the rules both are checked by.

The same rules serve the CLI, the TASKDEMO_* environment variables and the HTTP API, so a bad value gets the
same message wherever it comes from; only the name of the field in that message changes.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

MAX_TASKS = 10_000
MAX_DURATION_S = 7 * 24 * 3600.0
MAX_SPEED = 100_000.0
MAX_SEED = 2**63 - 1
DEFAULT_CORS_ORIGINS = ('http://localhost:3000',)
MAX_KEEP_RUNS = 100_000


class SettingsError(ValueError):
    """A setting had a bad value; `field` is its Python name, `problem` says what is wrong with it."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f'{field_name} {problem}')
        self.field = field_name
        self.problem = problem


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

    def __post_init__(self) -> None:
        for name, check in _RUN_CHECKS.items():
            object.__setattr__(self, name, check(name, getattr(self, name)))
        if self.min_duration > self.max_duration:
            raise SettingsError('min_duration',
                                f'must not be greater than the longest duration ({self.max_duration:g})')

    @classmethod
    def from_mapping(cls, values: dict[str, Any], *, base: RunSettings | None = None) -> RunSettings:
        """Settings from a mapping (a JSON body, say): unknown names are an error, missing ones come from `base`."""
        known = {f.name for f in fields(cls)}
        for name in values:
            if name not in known:
                raise SettingsError(str(name), f'is not a setting (known: {", ".join(sorted(known))})')
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

    def __post_init__(self) -> None:
        object.__setattr__(self, 'port', check_int('port', self.port, 0, 65535))
        object.__setattr__(self, 'keep_runs', check_int('keep_runs', self.keep_runs, 1, MAX_KEEP_RUNS))
        if not self.host:
            raise SettingsError('host', 'must not be empty')


def parse_int(text: str) -> int:
    return int(text.strip(), 10)


def parse_number(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(text)
    return value


def parse_seed(text: str) -> int | None:
    return None if text.strip().lower() in {'', 'none', 'random'} else parse_int(text)


RUN_FIELD_PARSERS: dict[str, tuple[Any, str]] = {  # name -> (parse a text, what the text must be)
    'tasks': (parse_int, 'a whole number'),
    'failure_rate': (parse_number, 'a finite number'),
    'min_duration': (parse_number, 'a finite number'),
    'max_duration': (parse_number, 'a finite number'),
    'speed': (parse_number, 'a finite number'),
    'seed': (parse_seed, 'a whole number (or empty for a random one)'),
    'concurrency': (parse_int, 'a whole number'),
}


def run_settings_from_text(texts: dict[str, str], *, base: RunSettings) -> RunSettings:
    """Settings from text (a form, a link's query); raises SettingsError naming the first bad field."""
    values: dict[str, Any] = {}
    for name, text in texts.items():
        if name not in RUN_FIELD_PARSERS:
            raise SettingsError(name, f'is not a setting (known: {", ".join(RUN_FIELD_PARSERS)})')
        parse, kind = RUN_FIELD_PARSERS[name]
        try:
            values[name] = parse(text)
        except ValueError:
            raise SettingsError(name, f'must be {kind}, got {text!r}') from None
    return RunSettings.from_mapping(values, base=base)


def check_int(name: str, value: Any, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        else:
            raise SettingsError(name, f'must be a whole number from {low} to {high}, got {value!r}')
    if not low <= value <= high:
        raise SettingsError(name, f'must be a whole number from {low} to {high}, got {value}')
    return value


def check_number(name: str, value: Any, low: float, high: float, *, low_open: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise SettingsError(name, f'must be a number, got {value!r}')
    value = float(value)
    if not math.isfinite(value):
        raise SettingsError(name, f'must be a finite number, got {value}')
    too_low = value <= low if low_open else value < low
    if too_low or value > high:
        bound = f'greater than {low:g}' if low_open else f'at least {low:g}'
        raise SettingsError(name, f'must be {bound} and at most {high:g}, got {value:g}')
    return value


def _check_seed(name: str, value: Any) -> int | None:
    return None if value is None else check_int(name, value, 0, MAX_SEED)


_RUN_CHECKS = {
    'tasks': lambda name, value: check_int(name, value, 1, MAX_TASKS),
    'failure_rate': lambda name, value: check_number(name, value, 0.0, 1.0),
    'min_duration': lambda name, value: check_number(name, value, 0.0, MAX_DURATION_S, low_open=True),
    'max_duration': lambda name, value: check_number(name, value, 0.0, MAX_DURATION_S, low_open=True),
    'speed': lambda name, value: check_number(name, value, 0.0, MAX_SPEED, low_open=True),
    'seed': _check_seed,
    'concurrency': lambda name, value: check_int(name, value, 0, MAX_TASKS),
}

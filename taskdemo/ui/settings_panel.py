"""The settings panel: a dialog at the right of the board (the full width on a phone) that shapes the next run.

Its fields are checked by the rules the command line and the API use (`RUN_RULES` in settings.py), but say what
is wrong in words a person reads; the failure and stall rates are in percent here and a fraction everywhere else
(the API, the CLI, shared links), and an empty time limit means none. A shared link (`/?tasks=200&seed=7`) opens
the panel at once, filled, with bad values flagged.
"""
from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

from nicegui import ui

from ..control import Commands, ControlError
from ..settings import RUN_RULES, RunSettings, SettingsError
from ..view import RunView
from .eager import eager

PERCENTS = ('failure_rate', 'stall_rate')  # the fields shown in percent
PLACEHOLDERS = {'seed': 'random', 'task_timeout': 'none'}  # what an empty field means
DURATIONS = ('min_duration', 'max_duration')
LABELS = {
    'tasks': f'Tasks (1-{int(RUN_RULES["tasks"].high):,})',
    'failure_rate': 'Failure rate (%)',
    'min_duration': 'Shortest task (simulated s)',
    'max_duration': 'Longest task (simulated s)',
    'speed': 'Speed (simulated s per real s)',
    'seed': 'Seed (empty: random)',
    'concurrency': 'Tasks at once, at most (0: no limit)',
    'stall_rate': 'Stall rate (%): tasks that hang',
    'task_timeout': 'Time limit per task (simulated s; empty: none)',
}
NAMES = {  # what "Fix ... to start" calls a field
    'tasks': 'the number of tasks',
    'failure_rate': 'the failure rate',
    'min_duration': 'the shortest task',
    'max_duration': 'the longest task',
    'speed': 'the speed',
    'seed': 'the seed',
    'concurrency': 'the tasks at once',
    'stall_rate': 'the stall rate',
    'task_timeout': 'the time limit',
}


def _bound(name: str) -> str:
    return f'{RUN_RULES[name].high:,g}' if RUN_RULES[name].kind == 'number' else f'{int(RUN_RULES[name].high):,}'


MESSAGES = {  # the bounds are the rules' own; the CLI and the API keep their messages, which name the setting
    'tasks': f'Tasks must be a whole number from 1 to {_bound("tasks")}',
    'failure_rate': 'Failure rate must be between 0 and 100 %',
    'min_duration': f'The shortest task must last more than 0 s and at most {_bound("min_duration")} s (a week)',
    'max_duration': f'The longest task must last more than 0 s and at most {_bound("max_duration")} s (a week)',
    'speed': f'Speed must be more than 0 and at most {_bound("speed")}',
    'seed': f'Seed must be a whole number from 0 to {_bound("seed")}, or empty for a random one',
    'concurrency': f'Tasks at once must be a whole number from 0 (no limit) to {_bound("concurrency")}',
    'stall_rate': 'Stall rate must be between 0 and 100 %',
    'task_timeout': f'The time limit must be more than 0 s and at most {_bound("task_timeout")} s (a week), '
                    'or empty for none',
}
CROSSED = {  # the durations are checked together; the field edited last gets the message
    'min_duration': 'The shortest task must not be longer than the longest',
    'max_duration': 'The longest task must not be shorter than the shortest',
}
WAITING = 'A run is going on: these settings apply to the next run'
LOCKED = 'Enter the control token to start runs'


def next_run_line(settings: RunSettings) -> str:
    """The next run in plain words: "Next run: 50 tasks, about 20 % fail, 30-120 s each at 10x, random seed"."""
    return f'Next run: {described(settings)}, {seed_words(settings.seed)}'


def described(settings: RunSettings) -> str:
    """Everything but the seed: "1,000 tasks, about 20 % fail, 30-120 s each at 10x, at most 10 at once"; hangs
    and a time limit only when there are any: "..., about 10 % hang, 30-120 s each at 10x, time limit 90 s"."""
    count = f'{settings.tasks:,} task{"" if settings.tasks == 1 else "s"}'
    parts = [count, _share(settings.failure_rate, 'fail')]
    if settings.stall_rate:
        parts.append(_share(settings.stall_rate, 'hang'))
    low, high = _number(settings.min_duration), _number(settings.max_duration)
    lasting = f'{low} s each' if low == high else f'{low}-{high} s each'
    parts.append(f'{lasting} at {_number(settings.speed)}x')
    if settings.task_timeout is not None:
        parts.append(f'time limit {_number(settings.task_timeout)} s')
    if settings.concurrency:
        parts.append(f'at most {settings.concurrency:,} at once')
    return ', '.join(parts)


def _share(rate: float, verb: str) -> str:
    return f'none {verb}' if rate == 0 else f'all {verb}' if rate == 1 else f'about {rate * 100:,.3g} % {verb}'


def seed_words(seed: int | None) -> str:
    return 'random seed' if seed is None else f'seed {seed}'  # a seed is a name to copy: no thousands separators


def field_texts(settings: RunSettings) -> dict[str, str]:
    """What the fields show for these settings: the rates in percent, numbers with thousands separators, no time
    limit as an empty field."""
    return {name: '' if value is None else str(value) if name == 'seed' else
            _percent_text(value) if name in PERCENTS else _number(value, exact=True)
            for name, value in settings.as_dict().items()}


def link_texts(settings: RunSettings) -> dict[str, str]:
    """A share link's query, as the API takes the values (the rates fractions); a random seed is left out, no time
    limit is `none` (left out, the board that opens the link would put its own limit in force)."""
    return {name: 'none' if value is None else str(int(value)) if isinstance(value, float) and value.is_integer()
            else str(value) for name, value in settings.as_dict().items() if value is not None or name != 'seed'}


class SettingsPanel:
    """One dialog per page: `open()` shows it, `update()` follows the runs (the page calls it on every change of
    the run and when a token unlocks control)."""

    def __init__(self, view: RunView, commands: Commands, *, query: Mapping[str, str],
                 may_control: Callable[[], bool]) -> None:
        self._view = view
        self._commands = commands
        self._may_control = may_control
        self._crossed = 'min_duration'  # which duration a "shortest longer than longest" message goes to
        linked = {name: _percent_text(value) if name in PERCENTS else value
                  for name, value in query.items() if name in RUN_RULES}
        self._filled = field_texts(view.settings)
        texts = {**self._filled, **linked}
        with ui.dialog(value=bool(linked)).props('position=right full-height').classes('settings-dialog') \
                .mark('settings') as self._dialog, ui.card().classes('settings-card').mark('settings-card'):
            with ui.row().classes('w-full items-center justify-between no-wrap'):
                ui.label('Settings').classes('text-lg font-bold').props('role=heading aria-level=2')
                ui.button(icon='close', on_click=self._dialog.close).props('flat round aria-label=Close')
            self._in_force = ui.label().classes('text-sm').mark('settings-in-force')
            self._seeds = ui.label().classes('text-sm').mark('settings-seeds')
            self._inputs = {
                name: ui.input(LABELS[name], value=texts[name],
                               placeholder=PLACEHOLDERS.get(name),
                               validation=lambda _value, name=name: self.problems().get(name),
                               on_change=lambda _event, name=name: self._edited(name))
                .props('outlined dense').classes('w-full').mark(f'setting-{name}')
                for name in RUN_RULES}
            with ui.row().classes('w-full items-center gap-x-3 gap-y-1'):
                self._apply = ui.button('Start with these settings', on_click=self.start).mark('start-with')
                self._reason = ui.label().classes('text-sm settings-reason').props('role=status') \
                    .mark('start-reason')
            self._apply.props(f'aria-describedby=c{self._reason.id}')
            ui.button('Share link', on_click=self.share, icon='link').props('flat').mark('share')
            self._link = ui.label().classes('text-sm break-all').mark('share-link')
        if linked:
            self._validate_all()  # a bad value in a link shows its message at once
        self.update()

    def open(self) -> None:
        """Show the panel; fields nobody has edited show the settings now in force."""
        if self._texts() == self._filled:
            self._filled = field_texts(self._view.settings)
            for name, field in self._inputs.items():
                field.value = self._filled[name]
        self._dialog.open()

    def problems(self) -> dict[str, str]:
        """The message of every field whose value is bad, by field name."""
        return self._read()[1]

    def current(self) -> RunSettings | None:
        """The settings in the fields, or None while one is bad."""
        values, problems = self._read()
        return None if problems else RunSettings(**values)

    @eager
    async def start(self) -> None:
        settings = self.current()
        if settings is None or not self._may_control():
            return  # the button is disabled then, and says why
        try:
            await self._commands.start(settings.as_dict())
        except ControlError as error:
            ui.notify(f'Not started: {error.detail}', type='warning')
            return
        self._dialog.close()  # the board shows the run

    def share(self) -> None:
        settings = self.current()
        if settings is None:
            ui.notify(f'No link: {" · ".join(self.problems().values())}', type='negative')
            return
        self._link.text = f'/?{urlencode(link_texts(settings))}'
        ui.clipboard.write(self._link.text)

    def update(self) -> None:
        settings, run = self._view.settings, self._view.run
        self._in_force.text = f'In force: {described(settings)}.'
        next_seed = f'Next run: {seed_words(settings.seed)}'
        self._seeds.text = f'This run: seed {run.seed} · {next_seed}' if run else next_seed
        self._show_start()

    def _show_start(self) -> None:
        """Start is enabled only when it would start a run; otherwise the line beside it says why not."""
        problems = self.problems()
        if problems:
            reason = f'Fix {_joined([NAMES[name] for name in RUN_RULES if name in problems])} to start'
        elif not self._may_control():
            reason = LOCKED
        elif self._view.active:
            reason = WAITING
        else:
            reason = ''
        self._apply.enabled = not reason
        self._reason.text = reason

    def _edited(self, name: str) -> None:
        if name in DURATIONS:
            self._crossed = name
        self._validate_all(but=name)  # the edited field validates itself; the durations depend on each other
        self._show_start()

    def _validate_all(self, *, but: str | None = None) -> None:
        for name, field in self._inputs.items():
            if name != but:
                field.validate(return_result=False)

    def _texts(self) -> dict[str, str]:
        return {name: field.value or '' for name, field in self._inputs.items()}

    def _read(self) -> tuple[dict[str, Any], dict[str, str]]:
        """The values of the fields, and the message of each bad one."""
        values: dict[str, Any] = {}
        problems: dict[str, str] = {}
        for name, text in self._texts().items():
            try:
                values[name] = _value(name, text)
            except SettingsError:
                problems[name] = MESSAGES[name]
        if not problems.keys() & set(DURATIONS) and values['min_duration'] > values['max_duration']:
            problems[self._crossed] = CROSSED[self._crossed]
        return values, problems


def _value(name: str, text: str) -> Any:
    """A field's value by the setting's rule; raises SettingsError. The rates are read in percent."""
    rule = RUN_RULES[name]
    text = text.strip()
    if re.fullmatch(r'[+-]?\d{1,3}(,\d{3})+(\.\d*)?', text):  # 10,000; not 0,5, which may mean a half
        text = text.replace(',', '')
    if name not in PERCENTS:
        return rule.check(rule.parse(text))
    percent = rule.parse(text.removesuffix('%').strip())
    try:
        fraction = round(percent / 100, 12)  # 33.3 % is 0.333, not 0.33299999999999996
    except (TypeError, OverflowError):  # no number, or one too large for a float
        raise rule.error(text) from None
    return rule.check(fraction)


def _percent_text(fraction: Any) -> str:
    """A fraction (a number, or a link's text) as the percent field shows it; text that is no number stays."""
    try:
        return _number(round(float(fraction) * 100, 10), exact=True)
    except (TypeError, ValueError, OverflowError):
        return str(fraction)


def _number(value: float, *, exact: bool = False) -> str:
    """A number as people read it: 1,000 and 0.5, not 1000.0 (`exact` keeps every digit, for a field)."""
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int):
        return f'{value:,}'
    return f'{value:,}' if exact else f'{value:,.6g}'


def _joined(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f'{", ".join(words[:-1])} and {words[-1]}'

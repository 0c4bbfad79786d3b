"""The settings panel (collapsed until wanted): shape the next run, checked in place by the same rules and with
the same messages as the command line and the API, and shared as a link (`/?tasks=200&seed=7`)."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from urllib.parse import urlencode

from nicegui import ui

from ..settings import RUN_RULES, RunSettings, SettingsError, run_settings_from_text
from ..simulator import RunActiveError, Simulator

DURATIONS = ('min_duration', 'max_duration')
LABELS = {
    'tasks': 'Tasks (1-10,000)',
    'failure_rate': 'Failure rate (0-1)',
    'min_duration': 'Shortest task (simulated s)',
    'max_duration': 'Longest task (simulated s)',
    'speed': 'Speed (simulated s per s)',
    'seed': 'Seed (empty: random)',
    'concurrency': 'Max concurrency (0: all at once)',
}


def as_texts(settings: RunSettings) -> dict[str, str]:
    return {name: '' if value is None else f'{value:g}' if isinstance(value, float) else str(value)
            for name, value in settings.as_dict().items()}


class SettingsPanel:
    def __init__(self, sim: Simulator, *, query: Mapping[str, str], may_control: Callable[[], bool]) -> None:
        self._sim = sim
        self._may_control = may_control
        linked = {name: value for name, value in query.items() if name in RUN_RULES}
        texts = {**as_texts(sim.settings), **linked}
        with ui.expansion('Settings', icon='tune', value=bool(linked)).classes('w-full').mark('settings'):
            self._in_force = ui.label().classes('text-sm').mark('settings-in-force')
            with ui.row().classes('w-full gap-3'):
                self._inputs = {name: ui.input(LABELS[name], value=texts[name],
                                               validation=lambda value, name=name: self._problem(name, value))
                                .props('dense outlined').classes('w-48').mark(f'setting-{name}')
                                for name in RUN_RULES}
            with ui.row().classes('items-center gap-3'):
                self._apply = ui.button('Start with these settings', on_click=self.start).mark('start-with')
                ui.button('Share link', on_click=self.share, icon='link').props('flat').mark('share')
                self._link = ui.label().classes('text-sm break-all').mark('share-link')
        for name in linked:
            self._inputs[name].validate()  # a bad value in a link shows its message at once
        self.update()

    def current(self) -> RunSettings:
        """The settings in the fields; raises SettingsError naming the first bad one."""
        return run_settings_from_text({name: field.value or '' for name, field in self._inputs.items()},
                                      base=self._sim.settings)

    def start(self) -> None:
        if not self._may_control():
            return
        try:
            settings = self.current()
        except SettingsError as error:
            ui.notify(f'Not started: {error}', type='negative')
            return
        try:
            self._sim.start(settings)
        except RunActiveError as error:
            ui.notify(f'Not started: {error}', type='warning')

    def share(self) -> None:
        try:
            settings = self.current()
        except SettingsError as error:
            ui.notify(f'No link: {error}', type='negative')
            return
        texts = {name: text for name, text in as_texts(settings).items() if text != ''}
        self._link.text = f'/?{urlencode(texts)}'
        ui.clipboard.write(self._link.text)

    def update(self) -> None:
        settings = self._sim.settings
        run = self._sim.run
        seed = f'seed {run.seed}' if run else f'seed {settings.seed}' if settings.seed is not None else 'random seed'
        limit = f'at most {settings.concurrency} at once' if settings.concurrency else 'all at once'
        self._in_force.text = (f'In force: {settings.tasks} tasks, failure rate {settings.failure_rate:g}, '
                               f'{settings.min_duration:g}-{settings.max_duration:g} s, speed {settings.speed:g}, '
                               f'{seed}, {limit}.')
        self._apply.enabled = self._may_control() and not self._sim.active

    def _problem(self, name: str, text: str | None) -> str | None:
        """The message a bad value gets (the same as on the command line and from the API), or None."""
        texts = {name: text or ''}
        if name in DURATIONS and hasattr(self, '_inputs'):  # the two durations are checked together
            texts = {field: self._inputs[field].value or '' for field in DURATIONS} | texts
        try:
            run_settings_from_text(texts, base=RunSettings())
        except SettingsError as error:
            return str(error) if error.field == name else None
        return None

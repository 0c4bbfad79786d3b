"""What a finished run comes to: counts, success rate, wall time, and its failures grouped by error message, each
group with its own Retry these."""
from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from ..simulator import RunState, Simulator

IDS_SHOWN = 30  # task ids listed per failure group


def format_duration(seconds: float) -> str:
    if seconds < 60:
        return f'{seconds:.1f} s'
    minutes, rest = divmod(round(seconds), 60)
    if minutes < 60:
        return f'{minutes} min {rest} s'
    hours, minutes = divmod(minutes, 60)
    return f'{hours} h {minutes} min'


def summary_line(sim: Simulator) -> str:
    run, counts = sim.run, sim.counts
    assert run is not None
    ended = counts.completed + counts.failed
    rate = f'{100 * counts.completed / ended:.0f}%' if ended else 'n/a'
    verb = {RunState.COMPLETED: 'finished in', RunState.CANCELLED: 'was cancelled after',
            RunState.INTERRUPTED: 'was interrupted after'}.get(run.state, 'has run for')
    seconds = run.finished_s if run.finished_s is not None else run.elapsed_s
    line = f'Run {run.id} {verb} {format_duration(seconds)}: {counts.completed} completed, {counts.failed} failed'
    if counts.cancelled:
        line += f', {counts.cancelled} cancelled'
    if counts.interrupted:
        line += f', {counts.interrupted} interrupted'
    return f'{line}; success rate {rate}.'


class RunSummary:
    """Shown once a run has finished; hidden otherwise."""

    def __init__(self, sim: Simulator, *, on_retry: Callable[[str], None] = lambda _: None,
                 may_control: Callable[[], bool] = lambda: True) -> None:
        self._sim = sim
        self._on_retry = on_retry
        self._may_control = may_control
        self._card = ui.card().classes('w-full').mark('summary')
        self.update()

    def update(self) -> None:
        sim = self._sim
        self._card.clear()
        self._card.visible = bool(sim.run and sim.run.finished)
        if not self._card.visible:
            return
        groups = sim.error_groups()
        with self._card:
            ui.label(summary_line(sim)).classes('text-base font-semibold').mark('summary-line')
            ui.label(f'Seed {sim.run.seed}: start a run with this seed to see it again.').classes('text-sm')
            if groups:
                ui.label(f'Failures by error ({sim.counts.failed} tasks):').classes('text-sm font-semibold')
                with ui.column().classes('failed-list w-full gap-2 text-sm') \
                        .props('tabindex=0 role=region aria-label="Failures by error"'):
                    for number, (error, ids) in enumerate(groups):
                        self._group(number, error, ids)

    def _group(self, number: int, error: str, ids: list[int]) -> None:
        with ui.row().classes('w-full items-center gap-x-3 gap-y-1 no-wrap').mark(f'failure-group-{number}'):
            ui.label(str(len(ids))).classes('failure-count').props(f'aria-label="{len(ids)} tasks"')
            with ui.column().classes('gap-0 grow min-w-0'):
                ui.label(error).classes('font-medium break-words').mark(f'failure-error-{number}')
                listed = ', '.join(str(i) for i in ids[:IDS_SHOWN])
                more = f' and {len(ids) - IDS_SHOWN} more' if len(ids) > IDS_SHOWN else ''
                ui.label(f'Task{"s" if len(ids) > 1 else ""} {listed}{more}').classes('text-xs opacity-80')
            ui.button('Retry these', icon='replay', on_click=lambda: self._on_retry(error)) \
                .props('outline dense no-caps').mark(f'retry-group-{number}').set_enabled(self._may_control())

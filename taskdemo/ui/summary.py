"""What a finished run comes to: counts, success rate, wall time and the failures with their errors."""
from __future__ import annotations

from nicegui import ui

from ..simulator import RunState, Simulator, TaskStatus

FAILURES_SHOWN = 100


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

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim
        self._card = ui.card().classes('w-full').mark('summary')
        self.update()

    def update(self) -> None:
        sim = self._sim
        self._card.clear()
        self._card.visible = bool(sim.run and sim.run.finished)
        if not self._card.visible:
            return
        failed = [task for task in sim.tasks if task.status == TaskStatus.FAILED]
        with self._card:
            ui.label(summary_line(sim)).classes('text-base font-semibold').mark('summary-line')
            ui.label(f'Seed {sim.run.seed}: start a run with this seed to see it again.').classes('text-sm')
            if failed:
                ui.label(f'Failed tasks ({len(failed)}):').classes('text-sm font-semibold')
                with ui.column().classes('failed-list w-full gap-1 text-sm') \
                        .props('tabindex=0 role=region aria-label="Failed tasks"'):
                    for task in failed[:FAILURES_SHOWN]:
                        ui.label(f'Task {task.id}: {task.error}').mark(f'failure-{task.id}')
                if len(failed) > FAILURES_SHOWN:
                    ui.label(f'… and {len(failed) - FAILURES_SHOWN} more (GET /status lists them all).') \
                        .classes('text-sm')

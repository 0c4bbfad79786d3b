"""The global progress bar, its percentage as text, and the counters."""
from __future__ import annotations

from nicegui import ui

from ..simulator import Simulator


class RunProgress:
    def __init__(self, sim: Simulator) -> None:
        self._sim = sim
        with ui.column().classes('w-full gap-1'):
            self._bar = ui.linear_progress(value=0, show_value=False, size='14px', color='positive') \
                .props('rounded animation-speed=300 aria-label="Finished tasks"').classes('w-full').mark('progress-bar')
            with ui.row().classes('w-full items-center justify-between gap-x-4 gap-y-1'):
                self._percent = ui.label().classes('text-lg font-semibold counter').mark('progress-text')
                with ui.row().classes('gap-x-4 gap-y-1 text-sm'):
                    self._completed = ui.label().classes('counter').mark('completed-count')
                    self._failed = ui.label().classes('counter').mark('failed-count')
                    self._running = ui.label().classes('counter').mark('running-count')
                    self._pending = ui.label().classes('counter').mark('pending-count')
                    self._cancelled = ui.label().classes('counter').mark('cancelled-count')
                    self._interrupted = ui.label().classes('counter').mark('interrupted-count')
        self.update()

    def update(self) -> None:
        sim, counts = self._sim, self._sim.counts
        self._bar.value = round(sim.percent / 100, 4)
        self._bar.props(f'aria-valuenow={round(sim.percent)}')
        self._percent.text = f'{sim.percent:.0f}% · {counts.finished} of {sim.total} finished'
        self._completed.text = f'Completed: {counts.completed}'
        self._failed.text = f'Failed: {counts.failed}'
        self._running.text = f'Running: {counts.running}'
        self._pending.text = f'Pending: {counts.pending}'
        self._cancelled.text = f'Cancelled: {counts.cancelled}'
        self._cancelled.visible = counts.cancelled > 0
        self._interrupted.text = f'Interrupted: {counts.interrupted}'
        self._interrupted.visible = counts.interrupted > 0

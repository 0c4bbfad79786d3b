"""The run controls: Start Process (which becomes Processing... and Completed! Start over?), Cancel, and the
control-token prompt when the server asks for one."""
from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from ..access import token_matches
from ..simulator import RunActiveError, RunState, Simulator

START_LABELS = {
    RunState.IDLE: 'Start Process',
    RunState.RUNNING: 'Processing...',
    RunState.COMPLETED: 'Completed! Start over?',
    RunState.CANCELLED: 'Start over',
    RunState.INTERRUPTED: 'Start over',
}


class RunControls:
    def __init__(self, sim: Simulator, *, control_token: str | None = None,
                 on_unlock: Callable[[], None] = lambda: None) -> None:
        self._sim = sim
        self._on_unlock = on_unlock
        self._token = control_token
        self.unlocked = control_token is None
        with ui.row().classes('items-center gap-2'):
            self._resume = ui.button('Resume', on_click=self.resume, icon='play_arrow').mark('resume')
            self._start = ui.button(START_LABELS[RunState.IDLE], on_click=self.start).mark('start')
            self._cancel = ui.button('Cancel', on_click=self.cancel, color='negative').mark('cancel')
        if not self.unlocked:
            with ui.row().classes('items-center gap-2') as self._lock_row:
                ui.label('Watching only: enter the control token to start or stop runs.').classes('text-sm')
                self._token_input = ui.input('Control token', password=True).props('dense outlined') \
                    .on('keydown.enter', self.unlock).mark('token')
                ui.button('Unlock', on_click=self.unlock).props('flat').mark('unlock')
        self.update()

    def start(self) -> None:
        if not self.unlocked:
            return
        try:
            self._sim.start()
        except RunActiveError as error:
            ui.notify(f'Not started: {error}', type='warning')

    def resume(self) -> None:
        if self.unlocked:
            self._sim.resume()

    def cancel(self) -> None:
        if self.unlocked:
            self._sim.cancel()

    def unlock(self) -> None:
        assert self._token is not None
        if token_matches(self._token_input.value, self._token):
            self.unlocked = True
            self._lock_row.visible = False
            self.update()
            self._on_unlock()
        else:
            ui.notify('That is not the control token.', type='negative')

    def update(self) -> None:
        state = self._sim.state
        self._start.text = START_LABELS[state]
        self._start.enabled = self.unlocked and state != RunState.RUNNING
        self._cancel.visible = state == RunState.RUNNING
        self._resume.visible = state == RunState.INTERRUPTED
        self._resume.enabled = self.unlocked
        self._cancel.enabled = self.unlocked

"""The run controls: Start Process (which becomes Processing... and Completed! Start over?), Cancel, Retry failed,
Resume, the outcome of the last run beside them ("48 completed, 2 failed"), a line saying what the next run will
do, and the control-token prompt when the server asks for one."""
from __future__ import annotations

from collections.abc import Callable

from nicegui import ui

from ..access import token_matches
from ..simulator import RetryError, RunActiveError, RunState, Simulator
from .settings_panel import next_run_line
from .summary import counts_words

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
        self.cancelled_here = False  # this page cancelled the run that ended last (so it needs no notification)
        with ui.column().classes('items-end gap-0 grow'):
            with ui.row().classes('items-center justify-end gap-2') as self.row:
                self._outcome = ui.label().classes('text-sm font-medium counter').mark('outcome')
                self._resume = ui.button('Resume', on_click=self.resume, icon='play_arrow').mark('resume')
                self._start = ui.button(START_LABELS[RunState.IDLE], on_click=self.start).mark('start')
                self._retry = ui.button('Retry failed', on_click=lambda: self.retry(), icon='replay') \
                    .props('outline').mark('retry')
                self._cancel = ui.button('Cancel', on_click=self.cancel, color='negative').mark('cancel')
            self._next_run = ui.label().classes('next-run-line text-sm text-right').mark('next-run')
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
            return
        self.focus_cancel()

    def focus_cancel(self) -> None:
        """After Start (by mouse or keyboard) the Start button is disabled: focus goes to Cancel, not to the page's
        body. Cancel shows once the browser has drawn the update, so the script waits for it (up to a second)."""
        ui.run_javascript(f'(function focus(tries) {{ const button = getHtmlElement({self._cancel.id}); '
                          f'if (button && button.offsetParent) button.focus(); '
                          f'else if (tries) setTimeout(() => focus(tries - 1), 30); }})(30)')

    def resume(self) -> None:
        if self.unlocked:
            self._sim.resume()

    def retry(self, error: str | None = None) -> None:
        """Run the failed tasks again (those that failed with `error`, when given)."""
        if not self.unlocked:
            return
        try:
            ids = self._sim.retry(error=error)
        except (RetryError, RunActiveError) as problem:
            ui.notify(f'Nothing retried: {problem}', type='warning')
            return
        ui.notify(f'Retrying {len(ids)} failed task{"s" if len(ids) != 1 else ""}', color='primary')

    def cancel(self) -> None:
        if self.unlocked:
            self.cancelled_here = True  # before: the run's end is announced while cancel() runs
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
        self._outcome.text = outcome_text(self._sim)
        self._next_run.text = next_run_line(self._sim.settings)
        self._start.text = START_LABELS[state]
        self._start.enabled = self.unlocked and state != RunState.RUNNING
        self._cancel.visible = state == RunState.RUNNING
        self._resume.visible = state == RunState.INTERRUPTED
        self._resume.enabled = self.unlocked
        self._retry.visible = state in {RunState.COMPLETED, RunState.CANCELLED} and self._sim.counts.failed > 0
        self._retry.enabled = self.unlocked
        self._cancel.enabled = self.unlocked


def outcome_text(sim: Simulator) -> str:
    """What the last run came to, beside the button that starts the next: '48 completed, 2 failed'."""
    run, counts = sim.run, sim.counts
    if run is None or not run.finished:
        return ''
    return counts_words(counts.completed, counts.failed, counts.cancelled, counts.interrupted)

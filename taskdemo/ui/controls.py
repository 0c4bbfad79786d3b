"""The run controls: Start Process (which becomes Processing... and Completed! Start over?), Cancel, Retry failed,
Resume, the outcome of the last run beside them ("48 completed, 2 failed"), a line saying what the next run will
do, and the control-token prompt when the server asks for one."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from ..access import token_matches
from ..control import Commands, ControlError
from ..model import RunState
from ..presence import Viewers
from ..view import RunView
from .confirm import cancel_question, confirmed, start_over_question
from .eager import eager
from .run_model import RunModel
from .settings_panel import next_run_line
from .summary import counts_words


class RunControls:
    """Start's label and whether it can be pressed, and whether Cancel shows, are bound to the pages' shared
    `RunModel`; the rest follows each change of the run (`update`)."""

    def __init__(self, view: RunView, commands: Commands, model: RunModel, *, control_token: str | None = None,
                 on_unlock: Callable[[], None] = lambda: None,
                 viewers: Callable[[], Viewers] = lambda: Viewers(1, 0)) -> None:
        """`viewers()`: who is watching now, this tab included (Cancel and Start over ask first when others are)."""
        self._view = view
        self._viewers = viewers
        self._commands = commands
        self._model = model
        self._on_unlock = on_unlock
        self._token = control_token
        self.unlocked = control_token is None
        with ui.column().classes('items-end gap-0 grow') as self.root:  # hidden while the page replays a run
            with ui.row().classes('items-center justify-end gap-2') as self.row:
                self._outcome = ui.label().classes('text-sm font-medium counter').mark('outcome')
                self._resume = ui.button('Resume', on_click=self.resume, icon='play_arrow').mark('resume')
                self._start = ui.button(on_click=self.start).bind_text_from(model, 'start_label') \
                    .bind_enabled_from(model, 'running', backward=self._may_start).mark('start')
                self._retry = ui.button('Retry failed', on_click=lambda: self.retry(), icon='replay') \
                    .props('outline').mark('retry')
                self._cancel = ui.button('Cancel', on_click=self.cancel, color='negative') \
                    .bind_visibility_from(model, 'running').mark('cancel')
            self._next_run = ui.label().classes('next-run-line text-sm text-right').mark('next-run')
        if not self.unlocked:
            with ui.row().classes('items-center gap-2') as self._lock_row:
                ui.label('Watching only: enter the control token to start or stop runs.').classes('text-sm')
                self._token_input = ui.input('Control token', password=True).props('dense outlined') \
                    .on('keydown.enter', self.unlock).mark('token')
                ui.button('Unlock', on_click=self.unlock).props('flat').mark('unlock')
        self.update()

    @eager
    async def start(self) -> None:
        if not self.unlocked:
            return
        question = start_over_question(self._view, self._viewers())
        if question and not await confirmed('Start a new run?', question, 'Start the new run', 'Not now'):
            return
        if await self._command(self._commands.start(), 'Not started') is not None:
            self.focus_cancel()

    def focus_cancel(self) -> None:
        """After Start (by mouse or keyboard) the Start button is disabled: focus goes to Cancel, not to the page's
        body. Cancel shows once the browser has drawn the update, so the script waits for it (up to a second)."""
        ui.run_javascript(f'(function focus(tries) {{ const button = getHtmlElement({self._cancel.id}); '
                          f'if (button && button.offsetParent) button.focus(); '
                          f'else if (tries) setTimeout(() => focus(tries - 1), 30); }})(30)')

    @eager
    async def resume(self) -> None:
        if self.unlocked:
            await self._command(self._commands.resume(), 'Not resumed', quiet_conflict=True)

    @eager
    async def retry(self, error: str | None = None) -> None:
        """Run the failed tasks again (those that failed with `error`, when given)."""
        if not self.unlocked:
            return
        reply = await self._command(self._commands.retry(error=error), 'Nothing retried')
        if reply is not None:
            count = len(reply['tasks'])
            self._notify(f'Retrying {count} failed task{"s" if count != 1 else ""}', color='primary')

    @eager
    async def cancel(self) -> None:
        if not self.unlocked:
            return
        question = cancel_question(self._view, self._viewers())
        run = self._view.run
        if question and run is not None and \
                not await confirmed(f'Cancel run {run.id:,}?', question, 'Cancel the run', 'Keep it running'):
            return
        await self._command(self._commands.cancel(), 'Not cancelled', quiet_conflict=True)

    async def _command(self, command: Awaitable[dict[str, Any]], refused: str, *,
                       quiet_conflict: bool = False) -> dict[str, Any] | None:
        """The command's reply, or None when it was refused; a refusal is shown, except a conflict (409) when
        `quiet_conflict`: nothing to cancel or resume means the board shows a run that has ended already."""
        try:
            return await command
        except ControlError as error:
            if not (quiet_conflict and error.status == 409):
                self._notify(f'{refused}: {error.detail}', type='warning')
            return None

    def _notify(self, message: str, **options: Any) -> None:
        """A notification from this page's controls. Not in the context of the button clicked: a command redraws
        the summary, and "Retry these" is gone with it by the time its reply is told."""
        with self.row:
            ui.notify(message, **options)

    def unlock(self) -> None:
        assert self._token is not None
        if token_matches(self._token_input.value, self._token):
            self.unlocked = True
            self._lock_row.visible = False
            self._start.enabled = self._may_start(self._model.running)
            self.update()
            self._on_unlock()
        else:
            ui.notify('That is not the control token.', type='negative')

    def _may_start(self, running: bool) -> bool:
        return self.unlocked and not running

    def update(self) -> None:
        state = self._view.state
        self._outcome.text = outcome_text(self._view)
        self._next_run.text = next_run_line(self._view.settings)
        self._resume.visible = state == RunState.INTERRUPTED
        self._resume.enabled = self.unlocked
        self._retry.visible = state in {RunState.COMPLETED, RunState.CANCELLED} and self._view.counts.failed > 0
        self._retry.enabled = self.unlocked
        self._cancel.enabled = self.unlocked


def outcome_text(sim: RunView) -> str:
    """What the last run came to, beside the button that starts the next: '48 completed, 2 failed'."""
    run, counts = sim.run, sim.counts
    if run is None or not run.finished:
        return ''
    return counts_words(counts.completed, counts.failed, counts.cancelled, counts.interrupted)

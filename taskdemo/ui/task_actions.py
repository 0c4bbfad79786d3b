"""Acting on one task from its details: **Cancel this task** while it runs or waits in the active run (after a
confirmation: "Cancel task 17?" with Keep it / Cancel task; Escape or Keep it backs out), and **Retry this task**
once it has failed, timed out or been cancelled. Both go through the page's commands, as the run's buttons do: a
refusal (the task finished meanwhile, say) is shown in words, and a page that needs the control token shows the
buttons disabled with a line that says so."""
from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from nicegui import ui

from ..control import Commands, ControlError
from ..model import RunState, Task, TaskStatus
from ..view import RunView
from .dialogs import dialog_heading
from .eager import eager

LOCKED = 'Enter the control token at the top of the page to cancel or retry this task.'


def may_cancel(task: Task, view: RunView) -> bool:
    """A task can be cancelled while it runs, or waits for a slot, in the active run."""
    return view.active and task.status in {TaskStatus.RUNNING, TaskStatus.PENDING}


def may_retry(task: Task, view: RunView) -> bool:
    """A failed (or timed-out) or cancelled task can be retried, while its run goes on or after it, unless the run
    was interrupted (it is resumed first)."""
    run = view.run
    return (run is not None and run.state != RunState.INTERRUPTED
            and task.status in {TaskStatus.FAILED, TaskStatus.CANCELLED})


class TaskActions:
    """The action row of a task's details; `show(task)` keeps it right for the task as it is now."""

    def __init__(self, view: RunView, commands: Commands, *, may_control: Callable[[], bool]) -> None:
        self._view = view
        self._commands = commands
        self._may_control = may_control
        self.task_id: int | None = None
        with ui.row().classes('w-full items-center gap-2').mark('task-actions') as self.row:
            self._cancel = ui.button('Cancel this task', icon='cancel', color='negative', on_click=self.ask) \
                .props('outline no-caps aria-haspopup=dialog').mark('cancel-task')
            self._retry = ui.button('Retry this task', icon='replay', on_click=self.retry) \
                .props('outline no-caps').mark('retry-task')
            self._locked = ui.label(LOCKED).classes('text-sm').mark('task-actions-locked')
        # a dialog over the details: Escape closes only this one, and focus goes back to Cancel this task
        with ui.dialog() as self._confirm, ui.card().classes('max-w-md').mark('confirm-cancel-task'):
            self._question = dialog_heading(self._confirm, close_mark='confirm-close')
            self._explained = ui.label().classes('text-sm').mark('confirm-cancel-text')
            with ui.row().classes('w-full justify-end gap-2'):
                ui.button('Keep it', on_click=self._confirm.close).props('flat no-caps autofocus').mark('keep-task')
                ui.button('Cancel task', color='negative', on_click=self.cancel).props('no-caps') \
                    .mark('confirm-cancel')

    def show(self, task: Task) -> None:
        self.task_id = task.id
        allowed = self._may_control()
        cancel, retry = may_cancel(task, self._view), may_retry(task, self._view)
        self._cancel.visible, self._retry.visible = cancel, retry
        self._cancel.enabled = self._retry.enabled = allowed
        self._locked.visible = (cancel or retry) and not allowed
        self.row.visible = cancel or retry

    def ask(self) -> None:
        """Cancel this task: first the question, with Keep it focused (a second Enter keeps the task)."""
        if self.task_id is None or not self._may_control():
            return
        self._question.text = f'Cancel task {self.task_id:,}?'
        self._explained.text = f'Task {self.task_id:,} ends as cancelled; the other tasks go on. You can retry it ' \
                               'afterwards.'
        self._confirm.open()

    @eager
    async def cancel(self) -> None:
        self._confirm.close()
        if self.task_id is None or not self._may_control():
            return
        reply = await self._command(self._commands.cancel_task(self.task_id), 'Not cancelled')
        if reply is not None:
            ui.notify(f'{reply["message"]}; the run goes on.' if self._view.active else reply['message'],
                      color='primary')
            self._focus(self._retry)  # the button pressed is gone: focus what comes next, not the page's body

    @eager
    async def retry(self) -> None:
        if self.task_id is None or not self._may_control():
            return
        reply = await self._command(self._commands.retry_task(self.task_id), 'Not retried')
        if reply is not None:
            ui.notify(reply['message'], color='primary')
            self._focus(self._cancel)

    async def _command(self, command: Awaitable[dict[str, Any]], refused: str) -> dict[str, Any] | None:
        """The command's reply, or None when it was refused (shown: the task may have ended meanwhile)."""
        try:
            return await command
        except ControlError as error:
            ui.notify(f'{refused}: {error.detail}', type='warning')
            return None

    def close(self) -> None:
        self._confirm.close()

    @staticmethod
    def _focus(button: ui.button) -> None:
        """Focus `button` once the browser shows it (it appears with the update the command brings)."""
        ui.run_javascript(f'(function focus(tries) {{ const button = getHtmlElement({button.id}); '
                          f'if (button && button.offsetParent) button.focus(); '
                          f'else if (tries) setTimeout(() => focus(tries - 1), 30); }})(30)')

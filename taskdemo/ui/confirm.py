"""Think before you wipe: Cancel (a run that is still going) and Start over (a finished run leaves everyone's
board) ask first when the rules say (`cancel_question`, `start_over_question`); the answer is one keypress, Enter,
on the action's button, which has the focus. Escape, or the other button, keeps things as they are."""
from __future__ import annotations

from nicegui import ui

from ..presence import Viewers
from ..view import RunView
from .dialogs import dialog_heading


def others(viewers: Viewers) -> str:
    """'3 others are watching this run' (this tab is one of `viewers`); '' when nobody else is."""
    count = viewers.total - 1
    if count < 1:
        return ''
    return f'{count:,} other{"s are" if count > 1 else " is"} watching this run.'


def cancel_question(view: RunView, viewers: Viewers) -> str | None:
    """Cancel stops a run that is still going: always asked (the button shows only then)."""
    run = view.run
    if run is None or not view.active:
        return None
    left = view.total - view.counts.finished
    return ' '.join(part for part in (
        f'Run {run.id:,} is still going: {left:,} of its {view.total:,} tasks have not finished, and will end as '
        'cancelled.', others(viewers)) if part)


def start_over_question(view: RunView, viewers: Viewers) -> str | None:
    """A new run takes the finished one off every board (it stays in History): asked only when somebody else is
    watching it; never of a lone viewer."""
    run = view.run
    if run is None or view.active or viewers.total <= 1:
        return None
    return f'{others(viewers)} A new run takes run {run.id:,} off their boards too (it stays in History).'


async def confirmed(heading: str, question: str, action: str, keep: str) -> bool:
    """Ask `question`; True when `action` was chosen (Enter does: its button has the focus)."""
    with ui.dialog().props(f'aria-label="{heading}"') as dialog, ui.card().classes('confirm-card').mark('confirm-run'):
        dialog_heading(dialog, heading, close_mark='confirm-run-close')
        ui.label(question).classes('text-base').mark('confirm-run-question')
        with ui.row().classes('w-full justify-end gap-2'):
            ui.button(keep, on_click=lambda: dialog.submit(False)).props('flat no-caps').mark('confirm-run-keep')
            ui.button(action, color='negative', on_click=lambda: dialog.submit(True)) \
                .props('no-caps autofocus').mark('confirm-run-yes')
    answer = bool(await dialog)  # None when closed otherwise (Escape, ✕, a click outside)
    dialog.delete()
    return answer

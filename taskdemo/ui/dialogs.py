"""What every dialog of the board shares: a heading row with its ✕ at the top right."""
from __future__ import annotations

from nicegui import ui


def dialog_heading(dialog: ui.dialog, text: str = '', *, close_mark: str = 'close') -> ui.label:
    """The dialog's heading (a level-2 heading for assistive technology) and a ✕ that closes the dialog; returns
    the heading, whose text the caller may change later."""
    with ui.row().classes('w-full items-center justify-between no-wrap gap-2'):
        heading = ui.label(text).classes('text-lg font-bold').props('role=heading aria-level=2')
        ui.button(icon='close', on_click=dialog.close).props('flat round aria-label=Close').mark(close_mark)
    return heading

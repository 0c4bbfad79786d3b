"""The Activity panel (collapsed, like History): what was done to the runs and from where, newest first, live
(activity.py); and `entry_list`, the same list for one run in its History dialog."""
from __future__ import annotations

import time

from nicegui import ui

from ..activity import Activity, Entry

SHOWN = 50  # the newest entries the panel lists (`GET /activity?limit=` gives up to activity.KEEP)


def clock(wall: float) -> str:
    return time.strftime('%H:%M:%S', time.localtime(wall))


def entry_list(entries: list[Entry], *, me: str = '', empty: str = 'Nothing was done yet.') -> ui.element:
    """A list of entries as given (each: its time, then what happened and from where)."""
    with ui.element('ul').classes('activity-list w-full') as shown:
        for entry in entries:
            with ui.element('li').classes('activity-entry').mark('activity-entry'):
                ui.label(clock(entry.event.wall)).classes('activity-time counter')
                ui.label(entry.sentence(me)).classes('activity-text')
        if not entries:
            ui.label(empty).classes('text-sm').mark('activity-empty')
    return shown


class ActivityPanel:
    """`me`: this tab's source, so that its own doings read "by you (tab 7f3)"."""

    def __init__(self, activity: Activity, *, me: str = '') -> None:
        self._activity = activity
        self._me = me
        with ui.expansion('Activity', icon='manage_history').classes('w-full').mark('activity') as self._expansion:
            self._body = ui.column().classes('w-full gap-0')
        self._expansion.on_value_change(self.refresh)
        activity.changed.subscribe(self.refresh)  # in the page's context: unsubscribed with it

    def refresh(self) -> None:
        if not self._expansion.value:
            return  # closed: nothing to draw
        self._body.clear()
        with self._body:
            entry_list(self._activity.recent(SHOWN), me=self._me)

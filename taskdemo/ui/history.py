"""The history panel: past runs with their settings, counts and duration; open one to see how many of its tasks
timed out or stalled, its final grid and its timeline (stalls hatched), or download it as JSON or CSV."""
from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from types import SimpleNamespace

from nicegui import events, ui

from ..activity import run_entries
from ..history import History
from ..model import Task, timeout_message
from ..settings import settings_text
from ..store import RunRow
from .activity_panel import entry_list
from .dialogs import dialog_heading
from .grid import TaskGrid
from .summary import counts_words, format_duration
from .timeline import past_timeline
from .timeline_stalls import stall_span

NARROW = 'gt-xs'  # Quasar: shown from 600 px up; a phone gets the run, its state, success and the actions only
COLUMNS = [
    {'name': 'id', 'label': 'Run', 'field': 'id', 'align': 'left'},
    {'name': 'when', 'label': 'Started', 'field': 'when', 'align': 'left', 'classes': NARROW, 'headerClasses': NARROW},
    {'name': 'settings', 'label': 'Settings', 'field': 'settings', 'align': 'left', 'classes': NARROW,
     'headerClasses': NARROW},
    {'name': 'state', 'label': 'State', 'field': 'state_text', 'align': 'left'},
    {'name': 'counts', 'label': 'Completed / failed', 'field': 'counts', 'align': 'left', 'classes': NARROW,
     'headerClasses': NARROW},
    {'name': 'rate', 'label': 'Success', 'field': 'rate', 'align': 'right'},
    {'name': 'duration', 'label': 'Duration', 'field': 'duration', 'align': 'right', 'classes': NARROW,
     'headerClasses': NARROW},
    {'name': 'actions', 'label': 'Actions', 'field': 'id', 'align': 'right'},
]
ACTIONS = r'''
<q-td :props="props">
  <div class="history-actions">
    <q-btn flat dense no-caps color="primary" label="Open" :aria-label="'Open run ' + props.row.id"
           @click="() => $parent.$emit('open', props.row.id)" />
    <a :href="'runs/' + props.row.id + '/export.json'" :aria-label="'Run ' + props.row.id + ' as JSON'"
       download>JSON</a>
    <a :href="'runs/' + props.row.id + '/export.csv'" :aria-label="'Run ' + props.row.id + ' as CSV'" download>CSV</a>
  </div>
</q-td>
'''
STATE_WORDS = {  # a run's state, and how its duration reads after it: "Completed in 1 min 5 s"
    'running': ('Running', 'for'),
    'completed': ('Completed', 'in'),
    'cancelled': ('Cancelled', 'after'),
    'interrupted': ('Interrupted', 'after'),
}


def table_row(row: RunRow) -> dict:
    return {
        'id': row.id,
        'when': time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(row.started_at)),
        'settings': settings_text(row.settings, row.seed),
        'state': row.state,
        'state_text': state_words(row.state)[0],
        'counts': f'{row.completed:,} / {row.failed:,}',
        'rate': '' if row.success_rate is None else f'{row.success_rate:.0f} %',
        'duration': format_duration(run_seconds(row)),
    }


def outcome_text(row: RunRow) -> str:
    """Completed in 1 min 5 s: 35 completed, 15 failed (and 3 cancelled, when any were)."""
    word, joint = state_words(row.state)
    counted = counts_words(row.completed, row.failed, row.cancelled)
    return f'{word} {joint} {format_duration(run_seconds(row))}: {counted}'


def stall_counts(row: RunRow, tasks: list[Task]) -> tuple[int, int]:
    """How many of the run's tasks timed out (their last attempt failed with the run's time limit), and how many
    stalled (their last attempt stood still long enough to count; an earlier attempt keeps no record of a hang)."""
    limit = row.settings.get('task_timeout')
    timed_out = sum(task.error == timeout_message(limit) for task in tasks) if limit else 0
    end, speed = run_seconds(row), row.settings.get('speed', 1.0)
    stalled = sum(task.stalled_from is not None and stall_span(task, end, speed) is not None for task in tasks)
    return timed_out, stalled


def stall_text(row: RunRow, tasks: list[Task]) -> str:
    """'3 timed out, 5 stalled' for a run that had a time limit or hangs (or either happened); '' otherwise."""
    timed_out, stalled = stall_counts(row, tasks)
    if not (timed_out or stalled or row.settings.get('task_timeout') or row.settings.get('stall_rate')):
        return ''
    return f'{timed_out:,} timed out, {stalled:,} stalled'


def state_words(state: str) -> tuple[str, str]:
    return STATE_WORDS.get(state, (state.capitalize(), 'after'))


def run_seconds(row: RunRow) -> float:
    return row.finished_s if row.finished_s is not None else row.elapsed_s


class HistoryPanel:
    """`on_replay(run_id)`: what "Replay this run" in a run's dialog does (the board replays it); without it the
    dialog has no such button."""

    def __init__(self, history: History, *, on_replay: Callable[[int], Awaitable[None]] | None = None,
                 me: str = '') -> None:
        """`me`: this tab's source (its own doings in a run's activity read "by you")."""
        self._history = history
        self._on_replay = on_replay
        self._me = me
        with ui.expansion('History', icon='history').classes('w-full').mark('history') as self._expansion:
            self._table = ui.table(columns=COLUMNS, rows=[], row_key='id', pagination=10) \
                .classes('history-table w-full').props('flat dense wrap-cells').mark('history-table')
            self._table.add_slot('body-cell-actions', ACTIONS)
            self._table.on('open', self.open)
        self._expansion.on_value_change(self.refresh)

    async def refresh(self) -> None:
        if not self._expansion.value:
            return  # closed: nothing to show, nothing to read
        rows = await self._history.runs()
        self._table.rows = [table_row(row) for row in rows]
        self._table.update()

    async def open(self, event: events.GenericEventArguments) -> None:
        run_id = int(event.args)
        row = await self._history.run(run_id)
        tasks = await self._history.tasks(run_id)
        events = await self._history.events(run_id)
        if row is None:
            ui.notify(f'Run {run_id} is no longer in the history.', type='warning')
            return
        stored = SimpleNamespace(tasks=tasks, run=SimpleNamespace(elapsed_s=row.elapsed_s), total=len(tasks),
                                 version=0, stalled_ids=frozenset())  # a finished run: nothing runs, nothing stalls
        with ui.dialog() as dialog, ui.card().classes('w-full max-w-screen-lg').mark('run-dialog'):
            dialog_heading(dialog, f'Run {row.id:,}', close_mark='run-close').mark('run-heading')
            ui.label(outcome_text(row)).classes('text-base').mark('run-outcome')
            if stalls := stall_text(row, tasks):
                ui.label(stalls).classes('text-base').mark('run-stalls')
            ui.label(settings_text(row.settings, row.seed)).classes('text-sm').mark('run-settings')
            if self._on_replay is not None:
                ui.button('Replay this run', icon='slow_motion_video',
                          on_click=lambda: self._replay(dialog, row.id)) \
                    .props(f'outline no-caps aria-label="Replay run {row.id} on the board"').mark('run-replay')
            TaskGrid(stored).mark('stored-grid')  # read-only: nothing ever sends it changes
            ui.label('Timeline: one bar per attempt; a striped part: the task stood still (stalled).') \
                .classes('text-sm font-semibold')
            past_timeline(tasks, run_seconds(row), row.settings.get('speed', 1.0)).mark('run-timeline')
            ui.label('Activity: what was done to this run, and from where.').classes('text-sm font-semibold')
            entry_list(run_entries(row.id, events, row.settings, row.seed), me=self._me,
                       empty='None kept (a run stored before taskdemo kept its events).').mark('run-activity')
        dialog.on('hide', dialog.delete)
        dialog.open()

    async def _replay(self, dialog: ui.dialog, run_id: int) -> None:
        """Close the dialog, and the board replays the run (from its end: the board as the dialog showed it)."""
        dialog.close()
        assert self._on_replay is not None
        await self._on_replay(run_id)

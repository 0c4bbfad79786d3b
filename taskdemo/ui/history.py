"""The history panel: past runs with their settings, counts and duration; open one to see its final grid, or
download it as JSON or CSV."""
from __future__ import annotations

import time
from types import SimpleNamespace

from nicegui import events, ui

from ..recorder import Recorder
from ..store import RunRow
from .grid import TaskGrid
from .summary import format_duration

COLUMNS = [
    {'name': 'id', 'label': 'Run', 'field': 'id', 'align': 'left'},
    {'name': 'when', 'label': 'Started', 'field': 'when', 'align': 'left'},
    {'name': 'settings', 'label': 'Settings', 'field': 'settings', 'align': 'left'},
    {'name': 'state', 'label': 'State', 'field': 'state', 'align': 'left'},
    {'name': 'counts', 'label': 'Completed / failed', 'field': 'counts', 'align': 'left'},
    {'name': 'rate', 'label': 'Success', 'field': 'rate', 'align': 'right'},
    {'name': 'duration', 'label': 'Duration', 'field': 'duration', 'align': 'right'},
    {'name': 'actions', 'label': '', 'field': 'id', 'align': 'right'},
]
ACTIONS = r'''
<q-td :props="props">
  <q-btn flat dense no-caps color="primary" label="Open" :aria-label="'Open run ' + props.row.id"
         @click="() => $parent.$emit('open', props.row.id)" />
  <a class="q-ml-sm text-primary" :href="'runs/' + props.row.id + '/export.json'" download>JSON</a>
  <a class="q-ml-sm text-primary" :href="'runs/' + props.row.id + '/export.csv'" download>CSV</a>
</q-td>
'''


def table_row(row: RunRow) -> dict:
    settings = row.settings
    return {
        'id': row.id,
        'when': time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(row.started_at)),
        'settings': (f"{settings['tasks']} tasks, {settings['failure_rate']:g} failing, "
                     f"{settings['min_duration']:g}-{settings['max_duration']:g} s, ×{settings['speed']:g}, "
                     f"seed {row.seed}"),
        'state': row.state,
        'counts': f'{row.completed} / {row.failed}',
        'rate': '' if row.success_rate is None else f'{row.success_rate:.0f}%',
        'duration': format_duration(row.finished_s if row.finished_s is not None else row.elapsed_s),
    }


class HistoryPanel:
    def __init__(self, recorder: Recorder) -> None:
        self._recorder = recorder
        with ui.expansion('History', icon='history').classes('w-full').mark('history') as self._expansion:
            self._table = ui.table(columns=COLUMNS, rows=[], row_key='id', pagination=10) \
                .classes('w-full').props('flat dense').mark('history-table')
            self._table.add_slot('body-cell-actions', ACTIONS)
            self._table.on('open', self.open)
        self._expansion.on_value_change(self.refresh)

    async def refresh(self) -> None:
        if not self._expansion.value:
            return  # closed: nothing to show, nothing to read
        await self._recorder.flush(include_progress=False)  # so that a run that just ended is listed
        rows = await self._recorder.call(self._recorder.store.runs)
        self._table.rows = [table_row(row) for row in rows]
        self._table.update()

    async def open(self, event: events.GenericEventArguments) -> None:
        run_id = int(event.args)
        row = await self._recorder.call(self._recorder.store.run, run_id)
        tasks = await self._recorder.call(self._recorder.store.tasks, run_id)
        if row is None:
            ui.notify(f'Run {run_id} is no longer in the history.', type='warning')
            return
        stored = SimpleNamespace(tasks=tasks, run=SimpleNamespace(elapsed_s=row.elapsed_s), total=len(tasks), version=0)
        with ui.dialog() as dialog, ui.card().classes('w-full max-w-screen-lg').mark('run-dialog'):
            with ui.row().classes('w-full items-center justify-between'):
                ui.label(f'Run {row.id}: {table_row(row)["settings"]}').classes('text-lg font-semibold')
                ui.button('Close', on_click=dialog.close).props('flat')
            ui.label(f'{row.state}: {row.completed} completed, {row.failed} failed, {row.cancelled} cancelled; '
                     f'{table_row(row)["duration"]}').classes('text-sm')
            TaskGrid(stored).mark('stored-grid')  # read-only: nothing ever sends it changes
        dialog.on('hide', dialog.delete)
        dialog.open()

"""A task's details, opened by a click on its card (or Enter on a focused card): state, attempts, start and end
times, duration, the progress history of each attempt, and errors. It follows the task live while open.

Times are seconds since the run started, as on the timeline ("at 12.4 s"), with the clock time below them."""
from __future__ import annotations

from datetime import datetime

from nicegui import ui

from .. import insight
from ..model import Attempt, Task, TaskStatus
from ..view import RunView
from .dialogs import dialog_heading
from .states import ICONS, WORDS
from .summary import format_duration


def clock_time(run_started_at: float, offset_s: float | None) -> str:
    """The wall-clock time of a moment of the run, as the viewer's machine shows times: 14:03:07."""
    if offset_s is None:
        return '-'
    return datetime.fromtimestamp(run_started_at + offset_s).strftime('%H:%M:%S')


def run_time(offset_s: float | None) -> str:
    """A moment of the run as the timeline shows it: at 12.4 s (since the run started)."""
    return '-' if offset_s is None else f'at {offset_s:,.1f} s'


def attempt_rows(sim: RunView, task: Task) -> list[dict[str, str]]:
    """One row per attempt, oldest first: when it started and ended, how long it took, how far it got, and how
    it ended. The current attempt is the last row."""
    run = sim.run
    started_at = run.started_at if run else 0.0
    now_s = run.elapsed_s if run else 0.0
    current = Attempt(number=task.attempt, duration=task.duration, progress=task.progress,
                      started_s=task.started_s, finished_s=task.finished_s, error=task.error)
    rows = []
    for attempt in [*task.earlier, current]:
        ongoing = attempt is current and not task.status.finished
        end_s = attempt.finished_s if attempt.finished_s is not None else (now_s if ongoing else None)
        took = None if attempt.started_s is None or end_s is None else end_s - attempt.started_s
        outcome = (WORDS[task.status] if attempt is current else 'Failed') + (
            f': {attempt.error}' if attempt.error else '')
        rows.append({
            'attempt': f'{attempt.number:,}',
            'started': run_time(attempt.started_s),
            'started_clock': '' if attempt.started_s is None else clock_time(started_at, attempt.started_s),
            'ended': run_time(attempt.finished_s),
            'ended_clock': '' if attempt.finished_s is None else clock_time(started_at, attempt.finished_s),
            'duration': '-' if took is None else format_duration(took) + (' so far' if ongoing else ''),
            'progress': f'{attempt.progress}%',
            'outcome': outcome,
        })
    return rows


COLUMNS = [
    {'name': name, 'label': label, 'field': name, 'align': 'left'}
    for name, label in [('attempt', 'Attempt'), ('started', 'Started'), ('ended', 'Ended'),
                        ('duration', 'Duration'), ('progress', 'Progress'), ('outcome', 'Outcome')]
]
# a moment: seconds since the run started, and the clock time in small text below
MOMENT = r'''
<q-td :props="props">
  <div>{{ props.value }}</div>
  <div v-if="props.row[props.col.name + '_clock']" class="moment-clock text-xs">
    {{ props.row[props.col.name + '_clock'] }}
  </div>
</q-td>
'''


class TaskDetails:
    """One dialog per page; `open(task_id)` shows a task and keeps it current until closed."""

    def __init__(self, sim: RunView) -> None:
        self._sim = sim
        self.task_id: int | None = None
        with ui.dialog() as self._dialog, ui.card().classes('w-full max-w-2xl').mark('details'):
            self._heading = dialog_heading(self._dialog, close_mark='details-close').mark('details-heading')
            self._facts = ui.label().classes('text-sm whitespace-pre-line').mark('details-facts')
            ui.label('Progress history, one row per attempt').classes('text-sm font-semibold')
            self._history = ui.table(columns=COLUMNS, rows=[], row_key='attempt').props('dense flat wrap-cells') \
                .classes('w-full').mark('details-history')
            for name in ('started', 'ended'):
                self._history.add_slot(f'body-cell-{name}', MOMENT)
        self._dialog.on('hide', self._forget)

    def open(self, task_id: int) -> None:
        self.task_id = task_id
        self.update()
        self._dialog.open()

    def follow(self, changed: frozenset[int], structure: bool) -> None:
        """Called on every simulator change: refresh if the task shown changed, or runs (its time goes on)."""
        if self.task_id is None:
            return
        if structure and self.task_id >= self._sim.total:
            self._dialog.close()
        elif structure or self.task_id in changed or self._sim.tasks[self.task_id].status == TaskStatus.RUNNING:
            self.update()

    def update(self) -> None:
        if self.task_id is None:
            return
        sim = self._sim
        task = sim.tasks[self.task_id]
        self._heading.text = f'{ICONS[task.status]} Task {task.id:,}: {WORDS[task.status]}'
        facts = [f'Attempt {task.attempt:,}' + (f' (retried {task.attempt - 1:,}×)' if task.attempt > 1 else ''),
                 f'Progress {task.progress}%']
        if task.status == TaskStatus.RUNNING and sim.run is not None:
            remaining = insight.task_remaining_s(task, sim.run.elapsed_s)
            facts.append('ETA estimating' if remaining is None else f'ETA {format_duration(remaining)}')
        if task.error:
            facts.append(f'Error: {task.error}')
        self._facts.text = '\n'.join(facts)
        self._history.rows = attempt_rows(sim, task)

    def _forget(self) -> None:
        self.task_id = None

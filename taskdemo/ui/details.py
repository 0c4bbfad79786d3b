"""A task's details, opened by a click on its card (or Enter on a focused card): state, attempts, start and end
times, duration, the progress history of each attempt, errors, and a stall (how long it has made no progress). It
follows the task live while open, and offers to cancel or retry it (task_actions.py) when the page has commands.

Times are seconds since the run started, as on the timeline ("at 12.4 s"), with the clock time below them."""
from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from nicegui import ui

from .. import insight
from ..control import Commands
from ..model import Attempt, Task, TaskStatus
from ..view import RunView
from .dialogs import dialog_heading
from .states import ICONS, WORDS
from .summary import format_duration
from .task_actions import TaskActions
from .timeline_stalls import stall_words


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
        # an earlier attempt failed (it has its error) or was cancelled: both can be retried
        earlier = 'Failed' if attempt.error else WORDS[TaskStatus.CANCELLED]
        now_word = WORDS[task.status] + (', stalled' if task.stalled else '')
        outcome = (now_word if attempt is current else earlier) + (
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
    """One dialog per page; `open(task_id)` shows a task and keeps it current until closed. With `commands`, it has
    the task's Cancel and Retry (enabled while `may_control()`: the page has the control token, or needs none)."""

    def __init__(self, sim: RunView, commands: Commands | None = None, *,
                 may_control: Callable[[], bool] = lambda: True, ticking: bool = True) -> None:
        """`ticking`: a running task's time goes on while it is open (not so for a replayed moment, which stands
        still: no timer then)."""
        self._sim = sim
        self.task_id: int | None = None
        with ui.dialog() as self._dialog, ui.card().classes('w-full max-w-2xl').mark('details'):
            self._heading = dialog_heading(self._dialog, close_mark='details-close').mark('details-heading')
            self._facts = ui.label().classes('text-sm whitespace-pre-line').mark('details-facts')
            self._actions = TaskActions(sim, commands, may_control=may_control) if commands is not None else None
            ui.label('Progress history, one row per attempt').classes('text-sm font-semibold')
            self._history = ui.table(columns=COLUMNS, rows=[], row_key='attempt').props('dense flat wrap-cells') \
                .classes('w-full').mark('details-history')
            for name in ('started', 'ended'):
                self._history.add_slot(f'body-cell-{name}', MOMENT)
        self._dialog.on('hide', self._forget)
        # a task that stands still changes nothing, so no change says how long it has: look once a second, while open
        self._timer = ui.timer(1.0, self._tick, active=False) if ticking else None

    def open(self, task_id: int) -> None:
        self.task_id = task_id
        self.update()
        self._dialog.open()
        if self._timer is not None:
            self._timer.activate()

    def close(self) -> None:
        self._dialog.close()

    def follow(self, changed: frozenset[int], structure: bool) -> None:
        """Called on every simulator change: refresh if the task shown changed, or runs (its time goes on)."""
        if self.task_id is None:
            return
        if structure and self.task_id >= self._sim.total:
            self._dialog.close()
        elif structure or self.task_id in changed or self._sim.tasks[self.task_id].status == TaskStatus.RUNNING:
            self.update()
        elif self._actions is not None:  # the run may have ended (or been interrupted) while the task did not change
            self._actions.show(self._sim.tasks[self.task_id])

    def _tick(self) -> None:
        if self.task_id is not None and self._sim.tasks[self.task_id].status == TaskStatus.RUNNING:
            self.update()

    def update(self) -> None:
        if self.task_id is None:
            return
        sim = self._sim
        task = sim.tasks[self.task_id]
        self._heading.text = f'{ICONS[task.status]} Task {task.id:,}: {WORDS[task.status]}'
        facts = [f'Attempt {task.attempt:,}' + (f' (retried {task.attempt - 1:,}×)' if task.attempt > 1 else ''),
                 f'Progress {task.progress}%']
        run = sim.run
        stall = stall_words(task, run.elapsed_s, run.settings.speed) if run is not None else None
        if task.status == TaskStatus.RUNNING and run is not None:
            remaining = insight.task_remaining_s(task, run.elapsed_s)
            facts.append('ETA unknown while it is stalled' if task.stalled else
                         'ETA estimating' if remaining is None else f'ETA {format_duration(remaining)}')
        if stall:
            facts.append(f'⚠ {stall}' if task.stalled else stall)
        if task.error:
            facts.append(f'Error: {task.error}')
        self._facts.text = '\n'.join(facts)
        self._history.rows = attempt_rows(sim, task)
        if self._actions is not None:
            self._actions.show(task)

    def _forget(self) -> None:
        self.task_id = None
        if self._timer is not None:
            self._timer.deactivate()
        if self._actions is not None:
            self._actions.close()

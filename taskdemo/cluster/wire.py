"""What travels through Redis: tasks, runs, change entries and snapshots, as compact JSON.

A change entry is one simulator Change: the run's clock and state, every task whose status changed (or that has
hung) as a whole record, and the running tasks whose percent alone changed as runs of consecutive ids, `[first_id,
percent, percent, ...]`, the encoding `/ws?mode=changes` uses (about four bytes a task), and the run's events
(model.RunEvent) added since the entry before, if any (most entries add none, and carry no key for them). A snapshot
is the whole state: the run, the settings in force, every task as a whole record, every event of the run, the
version it is current to.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ..model import Attempt, Change, EventKind, Run, RunEvent, RunState, Task, TaskStatus
from ..settings import RunSettings

STATUSES = list(TaskStatus)
STATUS_CODE = {status: code for code, status in enumerate(STATUSES)}


def dumps(value: Any) -> str:
    return json.dumps(value, separators=(',', ':'))


NO_HANG = (None, None, None, None, False)  # the hang of a task that has none: stall_at ... stalled


def task_record(task: Task) -> list:
    """A task as one list: its fields, its earlier attempts (at index 9), then its hang (`hang_of`) if one is
    planned. A task without one has no hang's times or flag either: its record is as short as before hangs."""
    earlier = [[a.number, a.duration, a.progress, a.started_s, a.finished_s, a.error] for a in task.earlier]
    record = [task.id, STATUS_CODE[task.status], task.progress, task.duration, task.fail_at, task.started_s,
              task.finished_s, task.error, task.attempt, earlier]
    if task.stall_at is not None:
        record += hang_of(task)
    return record


def task_of(record: list) -> Task:
    """The task of a `task_record`; a record without a hang has none."""
    (task_id, status, progress, duration, fail_at, started_s, finished_s, error, attempt, earlier, *hang) = record
    stall_at, stall_for, stalled_from, stalled_until, stalled = hang or NO_HANG
    return Task(id=task_id, status=STATUSES[status], progress=progress, duration=duration, fail_at=fail_at,
                started_s=started_s, finished_s=finished_s, error=error, attempt=attempt, stall_at=stall_at,
                stall_for=stall_for, stalled_from=stalled_from, stalled_until=stalled_until, stalled=stalled,
                earlier=[Attempt(*values) for values in earlier])


def hang_of(task: Task) -> list:
    return [task.stall_at, task.stall_for, task.stalled_from, task.stalled_until, task.stalled]


def tasks_text(tasks: list[Task]) -> str:
    """Every task, by column: 10,000 tasks in about a tenth of the time of one record each (a snapshot is
    written every second while a run goes on)."""
    return dumps({
        'status': ''.join(str(STATUS_CODE[task.status]) for task in tasks),
        'progress': [task.progress for task in tasks],
        'duration': [task.duration for task in tasks],
        'fail_at': [task.fail_at for task in tasks],
        'started': [task.started_s for task in tasks],
        'finished': [task.finished_s for task in tasks],
        'error': {task.id: task.error for task in tasks if task.error is not None},
        'attempt': {task.id: task.attempt for task in tasks if task.attempt != 1},
        'earlier': {task.id: task_record(task)[9] for task in tasks if task.earlier},
        # as in task_record: only a task with a planned hang has one
        'hang': {task.id: hang_of(task) for task in tasks if task.stall_at is not None},
    })


def tasks_of(text: str) -> list[Task]:
    columns = json.loads(text)
    errors, attempts, earlier = columns['error'], columns['attempt'], columns['earlier']
    hangs = columns.get('hang', {})  # a snapshot of the taskdemo before hangs has none
    tasks = []
    for i, (status, progress, duration, fail_at, started, finished) in enumerate(zip(
            columns['status'], columns['progress'], columns['duration'], columns['fail_at'], columns['started'],
            columns['finished'], strict=True)):
        key = str(i)
        stall_at, stall_for, stalled_from, stalled_until, stalled = hangs.get(key, NO_HANG)
        tasks.append(Task(id=i, status=STATUSES[int(status)], progress=progress, duration=duration, fail_at=fail_at,
                          started_s=started, finished_s=finished, error=errors.get(key),
                          attempt=attempts.get(key, 1), stall_at=stall_at, stall_for=stall_for,
                          stalled_from=stalled_from, stalled_until=stalled_until, stalled=stalled,
                          earlier=[Attempt(*values) for values in earlier.get(key, ())]))
    return tasks


def event_record(event: RunEvent) -> list:
    """An event as one list, `[at_s, kind, wall]`, then its tasks, 1 when it is a crash, and its source: only as
    long as it needs to be (most events name no task, and only commands have a source)."""
    record = [event.at_s, event.kind.value, event.wall, list(event.tasks), int(event.crash), event.source]
    while len(record) > 3 and not record[-1]:
        record.pop()
    return record


def event_of(record: list) -> RunEvent:
    at_s, kind, wall, *rest = record
    tasks, crash, source = [*rest, *[(), 0, ''][len(rest):]][:3]
    return RunEvent(at_s=at_s, kind=EventKind(kind), wall=wall, tasks=tuple(tasks), crash=bool(crash),
                    source=source)


def events_text(events: list[RunEvent]) -> str:
    return dumps([event_record(event) for event in events])


def events_of(text: str | None) -> list[RunEvent]:
    """The events of `events_text`; none for no text (a snapshot or a run stored by a taskdemo before events)."""
    return [event_of(record) for record in json.loads(text)] if text else []


def new_events(first: int, events: list[RunEvent]) -> list:
    """The events an entry adds: `[first, record, record, ...]`, where `first` is how many the run had before
    them (a mirror that holds another number has missed some, and reloads the snapshot)."""
    return [first, *(event_record(event) for event in events)]


def run_record(run: Run | None) -> dict[str, Any] | None:
    if run is None:
        return None
    return {'id': run.id, 'settings': run.settings.as_dict(), 'seed': run.seed, 'started_at': run.started_at,
            'elapsed_s': run.elapsed_s, 'state': run.state.value, 'finished_s': run.finished_s}


def run_of(record: dict[str, Any] | None) -> Run | None:
    if record is None:
        return None
    return Run(id=record['id'], settings=RunSettings(**record['settings']), seed=record['seed'],
               started_at=record['started_at'], elapsed_s=record['elapsed_s'], state=RunState(record['state']),
               finished_s=record['finished_s'])


def clock_of(run: Run | None) -> list | None:
    """The part of a run that moves every tick: its clock, its state, when it finished."""
    return None if run is None else [run.elapsed_s, run.state.value, run.finished_s]


@dataclass(frozen=True)
class Entry:
    """One stream entry, decoded. `kind` is 'change' (a Change to apply), 'tick' (only the clock moved; the
    version stays) or 'structure' (a new run or a reset: the snapshot written with it has everything)."""

    version: int
    epoch: int
    kind: str
    data: dict[str, Any]
    id: str = ''

    @classmethod
    def parse(cls, entry_id: str, fields: dict[str, str]) -> Entry:
        return cls(version=int(fields['v']), epoch=int(fields['e']), kind=fields['k'],
                   data=json.loads(fields['d']), id=entry_id)

    @property
    def millis(self) -> int:
        """When Redis added it: the first part of its id, milliseconds since the epoch."""
        return int(self.id.split('-')[0]) if self.id else 0


def change_data(tasks: list[Task], run: Run | None, change: Change, events: list | None = None) -> dict[str, Any]:
    """A Change as an entry's data, read off the tasks at the moment it happened, with the run's events it added
    (`new_events`, under 'e'; no key when it added none)."""
    whole, running = [], []
    previous = -2
    for i in sorted(change.tasks):
        task = tasks[i]
        # a task that has hung goes whole: its flag and its hang's times may have moved with its percent, or alone
        if i in change.transitions or task.status != TaskStatus.RUNNING or task.stalled_from is not None:
            whole.append(task_record(task))
            continue
        if i != previous + 1:
            running.append([i])
        running[-1].append(task.progress)
        previous = i
    data: dict[str, Any] = {'c': clock_of(run), 'w': whole, 'p': running, 'x': sorted(change.transitions)}
    if change.run:
        data['r'] = 1
    if events:
        data['e'] = events
    return data


@dataclass
class Snapshot:
    """The whole state at one version: enough to show the run, or to go on with it."""

    version: int
    epoch: int
    run: Run | None
    settings: RunSettings  # in force for the next run
    runs_started: int
    tasks: list[Task]
    entry: str = '0-0'  # the stream entry this is current to
    saved_at: float = 0.0  # wall clock of the engine when it wrote this
    events: list[RunEvent] = field(default_factory=list)  # of the run, every one (stored beside meta and tasks)

    def meta(self) -> str:
        return dumps({'v': self.version, 'e': self.epoch, 'run': run_record(self.run),
                      'settings': self.settings.as_dict(), 'runs_started': self.runs_started,
                      'saved_at': self.saved_at, 'n': len(self.tasks)})

    @classmethod
    def parse(cls, meta: str, tasks: str | None, entry: str, events: str | None = None) -> Snapshot:
        values = json.loads(meta)
        settings = RunSettings(**values['settings'])
        task_list = tasks_of(tasks) if tasks else [Task(id=i) for i in range(values['n'])]
        return cls(version=values['v'], epoch=values['e'], run=run_of(values['run']), settings=settings,
                   runs_started=values['runs_started'], tasks=task_list, entry=entry, saved_at=values['saved_at'],
                   events=events_of(events))

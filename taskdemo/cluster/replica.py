"""A simulator that mirrors the run another process advances: it is written only from what Redis carries (a
snapshot, then change entries, each applied at exactly the engine's version), and its readers (the pages, the
API, /ws) cannot tell it from the simulator that advances a run. `take_over` turns it into that simulator.

These functions are the simulator's second writer, so they use its own bookkeeping (`_count`, `_flag_stalled`,
`_track_stalled`, `_emit`, the schedule, the event log `events`); nothing else outside simulator.py does.
"""
from __future__ import annotations

from collections import deque

from ..model import COUNT_FIELD, Counts, EventKind, RunState, TaskStatus
from ..simulator import Simulator
from .wire import Entry, Snapshot, event_of, task_of


class Gap(Exception):
    """The entry does not follow the mirrored state: reload the snapshot, never guess."""


def adopt(sim: Simulator, snapshot: Snapshot) -> None:
    """Show the snapshot's state, at its version, as one structure change."""
    sim.run = snapshot.run
    sim.settings = snapshot.settings
    sim.tasks = snapshot.tasks
    sim.events = list(snapshot.events)
    sim.counts = Counts()
    for task in sim.tasks:
        field = COUNT_FIELD[task.status]
        setattr(sim.counts, field, getattr(sim.counts, field) + 1)
    sim._track_stalled(task.id for task in sim.tasks if task.stalled)
    sim._due.clear()
    sim._waiting.clear()
    sim._log.clear()
    sim._runs_started = snapshot.runs_started
    sim.version = snapshot.version - 1
    sim._emit(structure=True)


def apply(sim: Simulator, entry: Entry) -> None:
    """Apply one change or tick entry. Raises Gap when it does not follow the state (reload the snapshot)."""
    if entry.kind == 'tick':
        if entry.version != sim.version:
            raise Gap(f'a tick at version {entry.version}, mirrored {sim.version}')
        _set_clock(sim, entry.data.get('c'))
        return
    if entry.kind != 'change' or entry.version != sim.version + 1:
        raise Gap(f'a {entry.kind} entry at version {entry.version}, mirrored {sim.version}')
    data, tasks = entry.data, sim.tasks
    added = data.get('e')  # [how many events the run had before, then the new ones]
    if added is not None and added[0] != len(sim.events):
        raise Gap(f'events from {added[0]} on, mirrored {len(sim.events)}')
    changed: list[int] = []
    for record in data['w']:
        task = task_of(record)
        if not 0 <= task.id < len(tasks):
            raise Gap(f'task {task.id} of {len(tasks)}')
        old = tasks[task.id]
        sim._count(old, task.status)  # moves the counters (and the next line the stalled set); the old record is
        sim._flag_stalled(old, task.stalled)  # then replaced
        tasks[task.id] = task
        changed.append(task.id)
    for first, *percents in data['p']:
        for offset, percent in enumerate(percents):
            task = tasks[first + offset]
            task.progress = percent
            changed.append(task.id)
    if added is not None:
        sim.events.extend(event_of(record) for record in added[1:])
    _set_clock(sim, data.get('c'))
    sim._emit(tasks=changed, transitions=data['x'], run=bool(data.get('r')))


def _set_clock(sim: Simulator, clock: list | None) -> None:
    run = sim.run
    if run is None or clock is None:
        return
    run.elapsed_s, state, run.finished_s = clock
    run.state = RunState(state)


def take_over(sim: Simulator, *, away_s: float, resume_limit_s: float, moved_to: str | None = None) -> bool:
    """Go on with the mirrored run as its engine. Returns True when the run was interrupted instead, to be resumed
    by hand: its engine was gone longer than `resume_limit_s`.

    The run's log says what happened, through the simulator's own methods: the run was interrupted at the moment
    the old engine's last entry showed (`Simulator.interrupt`), and resumed at that same moment at once
    (`Simulator.resume`: a RESUME event; an interrupted run's clock stands still, and its engine was gone for
    `away_s`), or later by hand. A replay marks the takeover there, and is exact across it: a clean
    interruption, not one marked `crash`, because `crash` tells `Simulator.resume` and the replay that the state
    left behind may not agree with its clock (a single process's store writes percents and clock up to 1.5 s
    apart), so every running task's start must be moved to fit its percent, and the board before that moment
    can no longer be told exactly. A mirror holds one published version, whose percents and clock agree as a
    clean stop leaves them: it goes on as if the engine had never stopped (every task's hang and time-out as its
    plan says, see tests/cluster/test_task_commands.py), which moving starts would spoil for no gain. What the
    old engine advanced but could not publish was never shown anywhere but on its own pages, and is not the run.

    Waiting tasks wait in the order of their ids (the old engine's queue is not mirrored). A run that was not
    running (finished, or stopped cleanly) is left as it is, with its log. `moved_to` (this process's source,
    'process:host:port', when the run had another engine before): the run's log says so first (MOVED), and the
    interruption and resumption are that process's doing.
    """
    with sim.acting(moved_to or ''):
        if moved_to is not None and sim.run is not None:
            sim._event(EventKind.MOVED)
            sim._emit(run=True)
        sim._due.clear()
        sim._waiting = deque(task.id for task in sim.tasks if task.status == TaskStatus.PENDING)
        if not sim.active:
            return False
        sim.interrupt()
        if away_s > resume_limit_s:
            return True
        sim.resume()
        return False

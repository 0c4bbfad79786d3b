"""A simulator that mirrors the run another process advances: it is written only from what Redis carries (a
snapshot, then change entries, each applied at exactly the engine's version), and its readers (the pages, the
API, /ws) cannot tell it from the simulator that advances a run. `take_over` turns it into that simulator.

These functions are the simulator's second writer, so they use its own bookkeeping (`_count`, `_flag_stalled`,
`_track_stalled`, `_emit`, the schedule); nothing else outside simulator.py does.
"""
from __future__ import annotations

from collections import deque

from ..model import COUNT_FIELD, Counts, RunState, TaskStatus
from ..simulator import Simulator
from .wire import Entry, Snapshot, task_of


class Gap(Exception):
    """The entry does not follow the mirrored state: reload the snapshot, never guess."""


def adopt(sim: Simulator, snapshot: Snapshot) -> None:
    """Show the snapshot's state, at its version, as one structure change."""
    sim.run = snapshot.run
    sim.settings = snapshot.settings
    sim.tasks = snapshot.tasks
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
    _set_clock(sim, data.get('c'))
    sim._emit(tasks=changed, transitions=data['x'], run=bool(data.get('r')))


def _set_clock(sim: Simulator, clock: list | None) -> None:
    run = sim.run
    if run is None or clock is None:
        return
    run.elapsed_s, state, run.finished_s = clock
    run.state = RunState(state)


def take_over(sim: Simulator, *, away_s: float, resume_limit_s: float) -> bool:
    """Go on with the mirrored run as its engine: running tasks carry on from their last percent as their plan
    says; waiting ones wait in order. A run whose engine was gone longer than `resume_limit_s` is interrupted
    instead, to be resumed by hand (as after a crash). Returns True when the run was interrupted."""
    sim._due.clear()
    sim._waiting = deque(task.id for task in sim.tasks if task.status == TaskStatus.PENDING)
    if not sim.active:
        return False
    if away_s > resume_limit_s:
        return sim.interrupt()
    for task in sim.tasks:
        if task.status == TaskStatus.RUNNING:
            sim._schedule(task)
    sim._fill_slots()
    return False

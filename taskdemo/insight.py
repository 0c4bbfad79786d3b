"""What the run will take: throughput and an honest ETA, estimated only from what the tasks have shown so far.

The ETA waits for the slowest task: each running task's remaining time comes from its own progress rate, and
the run's ETA is the latest of those, plus the queued work when concurrency is limited. Before every running
task has shown some progress there is no honest number, and the answer is None ("estimating").

A stalled task (`RunView.stalled_ids`) has no rate to go by and may never end: the ETA leaves it out, and is that of
the other tasks (the board adds "+ 3 stalled"); it holds its slot, though, until its time limit if there is one. A
task that hangs but is not yet called stalled slows its own rate, as it should. With a time limit, no task is
expected to run past it.
"""
from __future__ import annotations

import heapq
import math
from weakref import WeakKeyDictionary

from .model import Task, TaskStatus
from .view import RunView

MIN_PROGRESS = 1  # percent a task must show before its rate means anything


def task_remaining_s(task: Task, run_elapsed_s: float) -> float | None:
    """Real seconds this running task still needs at its rate so far, or None while it has shown too little."""
    if task.status != TaskStatus.RUNNING or task.started_s is None or task.progress < MIN_PROGRESS:
        return None
    ran = run_elapsed_s - task.started_s
    if ran <= 0:
        return None
    return (100 - task.progress) * ran / task.progress


_ETA_CACHE: WeakKeyDictionary[RunView, tuple[int, float, float | None]] = WeakKeyDictionary()


def eta_s(sim: RunView) -> float | None:
    """Real seconds until the last task ends; 0 once the run has finished; None while estimating.

    A look at every running task: computed once per change of the simulator, however many pages ask."""
    elapsed = sim.run.elapsed_s if sim.run else 0.0
    cached = _ETA_CACHE.get(sim)
    if cached is not None and cached[:2] == (sim.version, elapsed):
        return cached[2]
    value = _eta_s(sim)
    _ETA_CACHE[sim] = (sim.version, elapsed, value)
    return value


def _eta_s(sim: RunView) -> float | None:
    run = sim.run
    if run is None or not sim.active:
        return 0.0 if run is not None else None
    stalled = sim.stalled_ids
    limit = run.settings.task_timeout
    limit_s = None if limit is None else limit / run.settings.speed  # real seconds a task may run
    running: list[Task] = []
    remaining: list[float] = []
    held: list[float] = []  # when the slots of the stalled tasks free up: at their time limit, or never
    for task in sim.tasks:
        if task.status != TaskStatus.RUNNING:
            continue
        if task.id in stalled:
            held.append(_within_limit(task, math.inf, run.elapsed_s, limit_s))
            continue
        left = task_remaining_s(task, run.elapsed_s)
        if left is None:
            return None
        running.append(task)
        remaining.append(_within_limit(task, left, run.elapsed_s, limit_s))
    waiting = sim.counts.pending
    if not waiting:
        return max(remaining, default=0.0)
    per_task = _typical_duration_s(sim, running, remaining, run.elapsed_s)
    if per_task is None:
        return None
    per_task = per_task if limit_s is None else min(per_task, limit_s)
    slots = run.settings.concurrency or sim.total
    busy = remaining + held
    free_at = sorted(busy)[:slots] + [0.0] * max(0, slots - len(busy))
    heapq.heapify(free_at)
    latest = max(remaining, default=0.0)
    for _ in range(waiting):  # each waiting task takes the slot that frees first
        free = heapq.heappop(free_at)
        if free == math.inf:
            return None  # it waits for a slot that a stalled task holds: no honest number
        ends = free + per_task
        latest = max(latest, ends)
        heapq.heappush(free_at, ends)
    return latest


def _within_limit(task: Task, left: float, elapsed_s: float, limit_s: float | None) -> float:
    """`left`, but no more than what the time limit leaves the task (`limit_s` real seconds from its start)."""
    if limit_s is None or task.started_s is None:
        return left
    return min(left, max(0.0, task.started_s + limit_s - elapsed_s))


def throughput_per_min(sim: RunView) -> float | None:
    """Tasks finished per minute of the run so far; None before the run has gone a second."""
    run = sim.run
    if run is None or run.elapsed_s < 1:
        return None
    finished = sim.counts.completed + sim.counts.failed
    return 60 * finished / (run.finished_s if run.finished_s is not None else run.elapsed_s)


def _typical_duration_s(sim: RunView, running: list[Task], remaining: list[float], elapsed_s: float) -> float | None:
    """How long a waiting task will take: the mean of the tasks that ended, or else of the running estimates."""
    ended = [t.finished_s - t.started_s for t in sim.tasks
             if t.status == TaskStatus.COMPLETED and t.started_s is not None and t.finished_s is not None]
    if ended:
        return sum(ended) / len(ended)
    totals = [elapsed_s - t.started_s + left for t, left in zip(running, remaining, strict=True)
              if t.started_s is not None]
    return sum(totals) / len(totals) if totals else None

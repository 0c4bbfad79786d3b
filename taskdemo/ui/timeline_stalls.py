"""Stalls on the timeline and in words: the part of a task's bar where it stood still long enough to count as
stalled, drawn hatched (a pattern, not colour alone), and how long a task has made no progress.

Only a task's current attempt keeps its hang (`Task.stalled_from` / `stalled_until`); an earlier attempt
(`model.Attempt`) does not, so a stall of an attempt that was later retried is not drawn.
"""
from __future__ import annotations

import math
from collections.abc import Iterable

from ..model import Task, TaskStatus, stall_after_s

STALLED = 'stalled'  # the timeline's series of stall segments, drawn over the bars
STALLED_NAME = 'Stalled'
# a stall: the bar's part in dark grey with yellow diagonal stripes, as a "caution" tape, on light and dark pages
STALL_COLOURS = ('#374151', '#4b5563')
DECAL = {'color': '#facc15', 'dashArrayX': [1, 0], 'dashArrayY': [3, 3], 'rotation': -math.pi / 4,
         'symbolSize': 1}


def stall_span(task: Task, now: float, speed: float) -> tuple[float, float] | None:
    """When the task's current attempt stood still, in real seconds since the run started: from when it stopped
    moving to when it moved again (or ended, or `now` while it still hangs). None when it never hung, or not for
    longer than `stall_after_s` of simulated time, the rule that flags a running task stalled."""
    if task.stalled_from is None or task.started_s is None or task.status == TaskStatus.PENDING:
        return None
    end = task.stalled_until if task.stalled_until is not None else (
        task.finished_s if task.finished_s is not None else now)
    if task.stalled or (end - task.stalled_from) * speed > stall_after_s(task.duration):
        return task.stalled_from, max(task.stalled_from, end)
    return None


def stall_bars(tasks: Iterable[Task], now: float, speed: float) -> list[list[float]]:
    """The stall segments of the tasks, as the timeline's bars: [task id, from s, to s]."""
    bars = []
    for task in tasks:
        if task.stalled_from is not None and (span := stall_span(task, now, speed)) is not None:
            bars.append([task.id, round(span[0], 2), round(span[1], 2)])
    return bars


def still_for_s(task: Task, now: float, speed: float) -> float | None:
    """Simulated seconds a stalled running task has made no progress; None when it is not flagged stalled."""
    if not task.stalled or task.stalled_from is None:
        return None
    return max(0.0, (now - task.stalled_from) * speed)


def stall_words(task: Task, now: float, speed: float) -> str | None:
    """What the details say of a hang, once it has happened and only if it counted as a stall: 'Stalled: no progress
    for 12 s' while it lasts; 'Was stalled for 14 s at 40 %, then moved on' after. Never what the plan holds."""
    still = still_for_s(task, now, speed)
    if still is not None:
        return f'Stalled: no progress for {seconds_text(still)}'
    span = stall_span(task, now, speed)
    if span is None:
        return None
    length = seconds_text((span[1] - span[0]) * speed)
    if task.stalled_until is not None:
        return f'Was stalled for {length} at {task.stall_at}%, then moved on'
    return f'Was stalled for {length} at {task.progress}% when it ended'


def seconds_text(seconds: float) -> str:
    """Whole seconds under a minute ('12 s'), then minutes and seconds ('2 min 5 s')."""
    whole = round(seconds)
    if whole < 60:
        return f'{whole} s'
    minutes, rest = divmod(whole, 60)
    if minutes < 60:
        return f'{minutes} min {rest} s'
    hours, minutes = divmod(minutes, 60)
    return f'{hours} h {minutes} min'

"""What the grid sends to a browser, kept small: a snapshot for a new run, then per tick only the changes.

Status changes (rare: a task starts, ends) go to every browser; percent changes (frequent: 10,000 tasks make
about 13,000 a second at speed 1) go only for the tasks the browser has on screen. A task's stalled flag is rare
too, and the Stalled filter needs it for every task: it goes to every browser, as the ids that began or stopped
being stalled in the tick (worked out once for all pages, ui/fanout.py), so the percent path carries nothing more.
"""
from __future__ import annotations

import base64
import math
from array import array
from collections.abc import Container, Iterable
from dataclasses import dataclass
from typing import Any

from ..model import Change, Task
from ..view import RunView
from .fanout import Stalls
from .states import CODES

PROGRESS_BITS = 7  # a percent fits in 7 bits: a change is packed as (task id << 7) | percent
TIMES_IN_FULL = 4  # a patch sends all start and end times when more than one task in this many has new ones


@dataclass(slots=True)
class Columns:
    """What the grid shows of every task, before it goes on the wire: kept by a grid to send the next moment of a
    replay as a `patch` of the last one."""

    codes: bytes
    progress: bytes
    started: array  # float32 bits; NaN: not yet
    ended: array
    errors: dict[str, str]
    attempts: dict[str, tuple[Any, ...]]
    stalled: tuple[tuple[int, float], ...]
    elapsed: float


def columns(sim: RunView) -> Columns:
    tasks = sim.tasks
    nan = float('nan')
    return Columns(
        codes=bytes(CODES[task.status] for task in tasks),
        progress=bytes(task.progress for task in tasks),
        started=array('f', (nan if t.started_s is None else t.started_s for t in tasks)),
        ended=array('f', (nan if t.finished_s is None else t.finished_s for t in tasks)),
        errors={str(task.id): task.error for task in tasks if task.error},
        attempts={str(task.id): _attempts(task) for task in tasks if task.earlier},
        stalled=_stalled(sim, sim.stalled_ids),
        elapsed=_elapsed(sim),
    )


def snapshot(sim: RunView) -> dict[str, Any]:
    """Everything the grid shows, for a new run or a newly opened page."""
    return whole(columns(sim))


def whole(c: Columns) -> dict[str, Any]:
    return {'n': len(c.codes), 'codes': _b64(c.codes), 'progress': _b64(c.progress),
            'started': _b64(c.started.tobytes()), 'ended': _b64(c.ended.tobytes()), 'errors': c.errors,
            'attempts': c.attempts, 'stalled': c.stalled, 'elapsed': c.elapsed}


def patch(before: Columns, after: Columns) -> dict[str, Any]:
    """`after` for a browser that has `before` (the same number of tasks): every state and percent (a byte per task),
    but only the start and end times, errors and earlier attempts that differ (`st`, `en`: [id, time], -1 for none;
    `errors`/`attempts`: id -> the new value, None where it went away), or a whole column of times when many moved.
    A scrub of a replay at 10,000 tasks sends some 30 KB instead of 320 KB: the texts are most of a snapshot, and
    seldom change from one moment to the next."""
    data = {'n': len(after.codes), 'codes': _b64(after.codes), 'progress': _b64(after.progress),
            'errors': _changed(before.errors, after.errors), 'attempts': _changed(before.attempts, after.attempts),
            'stalled': after.stalled, 'elapsed': after.elapsed}
    for name, sparse in (('started', 'st'), ('ended', 'en')):
        old, new = getattr(before, name), getattr(after, name)
        moved = _moved(old, new)
        if len(moved) > len(after.codes) // TIMES_IN_FULL:
            data[name] = _b64(new.tobytes())
        else:
            data[sparse] = [[i, _time(new[i])] for i in sorted(moved)]
    return data


def batch(sim: RunView, change: Change, shown: Container[int], stalls: Stalls | None = None) -> dict[str, Any] | None:
    """One tick's changes for a browser that shows the tasks in `shown`; None when it needs nothing. `stalls`: the
    tasks that began or stopped being stalled with this change (`st`: [id, real seconds since the run started when it
    stopped moving], `un`: ids), keys only present when there are any."""
    progress = [_pack(sim.tasks[i]) for i in change.tasks - change.transitions if i in shown]
    transitions = [_transition(sim.tasks[i]) for i in sorted(change.transitions)]
    stalled = stalls is not None and stalls.moved
    if not progress and not transitions and not stalled:
        return None
    moved = [sim.tasks[i] for i in change.transitions]
    # a retried task's error goes away (None); only retried tasks have earlier attempts
    errors = {str(task.id): task.error for task in moved if task.error or task.earlier}
    attempts = {str(task.id): _attempts(task) for task in moved if task.earlier}
    data = {'e': _elapsed(sim), 'p': progress, 's': transitions, 'err': errors, 'att': attempts}
    if stalled:
        assert stalls is not None
        data['st'] = _stalled(sim, stalls.began)
        data['un'] = sorted(stalls.ended)
    return data


def range_batch(sim: RunView, shown: Iterable[int]) -> dict[str, Any]:
    """The current percent of every task in `shown`: for a browser that scrolled to tasks it had not followed."""
    return {'e': _elapsed(sim), 'p': [_pack(sim.tasks[i]) for i in shown], 's': [], 'err': {}}


def _attempts(task: Task) -> tuple[Any, ...]:
    """[attempt number, what each earlier attempt came to] for a retried task's card and tooltip. Tuples, not
    lists, here and in `_stalled`: NiceGUI makes an observable of every list and dict put in the props, which at
    10,000 tasks took 15 ms a snapshot."""
    return task.attempt, tuple(f'attempt {a.number} failed at {a.progress}%: {a.error or "failed"}'
                               for a in task.earlier)


def _stalled(sim: RunView, ids: Iterable[int]) -> tuple[tuple[int, float], ...]:
    """[id, when it stopped moving] for each of these stalled tasks, in order of id."""
    return tuple((i, _since(sim.tasks[i].stalled_from)) for i in sorted(ids))


def _since(seconds: float | None) -> float:
    return -1 if seconds is None else round(seconds, 3)


def _pack(task: Task) -> int:
    return (task.id << PROGRESS_BITS) | task.progress


def _transition(task: Task) -> list[Any]:
    started = -1 if task.started_s is None else round(task.started_s, 3)
    finished = -1 if task.finished_s is None else round(task.finished_s, 3)
    return [task.id, CODES[task.status], task.progress, started, finished]


def _changed(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    if before == after:
        return {}
    changed: dict[str, Any] = {key: value for key, value in after.items() if before.get(key) != value}
    changed.update((key, None) for key in before.keys() - after.keys())
    return changed


def _moved(before: array, after: array) -> set[int]:
    """Tasks whose time differs (bit for bit: NaN, not yet, equals NaN)."""
    if before == after or before.tobytes() == after.tobytes():
        return set()
    old, new = array('I', before.tobytes()), array('I', after.tobytes())
    return {i for i, (a, b) in enumerate(zip(old, new, strict=True)) if a != b}


def _time(value: float) -> float:
    return -1 if math.isnan(value) else round(value, 3)


def _elapsed(sim: RunView) -> float:
    return round(sim.run.elapsed_s, 3) if sim.run else 0.0


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode('ascii')

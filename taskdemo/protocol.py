"""The wire shapes of the seed's contract (../shared/PROTOCOL.md) and of our extensions, built from the model.

A full frame for 10,000 tasks is about 400 KB of JSON, so `FrameCache` builds each shape at most once per
simulator version, however many clients ask for it.
"""
from __future__ import annotations

import json
import zlib
from typing import Any

from . import insight
from .model import Task, TaskStatus
from .view import RunView

GZIP_LEVEL = 1  # 465 KB of /status at 10,000 tasks: 1.8 ms and 55 KB at level 1, 29 ms and 41 KB at 9


def task_entry(task: Task) -> dict[str, Any]:
    """A task as the seed shows it; a stalled one (still `in_progress` for a seed client) also says `stalled`."""
    entry: dict[str, Any] = {'status': task.status.value, 'progress': task.progress}
    if task.status == TaskStatus.FAILED:
        entry['error'] = task.error or 'failed'
    elif task.stalled:
        entry['stalled'] = True
    return entry


def counters(sim: RunView) -> dict[str, Any]:
    return {'total': sim.total, 'completed': sim.counts.completed, 'failed': sim.counts.failed}


def full_frame(sim: RunView) -> dict[str, Any]:
    """Exactly the seed's `/ws` message."""
    return {**counters(sim), 'individual': {str(task.id): task_entry(task) for task in sim.tasks}}


def changes_frame(sim: RunView, task_ids: set[int]) -> dict[str, Any]:
    """The `/ws?mode=changes` message after the first full frame: the counters plus only the given tasks.

    A changed task that is not running goes to `individual` as a whole entry. Changed running tasks, which at
    scale are nearly all of them, go to `running` as runs of consecutive ids: `[first_id, percent, percent, ...]`
    means task `first_id` is in progress at the first percent, task `first_id + 1` at the next, and so on. That
    costs about four bytes a task where a seed entry costs forty-five. A stalled running task goes to `individual`
    (its entry says `"stalled": true`); one that stops being stalled is in `running` again, and its entry there
    replaces the whole entry a client held, flag and all.
    """
    individual: dict[str, Any] = {}
    running: list[list[int]] = []
    previous = -2
    for i in sorted(task_ids):
        task = sim.tasks[i]
        if task.status != TaskStatus.RUNNING or task.stalled:
            individual[str(i)] = task_entry(task)
            continue
        if i != previous + 1:
            running.append([i])
        running[-1].append(task.progress)
        previous = i
    return {**counters(sim), 'mode': 'changes', 'individual': individual, 'running': running}


def apply_changes(individual: dict[str, dict[str, Any]], frame: dict[str, Any]) -> None:
    """Bring a client's `individual` map up to date with one frame of either mode (the reference decoder). Every
    entry a frame names replaces the one held before, whole: a flag such as `stalled` is never left behind."""
    individual.update(frame['individual'])
    for first, *percents in frame.get('running', ()):
        for offset, percent in enumerate(percents):
            individual[str(first + offset)] = {'status': TaskStatus.RUNNING.value, 'progress': percent}


def status(sim: RunView) -> dict[str, Any]:
    """`GET /status`: a full frame plus the state of the run as a whole."""
    return {**full_frame(sim), **run_state(sim), **moment(sim)}


def run_state(sim: RunView) -> dict[str, Any]:
    """What `/status` adds to a full frame that changes only when the simulator's version does."""
    run = sim.run
    return {
        'state': sim.state.value,
        'version': sim.version,
        'run_id': run.id if run else None,
        'progress': round(sim.percent, 1),
        'running': sim.counts.running,
        'pending': sim.counts.pending,
        'cancelled': sim.counts.cancelled,
        'interrupted': sim.counts.interrupted,
        'started_at': run.started_at if run else None,
        'seed': run.seed if run else None,
        'settings': (run.settings if run else sim.settings).as_dict(),
        'attempts': {str(task.id): task.attempt for task in sim.tasks if task.attempt > 1},
        'error_groups': [{'error': error, 'count': len(ids), 'tasks': ids} for error, ids in sim.error_groups()],
    }


def moment(sim: RunView) -> dict[str, Any]:
    """What `/status` adds that moves with time even when no task changes: the clock and what follows from it."""
    run = sim.run
    stalled = stalled_tasks(sim)
    return {
        'elapsed_s': run.elapsed_s if run else None,  # exact: a replay asked for this moment shows this board
        'eta_s': _rounded(insight.eta_s(sim)),
        'throughput_per_min': _rounded(insight.throughput_per_min(sim)),
        'stalled': len(stalled),
        'stalled_tasks': stalled,
    }


def stalled_tasks(sim: RunView) -> list[dict[str, Any]]:
    """The stalled tasks, the one stalled longest first: `{"id", "stalled_s"}`, where `stalled_s` is the simulated
    seconds since it stopped moving. Read from `stalled_ids` (a handful), never from every task."""
    run = sim.run
    if run is None:
        return []
    speed, now = run.settings.speed, run.elapsed_s
    since = []
    for task_id in sim.stalled_ids:
        stalled_from = sim.tasks[task_id].stalled_from
        since.append((max(0.0, now - (now if stalled_from is None else stalled_from)) * speed, task_id))
    since.sort(key=lambda item: (-item[0], item[1]))
    return [{'id': task_id, 'stalled_s': round(seconds, 1)} for seconds, task_id in since]


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(',', ':'))


class FrameCache:
    """The full frame as text, built once per simulator version."""

    def __init__(self, sim: RunView) -> None:
        self._sim = sim
        self._version = -1
        self._text = ''

    def full(self) -> str:
        if self._version != self._sim.version:
            self._text = dumps(full_frame(self._sim))
            self._version = self._sim.version
        return self._text


class StatusCache:
    """`GET /status` as text: the full frame (shared with the `/ws` broadcaster) and the run's state are built once
    per simulator version; only the moment (elapsed time, ETA, throughput, how long stalled tasks have stood still)
    is added per request. At 10,000 tasks a request then costs a string join, not a 400 KB frame built and encoded
    again.

    Compressed the same way: the gzip stream of the part built once is kept with the compressor's state, and each
    request compresses only its own short tail on a copy of it. Compressing the whole 465 KB answer per request
    (what NiceGUI's gzip middleware would do) cost about 44 ms of CPU each time."""

    def __init__(self, sim: RunView, frames: FrameCache) -> None:
        self._sim = sim
        self._frames = frames
        self._version = -1
        self._body = ''
        self._gzip_version = -1
        self._gzip_head = b''
        self._gzip_state: Any = None

    def text(self, **extra: Any) -> str:
        return f'{self._head()},{self._tail(extra)}'

    def gzip(self, **extra: Any) -> bytes:
        """The same answer as `text`, gzip-compressed."""
        head = self._head()
        if self._gzip_version != self._version:
            compressor = zlib.compressobj(GZIP_LEVEL, zlib.DEFLATED, 31)  # 31: the gzip format
            self._gzip_head = compressor.compress(f'{head},'.encode()) + compressor.flush(zlib.Z_SYNC_FLUSH)
            self._gzip_state, self._gzip_version = compressor, self._version
        compressor = self._gzip_state.copy()
        return self._gzip_head + compressor.compress(self._tail(extra).encode()) + compressor.flush()

    def _head(self) -> str:
        if self._version != self._sim.version:
            self._body = self._frames.full()[:-1] + ',' + dumps(run_state(self._sim))[1:-1]
            self._version = self._sim.version
        return self._body

    def _tail(self, extra: dict[str, Any]) -> str:
        return dumps({**moment(self._sim), **extra})[1:]

"""The wire shapes of the seed's contract (../shared/PROTOCOL.md) and of our extensions, built from the model.

A full frame for 10,000 tasks is about 400 KB of JSON, so `FrameCache` builds each shape at most once per
simulator version, however many clients ask for it.
"""
from __future__ import annotations

import json
from typing import Any

from . import insight
from .simulator import Simulator, Task, TaskStatus


def task_entry(task: Task) -> dict[str, Any]:
    entry: dict[str, Any] = {'status': task.status.value, 'progress': task.progress}
    if task.status == TaskStatus.FAILED:
        entry['error'] = task.error or 'failed'
    return entry


def counters(sim: Simulator) -> dict[str, Any]:
    return {'total': sim.total, 'completed': sim.counts.completed, 'failed': sim.counts.failed}


def full_frame(sim: Simulator) -> dict[str, Any]:
    """Exactly the seed's `/ws` message."""
    return {**counters(sim), 'individual': {str(task.id): task_entry(task) for task in sim.tasks}}


def changes_frame(sim: Simulator, task_ids: set[int]) -> dict[str, Any]:
    """The counters plus only the given tasks: the `/ws?mode=changes` message after the first full frame."""
    return {
        **counters(sim),
        'mode': 'changes',
        'individual': {str(i): task_entry(sim.tasks[i]) for i in sorted(task_ids)},
    }


def status(sim: Simulator) -> dict[str, Any]:
    """`GET /status`: a full frame plus the state of the run as a whole."""
    run = sim.run
    return {
        **full_frame(sim),
        'state': sim.state.value,
        'run_id': run.id if run else None,
        'progress': round(sim.percent, 1),
        'running': sim.counts.running,
        'pending': sim.counts.pending,
        'cancelled': sim.counts.cancelled,
        'interrupted': sim.counts.interrupted,
        'started_at': run.started_at if run else None,
        'elapsed_s': round(run.elapsed_s, 3) if run else None,
        'seed': run.seed if run else None,
        'eta_s': _rounded(insight.eta_s(sim)),
        'throughput_per_min': _rounded(insight.throughput_per_min(sim)),
        'settings': (run.settings if run else sim.settings).as_dict(),
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(',', ':'))


class FrameCache:
    """The full frame as text, built once per simulator version."""

    def __init__(self, sim: Simulator) -> None:
        self._sim = sim
        self._version = -1
        self._text = ''

    def full(self) -> str:
        if self._version != self._sim.version:
            self._text = dumps(full_frame(self._sim))
            self._version = self._sim.version
        return self._text

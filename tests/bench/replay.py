"""The server's run replayed in-process: the same settings and seed give the same durations and failures, so the
wall time at which the server changed a task is known without touching the server."""
from __future__ import annotations

import math
import statistics
import time
from collections.abc import Iterable
from dataclasses import dataclass

from taskdemo.settings import RunSettings
from taskdemo.simulator import Simulator


@dataclass(frozen=True)
class Replay:
    durations: list[float]  # simulated seconds per task
    fail_at: list[int | None]
    speed: float
    started_at: float  # the server's wall clock start of the run (GET /status)

    @classmethod
    def of(cls, settings: RunSettings, started_at: float) -> Replay:
        sim = Simulator(settings)
        sim.start()
        return cls([t.duration for t in sim.tasks], [t.fail_at for t in sim.tasks], settings.speed, started_at)

    def reached(self, task: int, percent: int) -> float:
        """Wall time at which the server's task `task` reached `percent`."""
        return self.started_at + percent / 100 * self.durations[task] / self.speed

    def finished_at(self, task: int) -> float:
        fail = self.fail_at[task]
        return self.reached(task, 100 if fail is None else fail)

    def finished_between(self, begin: float, end: float) -> int:
        return sum(begin <= self.finished_at(i) <= end for i in range(len(self.durations)))

    def progress_at(self, task: int, wall: float) -> int:
        simulated = max(0.0, (wall - self.started_at) * self.speed)
        percent = min(100, int(100 * simulated / self.durations[task] + 1e-9))
        fail = self.fail_at[task]
        return min(percent, fail) if fail is not None else percent

    def changes_between(self, begin: float, end: float, tasks: Iterable[int] | None = None) -> int:
        """How many displayed percents (of running tasks, of `tasks` or all) the server changed in [begin, end]."""
        count = 0
        for task in range(len(self.durations)) if tasks is None else tasks:
            last = 100 if self.fail_at[task] is None else self.fail_at[task]
            lo = max(1, self.progress_at(task, begin) + 1)
            hi = min(last - 1, self.progress_at(task, end))
            count += max(0, hi - lo + 1)
        return count


def freshness(replay: Replay, samples: list[tuple[float, int, int]], middle: float) -> dict[str, float | int | None]:
    """Samples are (wall time shown, task, percent shown); freshness = shown - reached on the server, in ms.
    `middle` splits the window, to tell a steady delay from a growing one."""
    delays = sorted((shown - replay.reached(task, pct)) * 1000 for shown, task, pct in samples)
    if not delays:
        return {'samples': 0, 'p50_ms': None, 'p95_ms': None, 'max_ms': None, 'min_ms': None}
    first = [(s - replay.reached(t, p)) * 1000 for s, t, p in samples if s < middle]
    second = [(s - replay.reached(t, p)) * 1000 for s, t, p in samples if s >= middle]
    return {'samples': len(delays), 'p50_ms': round(percentile(delays, 50), 1),
            'p95_ms': round(percentile(delays, 95), 1), 'max_ms': round(delays[-1], 1),
            'min_ms': round(delays[0], 1),
            'p50_first_half_ms': round(statistics.median(first), 1) if first else None,
            'p50_second_half_ms': round(statistics.median(second), 1) if second else None}


def percentile(values: list[float], pct: float) -> float:
    """Nearest-rank percentile of a sorted list."""
    if not values:
        return math.nan
    return values[min(len(values) - 1, max(0, math.ceil(pct / 100 * len(values)) - 1))]


def time_steps(settings: RunSettings, *, steps: int, budget_s: float) -> dict[str, float | int]:
    """The simulator alone: `step(0.1)` timed with perf_counter, while every task is still running."""
    sim = Simulator(settings)
    sim.start()
    times = []
    deadline = time.monotonic() + budget_s
    while len(times) < steps and time.monotonic() < deadline and sim.active:
        began = time.perf_counter()
        sim.step(0.1)
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return {'steps': len(times), 'p50_ms': round(percentile(times, 50), 4), 'p95_ms': round(percentile(times, 95), 4),
            'running_at_end': sim.counts.running}

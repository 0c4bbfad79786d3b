"""The simulator's step alone at 10,000 tasks, with and without hangs and time limits.

    python -m tests.bench.step [--tasks 10000] [--rounds 5] [--steps 200]

A run at the benchmark's settings (speed 2, tasks of 60-120 simulated s, so every task is still running during the
window) is stepped by 0.1 s, `--steps` times per round; rounds of each variant take turns so that a busy moment of the
machine falls on all of them. Prints p50 / p95 per variant over all rounds. Not a pytest test: figures depend on the
machine, and the README's table is the record.
"""
from __future__ import annotations

import argparse
import time
from dataclasses import replace

from taskdemo.settings import RunSettings
from taskdemo.simulator import Simulator

from .replay import percentile

VARIANTS = {
    'no hangs, no limit (as before issue 15)': {},
    'stall rate 0.1': {'stall_rate': 0.1},
    'stall rate 0.1, time limit 90 s': {'stall_rate': 0.1, 'task_timeout': 90.0},
}


def one_round(settings: RunSettings, steps: int) -> list[float]:
    sim = Simulator(settings)
    sim.start()
    times = []
    for _ in range(steps):
        began = time.perf_counter()
        sim.step(0.1)
        times.append((time.perf_counter() - began) * 1000)
    return times


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog='python -m tests.bench.step', description=__doc__.split('\n')[0])
    parser.add_argument('--tasks', type=int, default=10_000)
    parser.add_argument('--rounds', type=int, default=5)
    parser.add_argument('--steps', type=int, default=200, help='steps of 0.1 s per round (200: 40 simulated s)')
    args = parser.parse_args(argv)
    base = RunSettings(tasks=args.tasks, speed=2.0, min_duration=60.0, max_duration=120.0, failure_rate=0.2, seed=1)
    times: dict[str, list[float]] = {name: [] for name in VARIANTS}
    for _ in range(args.rounds):
        for name, extra in VARIANTS.items():
            times[name] += one_round(replace(base, **extra), args.steps)
    print(f'step(0.1) at {args.tasks:,} tasks, {args.rounds} rounds of {args.steps} steps, ms:')
    for name, values in times.items():
        values.sort()
        print(f'  {name:42} p50 {percentile(values, 50):7.3f}  p95 {percentile(values, 95):7.3f}')


if __name__ == '__main__':
    main()

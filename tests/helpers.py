"""Helpers the tests share."""
from __future__ import annotations

from taskdemo.simulator import Simulator


class FakeClock:
    """Wall-clock time that moves only when a test says so."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def finish(sim: Simulator, *, seconds: float = 1_000.0, dt: float = 0.5) -> None:
    """Step the simulator until its run is over (or `seconds` of real time have passed)."""
    elapsed = 0.0
    while sim.active and elapsed < seconds:
        sim.step(dt)
        elapsed += dt


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a real server: without pytest's variables, which make NiceGUI think it is under test."""
    import os
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(('PYTEST_', 'NICEGUI_', 'TASKDEMO_'))}
    return {**env, **extra}

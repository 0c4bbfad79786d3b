"""The one timer: it steps the simulator with the real time that passed and survives a failing step."""
from __future__ import annotations

import logging

import pytest

from taskdemo.driver import Driver

from .helpers import FakeClock


class Stop(Exception):
    pass


async def test_the_driver_steps_the_simulator_by_the_time_that_passed(sim):
    clock = FakeClock(now=0)
    intervals = iter([0.1, 0.25, 0.05])

    async def sleep(_seconds: float) -> None:
        try:
            clock.advance(next(intervals))
        except StopIteration:
            raise Stop from None

    sim.start()
    with pytest.raises(Stop):
        await Driver(sim, clock=clock, sleep=sleep).run()
    assert sim.run.elapsed_s == pytest.approx(0.4)


async def test_a_failing_step_is_logged_and_the_timer_goes_on(sim, caplog):
    calls = []

    def broken_step(dt: float) -> None:
        calls.append(dt)
        if len(calls) == 2:
            raise RuntimeError('boom')

    sim.step = broken_step
    steps = iter(range(4))

    async def sleep(_seconds: float) -> None:
        if next(steps, None) is None:
            raise Stop

    driver = Driver(sim, clock=FakeClock(now=0), sleep=sleep)
    with caplog.at_level(logging.ERROR), pytest.raises(Stop):
        await driver.run()
    assert len(calls) == 4 and driver.failed_ticks == 1
    assert 'simulator step failed' in caplog.text


async def test_a_run_started_between_two_ticks_counts_its_time_from_its_start(sim):
    clock = FakeClock(now=0)
    calls = []

    async def sleep(seconds: float) -> None:
        calls.append(seconds)
        if len(calls) == 1:
            clock.advance(0.06)
            sim.start()  # 0.06 s after the last tick, 0.04 s before the next one
            clock.advance(0.04)
        elif len(calls) == 2:
            clock.advance(0.1)
        else:
            raise Stop

    driver = Driver(sim, clock=clock, sleep=sleep)
    with pytest.raises(Stop):
        await driver.run()
    assert sim.run.elapsed_s == pytest.approx(0.04 + 0.1), 'no time from before the start is counted'

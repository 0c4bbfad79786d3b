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

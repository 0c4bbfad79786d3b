"""Control through Redis on fakeredis: a command sent from any process is carried out by the engine with exactly
the one-process answers and status codes, and is refused with a 503 and a Retry-After while no engine exists or
Redis cannot be reached."""
from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator

import fakeredis
import pytest

from taskdemo.cluster.commands import RedisCommands
from taskdemo.cluster.engine import Engine
from taskdemo.cluster.lease import Lease
from taskdemo.cluster.link import Link
from taskdemo.control import ControlError, LocalCommands
from taskdemo.settings import RunSettings
from taskdemo.simulator import Simulator

from ..helpers import FakeClock, finish


def link_to(server: fakeredis.FakeServer, clock: FakeClock) -> Link:
    clients = (fakeredis.FakeAsyncRedis(server=server, decode_responses=True),
               fakeredis.FakeAsyncRedis(server=server, decode_responses=True))
    return Link('redis://fake', clients=clients, clock=clock)


def simulator(clock: FakeClock) -> Simulator:
    return Simulator(RunSettings(tasks=20, speed=50, failure_rate=0.5, seed=3), clock=clock, rng=random.Random(1))


@pytest.fixture
async def engine(clock: FakeClock) -> AsyncIterator[tuple[Engine, fakeredis.FakeServer]]:
    server = fakeredis.FakeServer()
    link = link_to(server, clock)
    lease = Lease(link, 'engine')
    assert await lease.acquire()
    engine = Engine(simulator(clock), link, lease, keep_runs=5, wall=clock)
    commands = asyncio.create_task(engine._take_commands())
    yield engine, server
    engine.stop()
    await asyncio.wait({commands}, timeout=2)


async def both(remote: RedisCommands, local: LocalCommands, op: str, *args) -> tuple[object, object]:
    """The same command through Redis and in one process: each answer, or (status, detail) of its refusal."""
    answers = []
    for commands in (remote, local):
        try:
            answers.append(await getattr(commands, op)(*args))
        except ControlError as error:
            answers.append((error.status, error.detail))
    return answers[0], answers[1]


async def test_commands_through_redis_answer_as_in_one_process(engine, clock: FakeClock) -> None:
    running, server = engine
    remote = RedisCommands(link_to(server, clock))
    twin = simulator(clock)  # the same commands on a simulator of its own, in this process
    local = LocalCommands(twin)
    for op, args in [('cancel', ()), ('resume', ()), ('retry', ()), ('start', ({'tasks': 0},)),
                     ('start', ({'speed': 50},)), ('start', ()), ('retry', ())]:
        through_redis, in_process = await both(remote, local, op, *args)
        assert through_redis == in_process, op
    finish(running.sim)
    finish(twin)
    for op, args in [('retry', ([999],)), ('retry', (None, 'no such error')), ('retry', ()), ('cancel', ()),
                     ('reset', ())]:
        through_redis, in_process = await both(remote, local, op, *args)
        assert through_redis == in_process, op
    assert [t.status for t in running.sim.tasks] == [t.status for t in twin.tasks]


async def test_without_an_engine_control_is_a_503_with_retry_after(clock: FakeClock) -> None:
    remote = RedisCommands(link_to(fakeredis.FakeServer(), clock))
    with pytest.raises(ControlError) as refused:
        await remote.start()
    assert refused.value.status == 503 and refused.value.retry_after == 1
    assert 'No process is advancing the run' in refused.value.detail


async def test_without_redis_control_is_a_503_that_says_since_when(clock: FakeClock) -> None:
    server = fakeredis.FakeServer()
    link = link_to(server, clock)
    remote = RedisCommands(link)
    server.connected = False  # fakeredis: every call now fails as with a Redis that went away
    with pytest.raises(ControlError) as refused:
        await remote.reset()
    assert refused.value.status == 503 and 'Cannot reach Redis' in refused.value.detail
    assert not link.up
    with pytest.raises(ControlError) as again:  # known to be away: refused at once, saying since when
        await remote.reset()
    assert again.value.detail.startswith(f'Cannot reach Redis since {link.since_text()}')

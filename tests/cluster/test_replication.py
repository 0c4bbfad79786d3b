"""The engine -> Redis -> mirror path on fakeredis (the Lua scripts run in it too), with time moved by hand: a
mirror shows exactly the engine's state at every version, reloads on any gap, and an engine fenced off by a newer
epoch writes nothing. Failover, outages and the lease under real timing run against a real redis-server in
test_failover.py."""
from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import dataclass

import fakeredis
import pytest

from taskdemo.cluster.engine import Engine, Fenced
from taskdemo.cluster.lease import Lease
from taskdemo.cluster.link import Link
from taskdemo.cluster.mirror import Mirror
from taskdemo.cluster.replica import take_over
from taskdemo.cluster.wire import Entry, Snapshot, task_of, task_record, tasks_text
from taskdemo.control import execute
from taskdemo.model import TaskStatus
from taskdemo.settings import RunSettings
from taskdemo.simulator import Simulator

from ..helpers import FakeClock


@dataclass
class Side:
    sim: Simulator
    link: Link


@pytest.fixture
async def server() -> AsyncIterator[fakeredis.FakeServer]:
    yield fakeredis.FakeServer()


def side(server: fakeredis.FakeServer, clock: FakeClock, **settings) -> Side:
    clients = (fakeredis.FakeAsyncRedis(server=server, decode_responses=True),
               fakeredis.FakeAsyncRedis(server=server, decode_responses=True))
    sim = Simulator(RunSettings(**settings), clock=clock, rng=random.Random(5))
    return Side(sim, Link('redis://fake', clients=clients, clock=clock))


async def engine_of(side: Side, holder: str, clock: FakeClock) -> Engine:
    lease = Lease(side.link, holder, clock=clock)
    assert await lease.acquire()
    return Engine(side.sim, side.link, lease, keep_runs=3, clock=clock, wall=clock)


def state(sim: Simulator) -> tuple:
    run = sim.run
    return (sim.version, sim.settings, None if run is None else (run.id, run.seed, run.state, run.elapsed_s,
                                                                   run.finished_s, run.settings),
            [task_record(task) for task in sim.tasks], vars(sim.counts), sorted(sim.stalled_ids))


def test_a_task_and_a_snapshot_survive_the_wire(make_sim) -> None:
    sim = make_sim(tasks=20, failure_rate=0.5, speed=50, seed=3)
    sim.start()
    for _ in range(30):
        sim.step(0.5)
    sim.retry()
    sim.step(0.5)
    assert [task_record(task_of(task_record(t))) for t in sim.tasks] == [task_record(t) for t in sim.tasks]
    snapshot = Snapshot(version=sim.version, epoch=4, run=sim.run, settings=sim.settings, runs_started=1,
                        tasks=sim.tasks, entry='5-0', saved_at=12.5)
    back = Snapshot.parse(snapshot.meta(), tasks_text(sim.tasks), '5-0')
    assert (back.version, back.epoch, back.run, back.settings, back.entry) == (sim.version, 4, sim.run,
                                                                              sim.settings, '5-0')
    assert [task_record(t) for t in back.tasks] == [task_record(t) for t in sim.tasks]


async def test_a_mirror_shows_the_engines_state_at_every_version(server, clock: FakeClock) -> None:
    settings = {'tasks': 40, 'speed': 40, 'failure_rate': 0.3, 'concurrency': 7, 'stall_rate': 0.3, 'task_timeout': 100}
    a, b = side(server, clock, **settings), side(server, clock)
    engine = await engine_of(a, 'a', clock)
    await engine.publish()
    mirror = Mirror(b.sim, b.link)
    assert await mirror.load()
    seen_versions = []
    b.sim.subscribe(lambda change: seen_versions.append(change.version))
    execute(a.sim, 'start', {'settings': {'seed': 9}})
    await engine.publish()
    steps = 0
    while a.sim.active:
        a.sim.step(0.37)
        steps += 1
        clock.advance(0.37)
        await engine.publish()
        await mirror.read()
        assert state(b.sim) == state(a.sim)
    assert a.sim.counts.failed > 0 and steps > 10
    assert any(t.stalled_until for t in a.sim.tasks) and any(t.error == 'timed out after 100 s' for t in a.sim.tasks)
    execute(a.sim, 'retry', {'tasks': None, 'error': None})
    await engine.publish()
    await mirror.read()
    assert state(b.sim) == state(a.sim)
    execute(a.sim, 'cancel', {})
    execute(a.sim, 'reset', {})
    await engine.publish()
    await mirror.read()
    assert state(b.sim) == state(a.sim)
    assert seen_versions == sorted(set(seen_versions)), 'the mirror emitted a version twice or out of order'


async def test_a_gap_reloads_the_snapshot(server, clock: FakeClock) -> None:
    a, b = side(server, clock, tasks=30, speed=20), side(server, clock)
    engine = await engine_of(a, 'a', clock)
    execute(a.sim, 'start', {'settings': None})
    await engine.publish()
    mirror = Mirror(b.sim, b.link)
    await mirror.load()
    for _ in range(6):
        a.sim.step(0.5)
        clock.advance(1.1)  # a snapshot with every publish
        await engine.publish()
    # the entries the mirror needs next are gone
    await a.link.fast.xtrim(a.link.keys.changes, maxlen=2, approximate=False)
    reloads = mirror.reloads
    await mirror.read()
    await mirror.read()
    assert mirror.reloads == reloads + 1
    assert state(b.sim) == state(a.sim)


async def test_an_engine_fenced_off_by_a_newer_epoch_writes_nothing(server, clock: FakeClock) -> None:
    a, b = side(server, clock, tasks=10, speed=10), side(server, clock)
    old = await engine_of(a, 'a', clock)
    execute(a.sim, 'start', {'settings': None})
    await old.publish()
    await a.link.fast.delete(a.link.keys.lease)  # its lease ran out while it was paused
    mirror = Mirror(b.sim, b.link)
    await mirror.catch_up()
    new = await engine_of(b, 'b', clock)
    assert new.lease.epoch == old.lease.epoch + 1
    take_over(b.sim, away_s=0.0, resume_limit_s=30)
    await new.publish()
    length = await a.link.fast.xlen(a.link.keys.changes)
    a.sim.step(1.0)
    with pytest.raises(Fenced):
        await old.publish()
    assert await a.link.fast.xlen(a.link.keys.changes) == length
    entries = [Entry.parse(i, f) for i, f in await a.link.fast.xrange(a.link.keys.changes)]
    changes = [entry.version for entry in entries if entry.kind != 'tick']
    assert changes == sorted(set(changes)), 'a version was written twice'


async def test_a_takeover_goes_on_with_the_run_as_its_seed_says(server, clock: FakeClock, make_sim) -> None:
    settings = {'tasks': 60, 'speed': 30, 'failure_rate': 0.3, 'concurrency': 20, 'seed': 17}
    reference = make_sim(**settings)
    reference.start()
    a, b = side(server, clock, **settings), side(server, clock)
    engine = await engine_of(a, 'a', clock)
    execute(a.sim, 'start', {'settings': None})
    await engine.publish()
    for _ in range(10):
        a.sim.step(0.5)
        reference.step(0.5)
        await engine.publish()
    assert a.sim.counts.finished > 0 and a.sim.active
    await a.link.fast.delete(a.link.keys.lease)  # engine a is gone (kill -9): its lease runs out
    mirror = Mirror(b.sim, b.link)
    await mirror.catch_up()
    successor = await engine_of(b, 'b', clock)
    assert not take_over(b.sim, away_s=2.5, resume_limit_s=30)
    await successor.publish()
    while b.sim.active:
        b.sim.step(0.5)
        reference.step(0.5)
        await successor.publish()
    assert [(t.status, t.error, t.attempt) for t in b.sim.tasks] == \
           [(t.status, t.error, t.attempt) for t in reference.tasks]


async def test_a_run_away_longer_than_the_limit_waits_to_be_resumed(server, clock: FakeClock) -> None:
    a, b = side(server, clock, tasks=10, speed=5), side(server, clock)
    engine = await engine_of(a, 'a', clock)
    execute(a.sim, 'start', {'settings': None})
    a.sim.step(1.0)
    await engine.publish()
    mirror = Mirror(b.sim, b.link)
    await mirror.catch_up()
    assert take_over(b.sim, away_s=45.0, resume_limit_s=30)
    assert b.sim.run.state.value == 'interrupted'
    assert all(task.status == TaskStatus.INTERRUPTED for task in b.sim.tasks if task.progress < 100)
    assert execute(b.sim, 'resume', {})['message'].startswith('Run 1 resumed')

"""Hangs and per-task control in cluster mode, on fakeredis with time moved by hand: a task's hang survives the wire
(records, snapshots, change entries, the history), a mirror keeps `stalled_ids` in step with the engine, and a
per-task cancel or retry sent from a board is answered by the engine exactly as in one process."""
from __future__ import annotations

import asyncio
import json
import random
from collections.abc import AsyncIterator
from dataclasses import dataclass

import fakeredis
import pytest

from taskdemo.cluster.commands import RedisCommands
from taskdemo.cluster.engine import Engine
from taskdemo.cluster.history import RedisHistory
from taskdemo.cluster.lease import Lease
from taskdemo.cluster.link import Link
from taskdemo.cluster.mirror import Mirror
from taskdemo.cluster.replica import take_over
from taskdemo.cluster.wire import change_data, task_of, task_record, tasks_of, tasks_text
from taskdemo.control import ControlError, LocalCommands
from taskdemo.model import Change, Task, TaskStatus
from taskdemo.settings import RunSettings
from taskdemo.simulator import Simulator

from ..helpers import FakeClock, finish

SETTINGS = {'tasks': 20, 'speed': 10.0, 'failure_rate': 0.4, 'stall_rate': 0.5, 'task_timeout': 100.0, 'seed': 3}
DT = 0.25


def link_to(server: fakeredis.FakeServer, clock: FakeClock) -> Link:
    clients = (fakeredis.FakeAsyncRedis(server=server, decode_responses=True),
               fakeredis.FakeAsyncRedis(server=server, decode_responses=True))
    return Link('redis://fake', clients=clients, clock=clock)


def simulator(clock: FakeClock, **settings) -> Simulator:
    return Simulator(RunSettings(**settings), clock=clock, rng=random.Random(1))


def hangs(tasks: list[Task]) -> list[tuple]:
    return [(t.id, t.status, t.progress, t.stall_at, t.stall_for, t.stalled_from, t.stalled_until, t.stalled)
            for t in tasks]


@dataclass
class Cluster:
    engine: Engine
    board: RedisCommands  # a board process: its commands go through Redis to the engine
    other: Mirror  # another process, that only shows the run
    server: fakeredis.FakeServer

    async def publish(self) -> None:
        await self.engine.publish()
        await self.other.read()


@pytest.fixture
async def cluster(clock: FakeClock) -> AsyncIterator[Cluster]:
    server = fakeredis.FakeServer()
    link = link_to(server, clock)
    lease = Lease(link, 'engine', clock=clock)
    assert await lease.acquire()
    engine = Engine(simulator(clock), link, lease, keep_runs=5, clock=clock, wall=clock)
    await engine.publish()
    other = Mirror(simulator(clock), link_to(server, clock))
    assert await other.load()
    commands = asyncio.create_task(engine._take_commands())
    yield Cluster(engine, RedisCommands(link_to(server, clock)), other, server)
    engine.stop()
    await asyncio.wait({commands}, timeout=2)


def test_a_hang_survives_every_form_of_the_wire(make_sim) -> None:
    sim = make_sim(**{**SETTINGS, 'stall_rate': 1.0})
    sim.start()
    while not (sim.stalled_ids and any(t.stalled_until for t in sim.tasks)):
        sim.step(DT)
    assert [task_record(task_of(task_record(t))) for t in sim.tasks] == [task_record(t) for t in sim.tasks]
    assert hangs(tasks_of(tasks_text(sim.tasks))) == hangs(sim.tasks)
    (flagged, *_) = sim.stalled_ids
    entry = change_data(sim.tasks, sim.run, Change(version=9, tasks=frozenset({flagged})))
    assert [task_of(record).stalled for record in entry['w']] == [True] and entry['p'] == [], \
        'a flag that moved alone goes as the whole task, not as a percent'


def test_a_task_without_a_hang_travels_as_before_hangs(make_sim) -> None:
    sim = make_sim(**{**SETTINGS, 'stall_rate': 0.5})
    sim.start()
    sim.step(10)
    plain = next(t for t in sim.tasks if t.stall_at is None)
    hanging = next(t for t in sim.tasks if t.stall_at is not None)
    assert (len(task_record(plain)), len(task_record(hanging))) == (10, 15)
    columns = json.loads(tasks_text(sim.tasks))
    assert set(columns.pop('hang')) == {str(t.id) for t in sim.tasks if t.stall_at is not None}
    before_hangs = [task_record(t)[:10] for t in tasks_of(json.dumps(columns))]  # a snapshot of before hangs
    assert before_hangs == [task_record(t)[:10] for t in sim.tasks]
    assert all(t.stall_at is None and not t.stalled for t in tasks_of(json.dumps(columns)))


async def test_per_task_commands_from_a_board_answer_as_in_one_process(cluster: Cluster, clock: FakeClock) -> None:
    engine_sim = cluster.engine.sim
    twin = simulator(clock)  # the same commands, in one process
    local = LocalCommands(twin)

    async def both(op: str, *args) -> None:
        answers = []
        for commands in (cluster.board, local):
            try:
                answers.append(await getattr(commands, op)(*args))
            except ControlError as error:
                answers.append((error.status, error.detail))
        assert answers[0] == answers[1], (op, args)

    await both('cancel_task', 0)  # no run yet
    await both('retry_task', 0)
    await both('start', SETTINGS)
    for _ in range(4):
        engine_sim.step(DT)
        twin.step(DT)
    running = next(t.id for t in engine_sim.tasks if t.status == TaskStatus.RUNNING)
    for op, args in [('cancel_task', (running,)), ('cancel_task', (running,)), ('cancel_task', (99,)),
                     ('cancel_task', ('seven',)), ('retry_task', (running + 1,)), ('retry_task', (-1,)),
                     ('retry_task', (running,)), ('cancel_task', (running,))]:
        await both(op, *args)
    while not engine_sim.failed_tasks():
        engine_sim.step(DT)
        twin.step(DT)
    await both('retry_task', engine_sim.failed_tasks()[0])
    assert hangs(engine_sim.tasks) == hangs(twin.tasks)
    assert [t.attempt for t in engine_sim.tasks] == [t.attempt for t in twin.tasks]


async def test_another_process_sees_a_cancelled_task_and_the_stalled_flags(cluster: Cluster) -> None:
    engine_sim, shown = cluster.engine.sim, cluster.other.sim
    await cluster.board.start(SETTINGS)
    await cluster.publish()
    flags_seen, victim = set(), None
    while engine_sim.active and not (engine_sim.stalled_ids and engine_sim.counts.cancelled):
        engine_sim.step(DT)
        if engine_sim.stalled_ids and not engine_sim.counts.cancelled:
            victim = next(iter(engine_sim.stalled_ids))
            assert (await cluster.board.cancel_task(victim))['status'] == 'cancelled'
        await cluster.publish()
        assert hangs(shown.tasks) == hangs(engine_sim.tasks) and shown.stalled_ids == engine_sim.stalled_ids
        flags_seen |= shown.stalled_ids
    assert shown.tasks[victim].status == TaskStatus.CANCELLED and victim not in shown.stalled_ids
    assert shown.stalled_ids, 'another task is flagged as stalled there'
    while engine_sim.active:  # on to the end: flags come and go, in step
        engine_sim.step(DT)
        await cluster.publish()
        assert shown.stalled_ids == engine_sim.stalled_ids
        flags_seen |= shown.stalled_ids
    assert shown.stalled_ids == frozenset() and len(flags_seen) > 1
    assert any(t.error == 'timed out after 100 s' for t in shown.tasks)
    reply = await cluster.board.retry_task(victim)
    await cluster.publish()
    assert (reply['attempt'], shown.tasks[victim].attempt, shown.tasks[victim].earlier[0].progress) == \
        (2, 2, engine_sim.tasks[victim].earlier[0].progress)


async def test_a_process_that_joins_mid_hang_and_takes_over_goes_on_with_the_hangs(cluster: Cluster, clock: FakeClock,
                                                                                    make_sim) -> None:
    reference = make_sim(**SETTINGS)
    reference.start()
    engine_sim = cluster.engine.sim
    await cluster.board.start(SETTINGS)
    while not engine_sim.stalled_ids:
        engine_sim.step(DT)
        reference.step(DT)
    clock.advance(1.1)  # a snapshot goes with this publish
    await cluster.engine.publish()
    late = Mirror(simulator(clock), link_to(cluster.server, clock))
    assert await late.load()
    shown = late.sim
    assert shown.stalled_ids == engine_sim.stalled_ids and hangs(shown.tasks) == hangs(engine_sim.tasks)
    cluster.engine.stop()  # the engine is gone; the process that joined goes on from what it holds
    assert not take_over(shown, away_s=0.0, resume_limit_s=30)
    while shown.active:
        shown.step(DT)
        reference.step(DT)
        assert shown.stalled_ids == reference.stalled_ids
    assert hangs(shown.tasks) == hangs(reference.tasks)


async def test_the_history_in_redis_keeps_the_hangs(cluster: Cluster, clock: FakeClock) -> None:
    engine_sim = cluster.engine.sim
    await cluster.board.start(SETTINGS)
    finish(engine_sim, dt=DT)
    await cluster.publish()
    history = RedisHistory(link_to(cluster.server, clock), keep_runs=5)
    stored = await history.tasks(engine_sim.run.id)
    assert any(t.stall_at is not None for t in stored) and any(t.stalled_until for t in stored)
    assert [task_record(t) for t in stored] == [task_record(t) for t in engine_sim.tasks]

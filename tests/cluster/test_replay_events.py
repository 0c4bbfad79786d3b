"""A run's events (model.RunEvent) in cluster mode, on fakeredis with time moved by hand: they reach every mirror
(through change entries, and whole through a snapshot), the Redis history keeps them with the run, and so a replay
made on any process, of the live run or of a stored one, is the board the engine showed at each moment. A takeover
is logged as an interruption and a resume at the moment the old engine's last entry showed, and the replay stays
exact across it (replica.take_over says why)."""
from __future__ import annotations

import json
import random
from collections.abc import Callable

import fakeredis
import pytest
from fastapi import HTTPException

from taskdemo import protocol
from taskdemo.cluster.engine import Engine
from taskdemo.cluster.history import RedisHistory
from taskdemo.cluster.lease import Lease
from taskdemo.cluster.link import Link
from taskdemo.cluster.mirror import Mirror
from taskdemo.cluster.replica import Gap, apply, take_over
from taskdemo.cluster.wire import Entry, new_events
from taskdemo.control import execute
from taskdemo.model import EventKind, RunEvent, TaskStatus
from taskdemo.replays import Replays
from taskdemo.settings import RunSettings
from taskdemo.simulator import Simulator
from taskdemo.view import RunView

from ..helpers import FakeClock

SETTINGS = {'tasks': 40, 'speed': 20.0, 'failure_rate': 0.3, 'concurrency': 8, 'stall_rate': 0.3,
            'task_timeout': 100.0, 'seed': 9}
DT = 0.37


class Process:
    """One process of the cluster: its simulator and its link to the shared (fake) Redis."""

    def __init__(self, server: fakeredis.FakeServer, clock: FakeClock, **settings) -> None:
        clients = (fakeredis.FakeAsyncRedis(server=server, decode_responses=True),
                   fakeredis.FakeAsyncRedis(server=server, decode_responses=True))
        self.sim = Simulator(RunSettings(**settings), clock=clock, rng=random.Random(5))
        self.link = Link('redis://fake', clients=clients, clock=clock)
        self.clock = clock
        self.mirror = Mirror(self.sim, self.link)
        self.engine: Engine | None = None

    async def lead(self, holder: str) -> Engine:
        lease = Lease(self.link, holder, clock=self.clock)
        assert await lease.acquire()
        self.engine = Engine(self.sim, self.link, lease, keep_runs=5, clock=self.clock, wall=self.clock)
        return self.engine

    def history(self) -> RedisHistory:
        return RedisHistory(self.link, keep_runs=5)


def board(view: RunView) -> dict:
    """The `/status` answer, less its version (a replay's moment has versions of its own)."""
    status = protocol.status(view)
    status.pop('version')
    return status


@pytest.fixture
def server() -> fakeredis.FakeServer:
    return fakeredis.FakeServer()


@pytest.fixture
def process(server: fakeredis.FakeServer, clock: FakeClock) -> Callable[..., Process]:
    return lambda **settings: Process(server, clock, **settings)


async def test_events_reach_a_mirror_through_entries_and_a_late_one_through_the_snapshot(process, clock) -> None:
    a, b = process(**SETTINGS), process()
    engine = await a.lead('a')
    await engine.publish()
    assert await b.mirror.load()
    execute(a.sim, 'start', {'settings': None})
    await engine.publish()
    await b.mirror.read()
    reloads, late = b.mirror.reloads, None
    while a.sim.active:
        a.sim.step(DT)
        clock.advance(DT)
        running = [task.id for task in a.sim.tasks if task.status == TaskStatus.RUNNING]
        if a.sim.counts.finished > 5 and len(a.sim.events) == 1:
            execute(a.sim, 'cancel_task', {'task': running[0]})
            execute(a.sim, 'retry_task', {'task': running[0]})
        if late is None and len(a.sim.events) == 3:
            clock.advance(1.1)  # a snapshot goes with this publish: a process that joins now has every event from it
            await engine.publish()
            late = process()
            assert await late.mirror.load() and late.sim.events == a.sim.events
        await engine.publish()
        await b.mirror.read()
        assert b.sim.events == a.sim.events
    execute(a.sim, 'retry', {'tasks': None, 'error': None})
    await engine.publish()
    for mirror in (b, late):
        await mirror.mirror.read()
        assert mirror.sim.events == a.sim.events
    kinds = [event.kind for event in a.sim.events]
    assert kinds == [EventKind.START, EventKind.CANCEL_TASK, EventKind.RETRY_TASK, EventKind.COMPLETED,
                     EventKind.RETRY]
    assert b.mirror.reloads == reloads, 'the events after the start came through entries, not snapshots'
    execute(a.sim, 'reset', {})
    await engine.publish()
    await b.mirror.read()
    assert b.sim.events == [] and b.sim.run is None


async def test_a_mirror_that_missed_an_event_reloads_the_snapshot(process, clock) -> None:
    a, b = process(**SETTINGS), process()
    engine = await a.lead('a')
    execute(a.sim, 'start', {'settings': None})
    await engine.publish()
    assert await b.mirror.load()
    entry = Entry(b.sim.version + 1, engine.lease.epoch, 'change',
                  {'c': None, 'w': [], 'p': [], 'x': [], 'e': new_events(2, [a.sim.events[0]])})
    with pytest.raises(Gap, match='events from 2 on, mirrored 1'):
        apply(b.sim, entry)
    b.sim.events.clear()  # as if an entry had been lost on the way
    execute(a.sim, 'cancel', {})
    await engine.publish()
    reloads = b.mirror.reloads
    await b.mirror.read()
    assert b.mirror.reloads == reloads + 1 and b.sim.events == a.sim.events


async def test_a_replay_on_a_mirror_is_the_board_the_engine_showed(process, clock) -> None:
    a, b = process(**SETTINGS), process()
    engine = await a.lead('a')
    await engine.publish()
    assert await b.mirror.load()
    execute(a.sim, 'start', {'settings': None})
    shown = {0.0: board(a.sim)}

    async def advance(dt: float) -> None:
        a.sim.step(dt)
        clock.advance(dt)
        await engine.publish()
        await b.mirror.read()
        shown[a.sim.run.elapsed_s] = board(a.sim)
    while a.sim.counts.failed < 2:
        await advance(DT)
    execute(a.sim, 'retry_task', {'task': a.sim.failed_tasks()[0]})
    shown[a.sim.run.elapsed_s] = board(a.sim)  # a command between two steps: the replay shows what it did
    while a.sim.active:
        await advance(DT)
    execute(a.sim, 'retry', {'tasks': None, 'error': None})  # a finished run's clock stands still: the same moment
    shown[a.sim.run.elapsed_s] = board(a.sim)
    for _ in range(3):  # not long enough for a retried task to end
        await advance(DT)
    moments = sorted(shown)
    assert len(moments) > 40 and any(board['stalled'] for board in shown.values())
    on_engine, on_mirror = Replays(a.sim, None), Replays(b.sim, b.history())
    run_id = a.sim.run.id
    for at in moments:
        mirrored = await on_mirror.moment(run_id, at)
        assert board(mirrored) == board(await on_engine.moment(run_id, at)) == shown[at], at
        assert mirrored.exact
    # the run, once another replaces it, comes back from the Redis history with its events
    execute(a.sim, 'cancel', {})
    shown[moments[-1]] = board(a.sim)  # at the moment it was cancelled, the replay shows it cancelled
    execute(a.sim, 'start', {'settings': None})
    await engine.publish()
    await b.mirror.read()
    assert [event.kind for event in await b.history().events(run_id)] == [
        EventKind.START, EventKind.RETRY_TASK, EventKind.COMPLETED, EventKind.RETRY, EventKind.CANCEL]
    stored = Replays(b.sim, b.history())
    for at in moments:
        assert board(await stored.moment(run_id, at)) == shown[at], at


async def test_a_run_reset_while_it_runs_is_stored_as_it_ended(process, clock) -> None:
    a = process(**SETTINGS)
    engine = await a.lead('a')
    execute(a.sim, 'start', {'settings': None})
    await engine.publish()
    a.sim.step(DT)
    await engine.publish()
    cancelled = a.sim.counts.pending + a.sim.counts.running
    execute(a.sim, 'reset', {})  # cancels the run, then clears the board: one publish carries both
    await engine.publish()
    history = a.history()
    row = await history.run(1)
    assert (row.state, row.cancelled, row.elapsed_s) == ('cancelled', cancelled, DT)
    assert [event.kind for event in await history.events(1)] == [EventKind.START, EventKind.CANCEL, EventKind.RESET]
    assert sum(task.status == TaskStatus.CANCELLED for task in await history.tasks(1)) == cancelled


async def test_a_finished_run_reset_later_gets_its_reset_in_the_history(process, clock) -> None:
    a = process(**SETTINGS)
    engine = await a.lead('a')
    execute(a.sim, 'start', {'settings': None}, 'tab:abc')
    while a.sim.active:
        a.sim.step(DT)
    await engine.publish()
    for _ in range(3):  # long after it ended: published, and the snapshot written again since
        a.sim.step(DT)
        await engine.publish()
    execute(a.sim, 'reset', {}, 'token')
    await engine.publish()
    events = await a.history().events(1)
    assert [(event.kind, event.source) for event in events] == [
        (EventKind.START, 'tab:abc'), (EventKind.COMPLETED, ''), (EventKind.RESET, 'token')]


async def test_the_history_has_no_events_for_a_run_stored_before_them_and_is_a_503_without_redis(
        process, server, clock) -> None:
    a = process(**SETTINGS)
    engine = await a.lead('a')
    execute(a.sim, 'start', {'settings': None})
    await engine.publish()
    history = a.history()
    await a.link.fast.hdel(a.link.keys.run(1), 'events')  # as a taskdemo before events stored it
    assert await history.events(1) == [] and await history.events(7) == []
    server.connected = False
    with pytest.raises(HTTPException) as away:
        await history.events(1)
    assert away.value.status_code == 503 and 'Cannot reach Redis' in away.value.detail


async def test_a_takeover_is_logged_and_the_replay_stays_exact_across_it(process, clock) -> None:
    a, b = process(**SETTINGS), process()
    engine = await a.lead('a')
    execute(a.sim, 'start', {'settings': None})
    shown = {0.0: board(a.sim)}
    await engine.publish()
    while a.sim.counts.finished < 12:
        a.sim.step(DT)
        clock.advance(DT)
        await engine.publish()
        shown[a.sim.run.elapsed_s] = board(a.sim)
    await a.link.fast.delete(a.link.keys.lease)  # engine a is gone (kill -9): its lease runs out
    clock.advance(2.5)
    await b.mirror.catch_up()
    across = [task.id for task in b.sim.tasks if task.status == TaskStatus.RUNNING]
    starts = [b.sim.tasks[task_id].started_s for task_id in across]
    at = b.sim.run.elapsed_s
    successor = await b.lead('b')  # as ClusterNode._take_over does: the engine is made after take_over
    assert not take_over(b.sim, away_s=2.5, resume_limit_s=30)
    assert b.sim.events[-2:] == [RunEvent(at, EventKind.INTERRUPTED, clock()), RunEvent(at, EventKind.RESUME, clock())]
    assert [b.sim.tasks[task_id].started_s for task_id in across] == starts, 'no task was moved'
    await successor.publish()
    late = process()
    assert await late.mirror.load()
    assert late.sim.events == b.sim.events
    while b.sim.active:
        b.sim.step(DT)
        clock.advance(DT)
        await successor.publish()
        await late.mirror.read()
        shown[b.sim.run.elapsed_s] = board(b.sim)
    assert late.sim.events == b.sim.events == await late.history().events(1)
    assert across and any(b.sim.tasks[task_id].finished_s > at for task_id in across)
    replay = await Replays(late.sim, late.history()).replay(1)
    assert (at, 'interrupted') in replay.markers() and (at, 'resume') in replay.markers()
    on_engine = Replays(b.sim, None)
    for moment in sorted(shown):  # the takeover's moment too: the board as the old engine left it
        mirrored = replay.at(moment)
        assert board(mirrored) == board(await on_engine.moment(1, moment)) == shown[moment], moment
        assert mirrored.exact, mirrored.note


async def test_a_run_away_too_long_waits_and_resumes_where_it_stood(process, clock) -> None:
    a, b = process(**SETTINGS), process()
    engine = await a.lead('a')
    execute(a.sim, 'start', {'settings': None})
    shown = {0.0: board(a.sim)}
    await engine.publish()
    for _ in range(10):
        a.sim.step(DT)
        clock.advance(DT)
        await engine.publish()
        shown[a.sim.run.elapsed_s] = board(a.sim)
    await a.link.fast.delete(a.link.keys.lease)
    await b.mirror.catch_up()
    at, starts = b.sim.run.elapsed_s, [task.started_s for task in b.sim.tasks]
    assert take_over(b.sim, away_s=45.0, resume_limit_s=30)
    assert b.sim.state.value == 'interrupted' and b.sim.events[-1] == RunEvent(at, EventKind.INTERRUPTED, clock())
    clock.advance(60)
    execute(b.sim, 'resume', {})  # by hand, a minute later: the run's clock stood still meanwhile
    assert b.sim.events[-1] == RunEvent(at, EventKind.RESUME, clock())
    assert [task.started_s for task in b.sim.tasks] == starts, 'no task was moved'
    resumed = board(b.sim)
    for _ in range(10):
        b.sim.step(DT)
        shown[b.sim.run.elapsed_s] = board(b.sim)
    shown[at] = resumed
    replays = Replays(b.sim, None)
    for moment in sorted(shown):
        replayed = await replays.moment(1, moment)
        assert board(replayed) == shown[moment] and replayed.exact, moment


async def test_an_entry_carries_events_only_when_there_are_new_ones(process, clock, figures) -> None:
    """At 10,000 tasks: a tick's change entry is exactly as long as before events travelled (no key for none), and
    an entry that adds one is a few dozen bytes longer."""
    a = process(tasks=10_000, speed=1.0, seed=4)
    engine = await a.lead('a')
    execute(a.sim, 'start', {'settings': None})
    await engine.publish()
    for _ in range(12):
        a.sim.step(0.25)
        clock.advance(0.25)
        await engine.publish()
    execute(a.sim, 'cancel_task', {'task': next(t.id for t in a.sim.tasks if t.status == TaskStatus.RUNNING)})
    await engine.publish()
    written = [Entry.parse(i, f) for i, f in await a.link.fast.xrange(a.link.keys.changes)]
    *ticks, cancel = [entry for entry in written if entry.kind == 'change'][-9:]
    sizes = sorted(len(json.dumps(entry.data, separators=(',', ':'))) for entry in ticks)
    with_event = len(json.dumps(cancel.data, separators=(',', ':')))
    without = len(json.dumps({key: value for key, value in cancel.data.items() if key != 'e'}, separators=(',', ':')))
    event_bytes = sum(len(json.dumps(entry.data.get('e', ''))) - 2 for entry in ticks)  # '' dumps as 2 bytes
    figures(tick_entry_bytes_p50=sizes[len(sizes) // 2], tick_entry_event_bytes=event_bytes,
            cancel_task_entry_bytes=with_event, cancel_task_event_bytes=with_event - without)
    assert all('e' not in entry.data for entry in ticks) and sizes[0] > 1000
    assert cancel.data['e'][0] == 1 and with_event - without < 60

"""The /ws broadcaster: each frame built once for every client, changes frames never miss a change, and a client
that stops reading is dropped without holding up the others."""
from __future__ import annotations

import asyncio
import json

from taskdemo import protocol
from taskdemo.stream import QUEUE_FRAMES, Broadcaster

from .helpers import finish


async def test_every_client_of_a_mode_gets_the_same_frame_built_once(sim):
    broadcaster = Broadcaster(sim, interval=3600)
    clients = [broadcaster.subscribe('full')[0] for _ in range(5)]
    sim.start()
    sim.step(30)
    broadcaster.broadcast()
    frames = [client.queue.get_nowait() for client in clients]
    assert all(frame is frames[0] for frame in frames)
    assert json.loads(frames[0])['completed'] == sim.counts.completed
    for client in clients:
        broadcaster.unsubscribe(client)


async def test_a_changes_client_that_joins_between_broadcasts_misses_nothing(sim):
    broadcaster = Broadcaster(sim, interval=3600)
    early, _ = broadcaster.subscribe('changes')
    sim.start()
    broadcaster.broadcast()  # a full frame: the run is new
    seen_early = json.loads(early.queue.get_nowait())['individual']
    assert len(seen_early) == 50
    sim.step(5)
    late, first = broadcaster.subscribe('changes')
    seen_late = json.loads(first)['individual']
    sim.step(5)
    broadcaster.broadcast()
    update = late.queue.get_nowait()
    assert early.queue.get_nowait() is update, 'one changes frame, built once for both'
    assert json.loads(update)['mode'] == 'changes'
    model = {str(t.id): {'status': t.status.value, 'progress': t.progress, **({'error': t.error} if t.error else {})}
             for t in sim.tasks}
    for seen in (seen_early, seen_late):
        protocol.apply_changes(seen, json.loads(update))
        assert seen == model
    broadcaster.unsubscribe(early)
    broadcaster.unsubscribe(late)


async def test_a_client_that_stops_reading_is_dropped_and_the_others_keep_getting_frames(sim):
    broadcaster = Broadcaster(sim, interval=3600)
    stuck, _ = broadcaster.subscribe('full')
    reader, _ = broadcaster.subscribe('full')
    sim.start()
    received = 0
    for _ in range(QUEUE_FRAMES + 3):
        sim.step(1)
        broadcaster.broadcast()
        reader.queue.get_nowait()
        received += 1
    assert stuck.dropped.is_set() and stuck.queue.qsize() == QUEUE_FRAMES, 'bounded: no more frames are kept'
    assert not reader.dropped.is_set() and received == QUEUE_FRAMES + 3
    broadcaster.unsubscribe(stuck)
    broadcaster.unsubscribe(reader)


async def test_the_broadcaster_runs_only_while_somebody_listens(sim):
    broadcaster = Broadcaster(sim, interval=0.001)
    client, _ = broadcaster.subscribe('full')
    frame = await asyncio.wait_for(client.queue.get(), timeout=5)
    assert json.loads(frame)['total'] == 50
    assert broadcaster.running
    broadcaster.unsubscribe(client)
    assert not broadcaster.running


def test_changes_frames_carry_running_tasks_as_runs_of_consecutive_ids(make_sim):
    sim = make_sim(tasks=6, failure_rate=0, seed=1)
    sim.start()
    sim.step(1)
    frame = protocol.changes_frame(sim, {0, 1, 2, 4})
    assert frame['running'] == [[0, *(sim.tasks[i].progress for i in (0, 1, 2))], [4, sim.tasks[4].progress]]
    assert frame['individual'] == {}
    finish(sim)
    frame = protocol.changes_frame(sim, {3})
    assert frame['running'] == [] and frame['individual'] == {'3': protocol.task_entry(sim.tasks[3])}


async def test_changes_clients_see_a_stall_flagged_and_cleared_as_full_clients_do(make_sim):
    sim = make_sim(tasks=6, stall_rate=1, failure_rate=0, min_duration=100, max_duration=100, seed=5)
    broadcaster = Broadcaster(sim, interval=3600)
    sim.start()
    full, _ = broadcaster.subscribe('full')
    changes, first = broadcaster.subscribe('changes')
    seen = json.loads(first)['individual']
    flagged_at_some_point: set[str] = set()
    for _ in range(120):
        sim.step(1)
        broadcaster.broadcast()
        protocol.apply_changes(seen, json.loads(changes.queue.get_nowait()))
        whole = json.loads(full.queue.get_nowait())['individual']
        assert seen == whole
        flagged_at_some_point |= {key for key, entry in whole.items() if entry.get('stalled')}
    assert len(flagged_at_some_point) == 6
    assert [key for key, entry in seen.items() if entry.get('stalled')] == [str(i) for i in sorted(sim.stalled_ids)]
    broadcaster.unsubscribe(full)
    broadcaster.unsubscribe(changes)

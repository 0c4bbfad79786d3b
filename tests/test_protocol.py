"""The wire shapes: `/status` is built once per change of the simulator, however many ask, and still tells the time."""
from __future__ import annotations

import gzip
import json
import zlib
from types import SimpleNamespace

from taskdemo import protocol
from taskdemo.simulator import Simulator


def test_status_is_built_once_per_version_and_equals_the_whole_state(make_sim, monkeypatch):
    sim: Simulator = make_sim(tasks=200, seed=3)
    built = []
    full_frame = protocol.full_frame
    monkeypatch.setattr(protocol, 'full_frame', lambda s: (built.append(s.version), full_frame(s))[1])
    statuses = protocol.StatusCache(sim, protocol.FrameCache(sim))
    sim.start()
    sim.step(30)
    answers = [json.loads(statuses.text(streams=4)) for _ in range(20)]
    assert built == [sim.version], 'twenty requests, one frame'
    monkeypatch.setattr(protocol, 'full_frame', full_frame)  # the reference below builds its own
    assert all(answer == {**protocol.status(sim), 'streams': 4} for answer in answers)
    sim.step(30)
    assert json.loads(statuses.text(streams=1)) == {**protocol.status(sim), 'streams': 1}, 'a new version: rebuilt'


def test_status_tells_the_time_even_when_no_task_changed(make_sim):
    sim: Simulator = make_sim(tasks=1, min_duration=1000, max_duration=1000, failure_rate=0, seed=1)
    statuses = protocol.StatusCache(sim, protocol.FrameCache(sim))
    sim.start()
    sim.step(1)
    first = json.loads(statuses.text())
    version = sim.version
    sim.step(1)  # 0.1 % of a 1,000 s task: no percent changes, so no new version
    assert sim.version == version
    second = json.loads(statuses.text())
    assert second['elapsed_s'] == first['elapsed_s'] + 1


def test_status_compressed_is_the_same_answer_and_its_head_is_compressed_once_per_version(make_sim, monkeypatch):
    sim: Simulator = make_sim(tasks=500, seed=4)
    statuses = protocol.StatusCache(sim, protocol.FrameCache(sim))
    compressors = []
    real = zlib.compressobj
    monkeypatch.setattr(zlib, 'compressobj', lambda *args: (compressors.append(args), real(*args))[1])
    sim.start()
    for seconds in (10, 20):
        sim.step(seconds)
        for streams in range(3):
            assert gzip.decompress(statuses.gzip(streams=streams)) == statuses.text(streams=streams).encode()
    assert len(compressors) == 2, 'one compression of the big part per version, however many ask'


# ---- stalls (issue #15) -------------------------------------------------------------------------------------------

def hanging_sim(make_sim, **settings) -> Simulator:
    """Six tasks of 100 simulated seconds that all hang (seed 5 plans where, and that five of them recover): each
    hang is flagged 5 s after it begins (`stall_after_s(100)`)."""
    sim: Simulator = make_sim(tasks=6, stall_rate=1, failure_rate=0, min_duration=100, max_duration=100, seed=5,
                              **settings)
    sim.start()
    assert all(task.stall_at is not None for task in sim.tasks)
    assert sum(task.stall_for is None for task in sim.tasks) == 1
    return sim


def test_a_stalled_task_stays_in_progress_and_says_stalled_only_while_it_is(make_sim):
    sim = hanging_sim(make_sim)
    seen_stalled, seen_recovered = set(), set()
    while sim.run.elapsed_s < 130:
        sim.step(0.5)
        for key, entry in protocol.full_frame(sim)['individual'].items():
            task = sim.tasks[int(key)]
            if task.id in sim.stalled_ids:
                assert entry == {'status': 'in_progress', 'progress': task.stall_at, 'stalled': True}
                seen_stalled.add(task.id)
            else:
                assert 'stalled' not in entry, entry  # the seed's shape for every other task
                if task.id in seen_stalled:
                    seen_recovered.add(task.id)
    forever = next(task.id for task in sim.tasks if task.stall_for is None)
    assert seen_stalled == set(range(6)) and seen_recovered == set(range(6)) - {forever}
    assert sim.stalled_ids == {forever}


def test_changes_frames_send_a_stalled_task_whole_and_the_reference_decoder_clears_the_flag(make_sim):
    sim = hanging_sim(make_sim)
    client = json.loads(protocol.dumps(protocol.full_frame(sim)))['individual']
    flags_sent = flags_cleared = 0
    while sim.run.elapsed_s < 130:
        version = sim.version
        sim.step(0.5)
        changed = sim.changes_since(version)
        frame = json.loads(protocol.dumps(protocol.changes_frame(sim, changed)))
        in_runs = {first + offset for first, *percents in frame['running'] for offset in range(len(percents))}
        assert not in_runs & sim.stalled_ids, 'a stalled task is never sent in the compact runs'
        for task_id in sim.stalled_ids & changed:
            assert frame['individual'][str(task_id)]['stalled'] is True
        was_flagged = {key for key, entry in client.items() if entry.get('stalled')}
        protocol.apply_changes(client, frame)
        flags_sent += len(sim.stalled_ids & changed)
        flags_cleared += len({key for key in was_flagged if 'stalled' not in client[key]})
        assert client == protocol.full_frame(sim)['individual'], f'at {sim.run.elapsed_s} s'
    assert flags_sent >= 6 and flags_cleared == 5


def test_status_lists_the_stalled_tasks_longest_first_in_simulated_seconds(make_sim):
    sim = hanging_sim(make_sim, speed=2)
    statuses = protocol.StatusCache(sim, protocol.FrameCache(sim))
    assert json.loads(statuses.text())['stalled_tasks'] == []
    sim.step(9.5)  # 19 simulated seconds: tasks 0, 1 and 2 hang since 2, 6 and 13 s, each longer than 5 s
    status = json.loads(statuses.text())
    assert [sim.tasks[i].stall_at for i in (0, 1, 2)] == [2, 6, 13]
    assert status['stalled'] == 3
    assert status['stalled_tasks'] == [{'id': 0, 'stalled_s': 17.0}, {'id': 1, 'stalled_s': 13.0},
                                       {'id': 2, 'stalled_s': 6.0}]
    assert status == protocol.status(sim)
    sim.step(0.5)  # task 2 recovers at 13 + 8.3 s, after this
    assert json.loads(statuses.text())['stalled_tasks'] == [
        {'id': 0, 'stalled_s': 18.0}, {'id': 1, 'stalled_s': 14.0}, {'id': 2, 'stalled_s': 7.0}]
    sim.step(1)  # 22 s: tasks 1 (6 + 14.7 s) and 2 moved on; task 0 (2 + 22.2 s) still hangs
    assert json.loads(statuses.text())['stalled_tasks'] == [{'id': 0, 'stalled_s': 20.0}]


def test_status_says_how_long_a_task_has_stood_still_even_when_nothing_changed(make_sim):
    sim: Simulator = make_sim(tasks=2, stall_rate=1, failure_rate=0, min_duration=1000, max_duration=1000, seed=3)
    statuses = protocol.StatusCache(sim, protocol.FrameCache(sim))
    sim.start()
    assert (sim.tasks[1].stall_at, sim.tasks[1].stall_for) == (16, None)  # hangs for good at 160 s
    sim.step(200)
    first = json.loads(statuses.text())
    version = sim.version
    sim.step(1)  # task 0 is at 20.1 %: no percent changes, so no new version
    assert sim.version == version
    second = json.loads(statuses.text())
    assert first['stalled_tasks'] == [{'id': 1, 'stalled_s': 40.0}]
    assert second['stalled_tasks'] == [{'id': 1, 'stalled_s': 41.0}] and second['stalled'] == 1
    assert second['individual']['1'] == {'status': 'in_progress', 'progress': 16, 'stalled': True}


def test_the_stalled_list_reads_the_stalled_tasks_only(make_sim):
    """Not every task: at 10,000 tasks /status reads the handful that are stalled."""
    sim = hanging_sim(make_sim)
    sim.step(19)

    class Tasks(list):
        read: list[int] = []

        def __getitem__(self, index):
            self.read.append(index)
            return super().__getitem__(index)

        def __iter__(self):
            raise AssertionError('every task was read')

    view = SimpleNamespace(run=sim.run, stalled_ids=sim.stalled_ids, tasks=Tasks(sim.tasks))
    assert [task['id'] for task in protocol.stalled_tasks(view)] == [0, 1, 2]
    assert sorted(Tasks.read) == [0, 1, 2]

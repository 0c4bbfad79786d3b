"""The wire shapes: `/status` is built once per change of the simulator, however many ask, and still tells the time."""
from __future__ import annotations

import gzip
import json
import zlib

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

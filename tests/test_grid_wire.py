"""What the grid sends to a browser: a snapshot that decodes to the model, and small per-tick batches; the stalled
tasks as they begin and end being stalled."""
from __future__ import annotations

import base64
import json
import math
from array import array

import pytest

from taskdemo.replay import Recording, Replay
from taskdemo.simulator import Change, Simulator, TaskStatus
from taskdemo.ui.fanout import Fanout
from taskdemo.ui.grid_wire import PROGRESS_BITS, batch, columns, patch, range_batch, snapshot, whole
from taskdemo.ui.states import (
    CODES,
    ICONS,
    STALLED_BADGE,
    STALLED_CODE,
    STALLED_ICON,
    STALLED_WORD,
    STATE_TABLE,
    WORDS,
)


def decode(snap: dict) -> list[tuple]:
    codes = base64.b64decode(snap['codes'])
    progress = base64.b64decode(snap['progress'])
    started = array('f', base64.b64decode(snap['started']))
    ended = array('f', base64.b64decode(snap['ended']))
    return [(codes[i], progress[i], started[i], ended[i], snap['errors'].get(str(i))) for i in range(snap['n'])]


def test_the_state_table_gives_every_state_a_word_and_an_icon():
    assert [row[0] for row in STATE_TABLE] == [status.value for status in TaskStatus]
    for status in TaskStatus:
        assert STATE_TABLE[CODES[status]] == [status.value, WORDS[status], ICONS[status]]
    assert len(set(ICONS.values())) == len(TaskStatus) and len(set(WORDS.values())) == len(TaskStatus)


def test_a_snapshot_decodes_to_exactly_the_model(sim: Simulator):
    sim.start()
    sim.step(70)
    snap = snapshot(sim)
    assert snap['n'] == 50 and snap['elapsed'] == 70
    for task, (code, progress, started, ended, error) in zip(sim.tasks, decode(snap), strict=True):
        assert code == CODES[task.status] and progress == task.progress and error == task.error
        assert started == pytest.approx(task.started_s)
        assert ended == pytest.approx(task.finished_s) if task.finished_s is not None else ended != ended  # NaN


def change_after(sim: Simulator, seconds: float) -> Change:
    """Start a run and step it once by `seconds`: what that step changed."""
    changes: list[Change] = []
    sim.subscribe(changes.append)
    sim.start()
    sim.step(seconds)
    return changes[-1]


def test_a_batch_carries_every_status_change_but_percent_changes_only_for_tasks_on_screen(sim: Simulator):
    change = change_after(sim, 40)
    assert change.transitions and change.tasks - change.transitions
    data = batch(sim, change, range(0, 10))
    shown = {packed >> PROGRESS_BITS for packed in data['p']}
    assert shown and shown == {i for i in change.tasks - change.transitions if i < 10}
    for packed in data['p']:
        assert packed & 127 == sim.tasks[packed >> PROGRESS_BITS].progress
    assert [entry[0] for entry in data['s']] == sorted(change.transitions)
    for task_id, code, progress, _started, finished in data['s']:
        task = sim.tasks[task_id]
        assert (code, progress) == (CODES[task.status], task.progress) and finished == pytest.approx(task.finished_s)
    failed = {str(i) for i in change.transitions if sim.tasks[i].status == TaskStatus.FAILED}
    assert set(data['err']) == failed and all(data['err'][i].startswith('Simulated failure') for i in failed)


def test_a_tick_with_nothing_for_this_browser_sends_nothing(sim: Simulator):
    sim.start()
    assert batch(sim, Change(version=9, tasks=frozenset({30, 31})), range(0, 10)) is None


def test_a_range_batch_brings_a_scrolled_to_range_up_to_date(sim: Simulator):
    sim.start()
    sim.step(20)
    data = range_batch(sim, range(40, 50))
    assert [(packed >> PROGRESS_BITS, packed & 127) for packed in data['p']] == [
        (i, sim.tasks[i].progress) for i in range(40, 50)]


def test_ten_thousand_tasks_fit_a_small_snapshot(make_sim):
    sim = make_sim(tasks=10_000, seed=1)
    sim.start()
    sim.step(30)
    snap = snapshot(sim)
    size = len(json.dumps(snap))
    assert size < 10_000 * 14 + len(json.dumps(snap['errors'])) + 100, size


def test_a_batch_for_a_filtered_page_carries_the_percents_of_exactly_the_tasks_it_follows(sim: Simulator):
    """A filtered page follows a set of task ids (what it draws and a couple of screens around it), not a range."""
    change = change_after(sim, 20)
    followed = {3, 17, 29, 41}
    data = batch(sim, change, followed)
    assert {packed >> PROGRESS_BITS for packed in data['p']} == (change.tasks - change.transitions) & followed
    assert range_batch(sim, sorted(followed))['p'] == [(i << PROGRESS_BITS) | sim.tasks[i].progress
                                                       for i in sorted(followed)]


# ---- stalls ------------------------------------------------------------------------------------------------------

def even_run(make_sim, tasks: int = 20) -> tuple[Simulator, Fanout, list[Change]]:
    """A started run of tasks of exactly 100 s that never fail (a percent a second: stalled after 5 s still), the
    pages' fan-out that works out the stalls, and the changes, heard after it."""
    sim = make_sim(tasks=tasks, min_duration=100, max_duration=100, failure_rate=0, seed=7)
    fanout = Fanout(sim)
    changes: list[Change] = []
    sim.subscribe(changes.append)
    sim.start()
    return sim, fanout, changes


def test_the_stall_badge_is_a_word_an_icon_and_a_filter_code_no_state_has():
    assert STALLED_BADGE == [STALLED_WORD, STALLED_ICON, STALLED_CODE]
    assert STALLED_WORD not in WORDS.values() and STALLED_CODE not in CODES.values() and 0 <= STALLED_CODE < 256


def test_stalls_go_to_every_browser_as_they_begin_and_end_and_the_percent_path_carries_nothing_more(make_sim):
    sim, fanout, changes = even_run(make_sim)
    sim.tasks[15].stall_at, sim.tasks[15].stall_for = 40, 20.0  # from 40 s to 60 s: flagged after 45 s
    sim.step(45)
    assert fanout.stalls.now == frozenset() and 'st' not in batch(sim, changes[-1], range(0, 10), fanout.stalls)
    changes.clear()
    sim.step(0.5)
    assert fanout.stalls.began == {15}
    data = batch(sim, changes[-1], range(0, 10), fanout.stalls)  # task 15 is not on screen: it goes all the same
    assert data['st'] == ((15, 40.0),) and data['un'] == [], 'its id, and when (run seconds) it stopped moving'
    assert 15 not in {packed >> PROGRESS_BITS for packed in data['p']}
    sim.step(0.5)
    assert not fanout.stalls.moved and 'st' not in batch(sim, changes[-1], range(0, 10), fanout.stalls)
    assert batch(sim, Change(version=99, tasks=frozenset({15})), range(0, 10), fanout.stalls) is None
    sim.step(14)  # at 60 s it moves again
    assert fanout.stalls.ended == {15} and fanout.stalls.now == frozenset()
    data = batch(sim, changes[-1], range(0, 10), fanout.stalls)
    assert data['un'] == [15] and data['st'] == ()


def test_a_stall_that_ends_with_its_task_is_sent_with_the_status_change(make_sim):
    sim, fanout, changes = even_run(make_sim, tasks=3)
    sim.tasks[2].stall_at = 40  # for good
    sim.step(50)
    assert fanout.stalls.now == {2}
    changes.clear()
    sim.cancel_task(2)
    data = batch(sim, changes[-1], range(0, 3), fanout.stalls)
    assert data['un'] == [2] and [entry[:2] for entry in data['s']] == [[2, CODES[TaskStatus.CANCELLED]]]


def test_a_snapshot_carries_the_stalled_tasks(make_sim):
    sim, _, _ = even_run(make_sim, tasks=5)
    sim.tasks[1].stall_at = 30
    sim.tasks[3].stall_at = 10
    sim.step(36)
    assert snapshot(sim)['stalled'] == ((1, 30.0), (3, 10.0))
    assert snapshot(make_sim())['stalled'] == ()


def patched(snap: dict, change: dict) -> dict:
    """What task_grid.js's `load(patch)` makes of a snapshot it has and a patch: all states and percents, times
    where `st` and `en` name them (or a whole column), texts changed where the patch names them, and gone where it
    says None."""
    times = {}
    for key, sparse in (('started', 'st'), ('ended', 'en')):
        if key in change:
            times[key] = change[key]
            continue
        values = array('f', base64.b64decode(snap[key]))
        for i, value in change[sparse]:
            values[i] = math.nan if value < 0 else value
        times[key] = base64.b64encode(values.tobytes()).decode()
    texts = {}
    for key in ('errors', 'attempts'):
        table = {**snap[key], **change[key]}
        texts[key] = {id_: value for id_, value in table.items() if value is not None}
    return {**snap, **{key: change[key] for key in ('n', 'codes', 'progress', 'stalled', 'elapsed')}, **times, **texts}


def test_a_patch_turns_any_moment_of_a_replay_into_any_other_and_is_small_for_a_scrub(make_sim):
    sim = make_sim(tasks=2_000, seed=3, failure_rate=0.3, stall_rate=0.1, task_timeout=40.0, min_duration=5,
                   max_duration=60, speed=2.0)
    sim.start()
    while sim.active:
        sim.step(0.5)
    sim.retry()
    while sim.active:
        sim.step(0.5)
    replay = Replay(Recording(sim.run, sim.tasks, list(sim.events), live=True))
    moments = [0.0, 1.0, 2.0, 12.0, 11.0, 30.0, 31.0, replay.end, 5.0, replay.end - 1, 0.0]
    sizes = []
    for before, after in zip(moments, moments[1:], strict=False):
        old, new = columns(replay.at(before)), columns(replay.at(after))
        change = patch(old, new)
        result, expected = patched(whole(old), change), whole(new)
        assert decode_all(result) == decode_all(expected), f'{before} s to {after} s'
        sizes.append((len(json.dumps(change)), len(json.dumps(expected)), after - before))
    assert any(len(whole(columns(replay.at(t)))['attempts']) for t in moments), 'retried tasks show attempts'
    one_second = [(small, big) for small, big, step in sizes if abs(step) == 1]
    assert all(small < big / 3 for small, big in one_second), one_second


def decode_all(snap: dict) -> tuple:
    """Every card (times as float32 bits: NaN equals NaN), and the texts."""
    cards = [(code, progress, array('f', [started]).tobytes(), array('f', [ended]).tobytes(), error)
             for code, progress, started, ended, error in decode(snap)]
    return cards, snap['attempts'], snap['stalled'], snap['elapsed']

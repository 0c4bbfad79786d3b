"""What the grid sends to a browser: a snapshot that decodes to the model, and small per-tick batches."""
from __future__ import annotations

import base64
from array import array

import pytest

from taskdemo.simulator import Change, Simulator, TaskStatus
from taskdemo.ui.grid_wire import PROGRESS_BITS, batch, range_batch, snapshot
from taskdemo.ui.states import CODES, ICONS, STATE_TABLE, WORDS


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
    import json
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

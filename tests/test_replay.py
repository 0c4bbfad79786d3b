"""The replay engine (taskdemo/replay.py) on the fake clock: a run put back at a moment shows the board the live run
showed then, task by task and in `/status`'s words; where the store cannot say exactly, the moment says so."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from taskdemo import protocol
from taskdemo.model import EventKind, RunEvent, RunState, TaskStatus
from taskdemo.replay import Recording, Replay
from taskdemo.replays import Replays
from taskdemo.simulator import Simulator
from taskdemo.ui.grid_wire import snapshot

from .helpers import finish


def board(view: Any) -> dict[str, Any]:
    """`/status` of a view, without its version (a replayed moment has none of its own)."""
    status = protocol.status(view)
    status.pop('version')
    return status


def live_replay(sim: Simulator) -> Replay:
    assert sim.run is not None
    return Replay(Recording(sim.run, sim.tasks, list(sim.events), live=True))


def recorded(sim: Simulator, steps: list[float], act: Callable[[int], None] = lambda _: None) -> dict[float, dict]:
    """Step `sim` through `steps` (calling `act(i)` before step i) and keep `/status` at every moment; a moment seen
    twice keeps its later board, as a replay does."""
    assert sim.run is not None
    seen = {sim.run.elapsed_s: board(sim)}
    for i, dt in enumerate(steps):
        act(i)
        seen[sim.run.elapsed_s] = board(sim)
        sim.step(dt)
        seen[sim.run.elapsed_s] = board(sim)
    return seen


def assert_replays(replay: Replay, seen: dict[float, dict]) -> None:
    for at, expected in seen.items():
        moment = replay.at(at)
        assert moment.exact and moment.note == ''
        assert board(moment) == expected, f'at {at}'


def test_every_moment_of_a_run_with_failures_hangs_and_a_time_limit_comes_back_as_it_was(make_sim):
    sim = make_sim(tasks=40, seed=5, failure_rate=0.3, stall_rate=0.3, task_timeout=25.0, min_duration=2,
                   max_duration=30, speed=2.0)
    sim.start()
    seen = recorded(sim, [0.3, 0.01, 1.0, 0.7] * 15)
    assert sim.counts.failed and sim.stalled_ids or any(t.stalled_until for t in sim.tasks)
    assert_replays(live_replay(sim), seen)


def test_a_waiting_task_waits_until_its_slot_frees_and_a_replay_shows_it_waiting(make_sim):
    sim = make_sim(tasks=6, seed=2, concurrency=2, min_duration=1, max_duration=3, failure_rate=0)
    sim.start()
    seen = recorded(sim, [0.5] * 20)
    replay = live_replay(sim)
    assert_replays(replay, seen)
    start = replay.at(0.0)
    assert [task.status for task in start.tasks] == [TaskStatus.RUNNING] * 2 + [TaskStatus.PENDING] * 4
    last_start = max(task.started_s for task in sim.tasks)
    assert replay.at(last_start - 0.01).tasks[-1].status == TaskStatus.PENDING


def test_a_retried_task_shows_its_first_attempt_then_its_failure_then_waits_in_the_queue(make_sim):
    sim = make_sim(tasks=8, seed=3, concurrency=2, min_duration=2, max_duration=4, failure_rate=0.5)
    sim.start()
    failed_early: list[int] = []

    def act(i: int) -> None:
        if i == 6 and sim.failed_tasks():  # retried mid-run: it queues behind the tasks still waiting
            failed_early.append(sim.failed_tasks()[0])
            sim.retry_task(failed_early[0])

    seen = recorded(sim, [0.5] * 40, act)
    assert failed_early, 'the seed gives a failure in the first 3 s'
    task_id = failed_early[0]
    replay = live_replay(sim)
    assert_replays(replay, seen)
    first = sim.tasks[task_id].earlier[0]
    assert replay.at(first.finished_s).tasks[task_id].status == TaskStatus.FAILED
    queued = next(event.at_s for event in sim.events if event.kind == EventKind.RETRY_TASK)
    waiting = replay.at(queued).tasks[task_id]
    assert (waiting.status, waiting.attempt, waiting.error) == (TaskStatus.PENDING, 2, None)
    assert [attempt.number for attempt in waiting.earlier] == [1]


def test_a_finished_run_retried_shows_the_retry_at_its_end_and_the_end_just_before(make_sim):
    sim = make_sim(tasks=10, seed=4, failure_rate=0.5, min_duration=1, max_duration=2)
    sim.start()
    finish(sim, dt=0.25)
    end, failed = sim.run.elapsed_s, sim.failed_tasks()
    before_end = board(live_replay(sim).at(end))
    assert before_end == board(sim) and before_end['state'] == 'completed'
    sim.retry()
    seen = {end: board(sim)}
    finish(sim, dt=0.25)
    seen[sim.run.elapsed_s] = board(sim)
    replay = live_replay(sim)
    assert_replays(replay, seen)
    assert replay.at(end).state == RunState.RUNNING  # the moment it ended is the moment it was retried
    assert replay.at(end - 0.25).tasks[failed[0]].attempt == 1


def test_a_task_cancelled_while_it_waited_never_started(make_sim):
    sim = make_sim(tasks=5, seed=1, concurrency=1, min_duration=5, max_duration=5, failure_rate=0)
    sim.start()
    seen = recorded(sim, [1.0, 1.0, 1.0], lambda i: sim.cancel_task(4) if i == 1 else None)
    replay = live_replay(sim)
    assert_replays(replay, seen)
    assert replay.at(0.5).tasks[4].status == TaskStatus.PENDING
    assert replay.at(1.0).tasks[4].status == TaskStatus.CANCELLED


def test_a_clean_stop_and_resume_keeps_every_moment_exact(make_sim):
    sim = make_sim(tasks=20, seed=9, min_duration=2, max_duration=9, stall_rate=0.3)
    sim.start()

    def act(i: int) -> None:
        if i == 5:
            sim.interrupt()
            sim.resume()

    seen = recorded(sim, [0.4] * 30, act)
    assert [event.kind for event in sim.events][1:3] == [EventKind.INTERRUPTED, EventKind.RESUME]
    assert_replays(live_replay(sim), seen)


def test_a_crash_resumed_run_says_which_moments_are_approximate_and_why(make_sim):
    sim = make_sim(tasks=10, seed=6, min_duration=5, max_duration=9, failure_rate=0)
    sim.start()
    sim.step(2.0)
    crash_at = sim.run.elapsed_s
    sim.interrupt()
    # as a restart finds a run that was cut off: the clean stop was never written, a crash is noted instead
    sim.events[-1] = RunEvent(at_s=crash_at, kind=EventKind.INTERRUPTED, wall=0.0, crash=True)
    sim.resume()
    sim.step(1.0)
    replay = live_replay(sim)
    before, after = replay.at(1.0), replay.at(crash_at + 0.5)
    assert not before.exact and 'without a clean shutdown at about 2.0 s' in before.note and '10 tasks' in before.note
    assert after.exact and after.note == ''
    assert board(replay.at(sim.run.elapsed_s)) == board(sim)


def test_a_stored_run_left_running_ends_interrupted_as_a_restart_would_find_it(make_sim):
    sim = make_sim(tasks=4, seed=6, min_duration=5, max_duration=9, failure_rate=0)
    sim.start()
    sim.step(2.0)
    replay = Replay(Recording.stored(sim.run, sim.tasks, list(sim.events)))  # as the history has it: 'running'
    end = replay.at(replay.end)
    assert end.state == RunState.INTERRUPTED and end.counts.interrupted == 4
    assert [task.progress for task in end.tasks] == [task.progress for task in sim.tasks]
    assert replay.at(1.0).counts.running == 4 and replay.markers()[-1] == (2.0, 'interrupted')


def test_a_run_stored_before_events_guesses_retry_times_and_says_so(make_sim):
    sim = make_sim(tasks=10, seed=4, failure_rate=0.5, min_duration=1, max_duration=2)
    sim.start()
    finish(sim, dt=0.25)
    sim.retry()
    finish(sim, dt=0.25)
    without = Replay(Recording(sim.run, sim.tasks, [], live=True))
    moment = without.at(0.5)
    assert not moment.exact and 'retried attempts were queued was not recorded' in moment.note
    assert without.at(without.end).counts == sim.counts


def test_markers_and_event_steps_name_what_happened_and_when(make_sim):
    sim = make_sim(tasks=30, seed=8, failure_rate=0.4, stall_rate=0.4, min_duration=2, max_duration=10,
                   task_timeout=40.0)
    sim.start()
    sim.step(1.0)
    sim.cancel_task(0)
    finish(sim, dt=0.5)
    sim.retry()
    finish(sim, dt=0.5)
    replay = live_replay(sim)
    marks = replay.markers()
    failures = [at for at, kind in marks if kind == 'failure']
    every_failure = [a.finished_s for t in sim.tasks for a in t.earlier if a.error] + \
        [t.finished_s for t in sim.tasks if t.status == TaskStatus.FAILED]
    assert sorted(failures) == sorted(every_failure)
    assert (1.0, 'cancel') in marks and any(kind == 'retry' for _, kind in marks)
    stalls = [at for at, kind in marks if kind == 'stall']
    assert stalls and all(replay.at(at + 1e-6).stalled_ids for at in stalls)
    steps = replay.event_times()
    assert steps == sorted(set(steps)) and 1.0 in steps and steps[-1] == replay.end


def test_a_moment_outside_the_run_is_its_first_or_last(make_sim):
    sim = make_sim(tasks=5, seed=1, min_duration=1, max_duration=2)
    sim.start()
    finish(sim, dt=0.5)
    replay = live_replay(sim)
    assert replay.at(-5).at == 0.0 and board(replay.at(1e9)) == board(sim)


def test_a_moment_between_steps_is_worked_out_for_that_moment_not_the_step_before(make_sim):
    sim = make_sim(tasks=1, seed=1, min_duration=10, max_duration=10, failure_rate=0)
    sim.start()
    finish(sim, dt=4.0)  # steps at 4, 8, 12: it completed at 12, though its work was done at 10
    replay = live_replay(sim)
    assert replay.at(5.0).tasks[0].progress == 50
    halfway = replay.at(11.0).tasks[0]
    assert (halfway.status, halfway.progress) == (TaskStatus.RUNNING, 99)  # never 100 % before it completed


@pytest.mark.parametrize('concurrency', [0, 3])
def test_a_moment_feeds_the_grid_snapshot_as_the_live_run_does(make_sim, concurrency):
    sim = make_sim(tasks=12, seed=2, concurrency=concurrency, failure_rate=0.3, min_duration=1, max_duration=4)
    sim.start()
    sim.step(1.5)
    live = snapshot(sim)
    finish(sim, dt=0.5)
    assert snapshot(live_replay(sim).at(1.5)) == live


async def test_the_live_runs_replay_is_shared_and_made_again_when_its_last_moment_moved_on(make_sim):
    sim = make_sim(tasks=10, seed=4, failure_rate=0.5, min_duration=1, max_duration=2)
    replays = Replays(sim, None)
    sim.start()
    sim.step(0.5)
    first = replays.live(0.5)
    assert replays.live(0.2) is first and await replays.replay(sim.run.id, up_to=0.5) is first
    finish(sim, dt=0.25)
    ended = replays.live(sim.run.elapsed_s)
    assert ended is not first and ended.at(ended.end).state == RunState.COMPLETED
    sim.retry()  # at the same moment: the clock of a finished run stands still
    retried = replays.live(sim.run.elapsed_s)
    assert retried is not ended and board(retried.at(retried.end)) == board(sim)
    assert replays.live(sim.run.elapsed_s) is retried

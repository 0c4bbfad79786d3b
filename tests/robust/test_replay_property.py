"""Replay is exact (issue 16): random runs on the fake clock, with random settings (hangs, time limits, concurrency,
speed) and random sequences of steps and control actions (cancel one task, retry one task, cancel the run, retry the
finished run or some of its failed tasks, restart a hung task, a clean interrupt and resume), recorded by the real
`Recorder` into a real `Store`. Some steps go to the very moment a rule with a strict side flips for a task (its
stall flag, the end of its hang, its time limit), where an off-by-one would show. After every action the board
`GET /status` answers (`protocol.status`) is noted by its `elapsed_s` (when one moment was noted twice, the later:
everything stamped at a moment has happened at it). At the end every noted moment is replayed, the way the app
replays: the live run from memory (`Replays` on the simulator, also part-way through the run) and the run read back
from the store (`Replays` on a `SqliteHistory`, with a board that shows no run). Each replayed board must be the one
noted, key for key and task for task (but `version`).

A crash is the one case the store cannot always say exactly: the app is killed (what the recorder had not written
is lost), a fresh simulator and store take the run back as the app does on a restart and resume it. Moments after
the crash must still be exact; a moment before it is either exact or says it is not (`exact` false, a `note`), and
then each task that ran across the crash differs by no more than the note says (its start moved by up to the note's
seconds: a lower percent, or still waiting; one that ended may show later), and every other task is exact.

The recorder writes as it does in the app, emulated on the run's clock: status changes at once (at most a few
actions late), percents every `PROGRESS_S`. Time is `sim.step(dt)`; nothing sleeps.
"""
from __future__ import annotations

import asyncio
import math
import random
import re
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, example, given, note
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from taskdemo import protocol
from taskdemo.history import SqliteHistory
from taskdemo.model import RunActiveError, RunState, TaskStatus, stall_after_s
from taskdemo.recorder import PROGRESS_S, Recorder
from taskdemo.replay import Moment
from taskdemo.replays import Replays
from taskdemo.settings import RunSettings
from taskdemo.simulator import RetryError, Simulator, TaskStateError
from taskdemo.store import Store

from ..helpers import FakeClock
from .servers import SOAK

EXACT_EXAMPLES = 5000 if SOAK else 800  # about 15 s on 2 shared cores, with CI set
CRASH_EXAMPLES = 2500 if SOAK else 400  # about 10 s
MAX_ACTIONS = 40
MAX_TASKS = 12
CUT_SHORT = re.compile(r'(\d[\d,]*) tasks resumed from the percent last saved \(up to ([\d.]+) s older\)')
REFUSED = (RetryError, TaskStateError, RunActiveError)
RUNNING, PENDING = TaskStatus.RUNNING.value, TaskStatus.PENDING.value
ENDED = {TaskStatus.COMPLETED.value, TaskStatus.FAILED.value}


# ---- strategies ---------------------------------------------------------------------------------------------------

@st.composite
def run_settings(draw: st.DrawFn) -> RunSettings:
    """Small runs whose tasks end within a few dozen steps: a second to half a minute of simulated work, at speeds
    from half to ten times real time; hangs (some for good), time limits, limited concurrency."""
    low = draw(st.sampled_from([0.2, 0.5, 1.0, 3.0]))
    return RunSettings(
        tasks=draw(st.integers(1, MAX_TASKS)),
        failure_rate=draw(st.sampled_from([0.0, 0.2, 0.5, 1.0])),
        min_duration=low,
        max_duration=low + draw(st.sampled_from([0.0, 1.0, 5.0, 20.0])),
        speed=draw(st.sampled_from([0.5, 1.0, 2.0, 10.0])),
        seed=draw(st.integers(0, 2**32)),
        concurrency=draw(st.sampled_from([0, 1, 3])),
        stall_rate=draw(st.sampled_from([0.0, 0.3, 1.0])),
        task_timeout=draw(st.sampled_from([None, None, 1.5, 4.0, 30.0])),
    )


TICK = st.integers(0, 100).map(lambda hundredths: hundredths / 100)  # 0 to 1 s, on a grid of 0.01
LONG = st.integers(1, 40).map(lambda quarters: quarters / 4)  # now and then up to 10 s at once
ACTION = st.one_of(
    st.tuples(st.just('step'), TICK), st.tuples(st.just('step'), TICK), st.tuples(st.just('step'), TICK),
    st.tuples(st.just('step'), LONG),
    st.tuples(st.just('edge'), st.integers(0, 4 * MAX_TASKS - 1)), st.tuples(st.just('edge'), st.integers(0, 40)),
    st.tuples(st.sampled_from(['cancel_task', 'retry_task', 'restart_task']), st.integers(0, 2 * MAX_TASKS)),
    st.tuples(st.sampled_from(['cancel', 'retry', 'retry_some', 'interrupt', 'resume', 'interrupt_resume',
                               'check_live']), st.just(0)),
)
# after each action, whether the recorder's 0.25 s flush came before the next (several actions may fall between two)
PLAN = st.lists(st.tuples(ACTION, st.booleans() | st.just(True)), min_size=3, max_size=MAX_ACTIONS)


# ---- the tests ----------------------------------------------------------------------------------------------------

def test_a_replayed_moment_is_the_board_status_showed_then(figures) -> None:
    tally: Counter[str] = Counter()

    @given(settings=run_settings(), plan=PLAN)
    # found by this test: a task flagged stalled one rounding past its limit (the simulator looked at it later)
    @example(settings=RunSettings(tasks=3, failure_rate=0.0, min_duration=0.2, max_duration=0.2, speed=1.0, seed=300,
                                  concurrency=1, stall_rate=0.3, task_timeout=None),
             plan=[(('step', 0.24), True), (('step', 0.25), True), (('step', 0.1), True), (('edge', 3), True)])
    @hypothesis_settings(max_examples=EXACT_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    def one_run(settings: RunSettings, plan: list[tuple[tuple[str, float], bool]]) -> None:
        note(f'{settings!r}, {plan!r}')  # the falsifying example, printed in full
        asyncio.run(play(settings, plan, tally))

    report(one_run, tally, figures)
    assert tally['examples'] >= EXACT_EXAMPLES and tally['inexact_moments'] == 0
    for what in ('completed_runs', 'runs_cancelled', 'retried_finished_runs', 'tasks_cancelled', 'tasks_retried',
                 'tasks_restarted', 'clean_resumes', 'stalled_moments', 'failed_moments', 'edges',
                 'live_checks_midway'):
        assert tally[what] > 0, f'no example ever had {what}: {dict(tally)}'


def test_after_a_crash_a_replay_is_exact_or_says_by_how_much_it_is_not(figures) -> None:
    tally: Counter[str] = Counter()

    @given(settings=run_settings(), plan=PLAN, crash=st.integers(0, MAX_ACTIONS))
    # found by this test: a task at 0 % when the app was killed, resumed with its start at the crash itself
    @example(settings=RunSettings(tasks=1, failure_rate=0.0, min_duration=0.2, max_duration=1.2, speed=0.5, seed=0,
                                  concurrency=0, stall_rate=0.0, task_timeout=None),
             plan=[(('step', 0.01), True)], crash=1)
    # ... and one whose hang had ended at the crash to the last bit: its resumed start, one rounding off, put it back
    # in its hang for the replay's arithmetic (flagged stalled there) but not for the simulator's remembered end
    @example(settings=RunSettings(tasks=1, failure_rate=0.0, min_duration=0.2, max_duration=5.2, speed=0.5, seed=0,
                                  concurrency=0, stall_rate=0.3, task_timeout=None),
             plan=[(('step', 0.0), True), (('step', 0.0), True), (('edge', 1), True)], crash=3)
    # ... and one resumed in its hang: the resumed start and hang worked out in another order than a step's put its
    # stop one rounding off, and how long it had stood still (rounded to 0.1 s) one tenth off
    @example(settings=RunSettings(tasks=1, failure_rate=0.0, min_duration=3.0, max_duration=3.0, speed=0.5, seed=364,
                                  concurrency=0, stall_rate=1.0, task_timeout=None),
             plan=[(('step', 0.06), True), (('step', 0.72), True), (('edge', 0), True), (('step', 0.03), False),
                   (('step', 0.03), True), (('step', 0.09), True), (('step', 0.75), True)], crash=3)
    # ... and one that ran across the crash, interrupted again at the same moment by a clean stop
    @example(settings=RunSettings(tasks=1, failure_rate=0.0, min_duration=0.2, max_duration=0.2, speed=0.5, seed=0,
                                  concurrency=0, stall_rate=0.0, task_timeout=None),
             plan=[(('step', 0.01), True)], crash=1)
    @hypothesis_settings(max_examples=CRASH_EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    def one_run(settings: RunSettings, plan: list[tuple[tuple[str, float], bool]], crash: int) -> None:
        note(f'{settings!r}, {plan!r}, crash before action {crash}')
        asyncio.run(play(settings, plan, tally, crash_before=min(crash, len(plan))))

    report(one_run, tally, figures)
    assert tally['examples'] >= CRASH_EXAMPLES
    for what in ('crash_resumes', 'inexact_moments', 'inexact_but_equal', 'cut_short_tasks_off',
                 'exact_after_crash'):
        assert tally[what] > 0, f'no example ever had {what}: {dict(tally)}'


def report(runs: Any, tally: Counter[str], figures: Any) -> None:
    began = time.perf_counter()
    runs()
    seconds = round(time.perf_counter() - began, 1)
    figures(**tally, seconds=seconds)
    print(f'\nreplay property: {tally["examples"]} examples, {tally["moments"]} moments replayed '
          f'({tally["moments_live"]} from memory, {tally["moments_stored"]} from the store), '
          f'{tally["inexact_moments"]} flagged not exact, in {seconds} s: {dict(sorted(tally.items()))}')


# ---- one example --------------------------------------------------------------------------------------------------

async def play(settings: RunSettings, plan: list[tuple[tuple[str, float], bool]], tally: Counter[str], *,
               crash_before: int | None = None) -> None:
    with tempfile.TemporaryDirectory(prefix='taskdemo-replay-') as folder:
        game = Game(settings, Path(folder), tally)
        try:
            for i, (action, flushed) in enumerate(plan):
                if i == crash_before:
                    await game.crash()
                await game.act(*action)
                if flushed:
                    await game.flush()
            if crash_before == len(plan):
                await game.crash()
            await game.check_live()
            await game.stop_cleanly()
            await game.check_stored()
        finally:
            game.recorder.close()
    tally['examples'] += 1


class Game:
    """One run driven by a plan, with the boards `/status` showed, by moment."""

    def __init__(self, settings: RunSettings, folder: Path, tally: Counter[str]) -> None:
        self.folder = folder
        self.tally = tally
        self.clock = FakeClock()
        self.sim = Simulator(settings, clock=self.clock, rng=random.Random(0))
        self.recorder = self._recorder(self.sim)
        self.sim.start()
        self.last_progress = 0.0
        self.seen: dict[float, dict[str, Any]] = {}
        self.crashed_at: float | None = None  # the run's moment the crash put it back to
        self.cut_short: frozenset[int] = frozenset()  # the tasks that ran across it
        self.note()

    # ---- driving ----------------------------------------------------------------------------------------------

    async def act(self, kind: str, value: float) -> None:
        sim, tally = self.sim, self.tally
        try:
            if kind == 'step':
                self.step(value)
            elif kind == 'edge':
                self.step_to_an_edge(int(value))
            elif kind in {'cancel_task', 'restart_task'}:  # restart: cancel and retry one task, as for a hung one
                task_id = pick(sim, int(value), {TaskStatus.RUNNING}, {TaskStatus.PENDING})
                sim.cancel_task(task_id)
                tally['tasks_cancelled'] += 1
                if kind == 'restart_task':
                    tally['tasks_restarted'] += bool(sim.tasks[task_id].stalled_from is not None)
                    self.note()
                    sim.retry_task(task_id)
                    tally['tasks_retried'] += 1
            elif kind == 'retry_task':
                sim.retry_task(pick(sim, int(value), {TaskStatus.FAILED, TaskStatus.CANCELLED}))
                tally['tasks_retried'] += 1
            elif kind == 'cancel':
                tally['runs_cancelled'] += sim.cancel()
            elif kind in {'retry', 'retry_some'}:
                failed = sim.failed_tasks()
                sim.retry(failed[::2] if kind == 'retry_some' and failed else None)
                tally['retried_finished_runs'] += 1
            elif kind == 'interrupt':
                tally['clean_interrupts'] += sim.interrupt()
            elif kind == 'resume':
                tally['clean_resumes'] += sim.resume()
            elif kind == 'interrupt_resume':  # a restart of the app with a clean stop: the run goes on at once
                if sim.interrupt():
                    self.note()
                    tally['clean_resumes'] += sim.resume()
            elif kind == 'check_live':
                await self.check_live()
                tally['live_checks_midway'] += 1
        except REFUSED:
            tally['refused'] += 1
        self.note()

    def step(self, dt: float) -> None:
        self.clock.advance(dt)
        self.sim.step(dt)

    def step_to_an_edge(self, choice: int) -> None:
        """Step to the very moment a running task's display changes by a rule with a strict side (its stall flag:
        only after the limit; the end of its hang; its time limit): where an off-by-one (`>=` for `>`) would show.
        Not to the moment of its next percent: there the simulator, which looks at a task only once the moment it
        scheduled for it has come, may show the percent a rounding error later than the replay's arithmetic."""
        sim = self.sim
        running = [task for task in sim.tasks if task.status == TaskStatus.RUNNING and
                   (task.stall_at is not None or sim.run.settings.task_timeout is not None)]
        if not running:
            return
        task, speed = running[choice % len(running)], sim.run.settings.speed
        start, duration = task.started_s * speed, task.duration
        edges = []
        if task.stall_at is not None:
            hang = task.stall_at * duration / 100
            edges.append(hang + stall_after_s(duration))
            if task.stall_for is not None:
                edges.append(hang + task.stall_for)
        if sim.run.settings.task_timeout is not None:
            edges.append(sim.run.settings.task_timeout)
        later = [(start + edge) / speed for edge in edges if (start + edge) / speed > sim.run.elapsed_s]
        if later:
            self.tally['edges'] += 1
            self.step(sorted(later)[choice // len(running) % len(later)] - sim.run.elapsed_s)

    def note(self) -> None:
        """What `GET /status` shows now (but the version, which no replay has), under the run's moment."""
        status = protocol.status(self.sim)
        del status['version']
        self.seen[self.sim.run.elapsed_s] = status
        self.tally['completed_runs'] += status['state'] == RunState.COMPLETED.value

    async def flush(self) -> None:
        """The recorder's periodic flush (`Recorder.run`), on the run's clock: percents only every PROGRESS_S."""
        now = self.sim.run.elapsed_s
        progress = now - self.last_progress >= PROGRESS_S
        if progress:
            self.last_progress = now
        await self.recorder.flush(include_progress=progress)

    async def crash(self) -> None:
        """The app is killed: what the recorder had not written is lost. A fresh simulator and store take the run
        back as `app.build` does, and go on with it (resumed, if it was running)."""
        self.recorder.close()
        sim = Simulator(self.sim.settings, clock=self.clock, rng=random.Random(1))
        self.recorder = self._recorder(sim)
        store = self.recorder.store
        sim.number_runs_after(store.newest_run_id())
        last = store.last_run()
        assert last is not None and last[0].id == self.sim.run.id
        sim.restore(*last, store.events_to_restore(last[0]))
        self.sim, self.crashed_at = sim, sim.run.elapsed_s
        self.cut_short = frozenset(task.id for task in sim.tasks if task.status == TaskStatus.INTERRUPTED)
        self.seen = {at: status for at, status in self.seen.items() if at <= self.crashed_at}  # the rest was lost
        self.tally['crash_resumes'] += sim.resume()
        self.tally['crashes'] += 1
        self.note()
        await self.flush()

    async def stop_cleanly(self) -> None:
        """The app stops as it does on a shutdown: a running run is interrupted, everything is written."""
        if self.sim.interrupt():
            self.note()
        self.recorder.flush_now()
        await self.recorder.written()

    # ---- checking ---------------------------------------------------------------------------------------------

    async def check_live(self) -> None:
        replays = Replays(self.sim, None)
        for at, want in self.seen.items():
            self.check(await replays.moment(self.sim.run.id, at), want, 'live')

    async def check_stored(self) -> None:
        nobody = Simulator(RunSettings(tasks=1), clock=self.clock)  # a board on which the run is not the live one
        replays = Replays(nobody, SqliteHistory(self.recorder))
        for at, want in self.seen.items():
            self.check(await replays.moment(self.sim.run.id, at), want, 'stored')

    def check(self, moment: Moment, want: dict[str, Any], where: str) -> None:
        tally = self.tally
        tally['moments'] += 1
        tally[f'moments_{where}'] += 1
        tally['stalled_moments'] += want['stalled'] > 0
        tally['failed_moments'] += want['failed'] > 0
        got = protocol.status(moment)
        del got['version']
        assert moment.at == want['elapsed_s'] == got['elapsed_s']
        if self.crashed_at is not None and moment.at >= self.crashed_at:
            tally['exact_after_crash'] += 1
        if moment.exact:
            assert moment.note == ''
            assert got == want, f'{where} replay at {moment.at!r} is not the board shown then: {differences(got, want)}'
            return
        tally['inexact_moments'] += 1
        assert self.crashed_at is not None and moment.at < self.crashed_at, \
            f'{where} replay at {moment.at!r} says it is not exact without a crash after it: {moment.note}'
        claim = CUT_SHORT.search(moment.note)
        assert claim is not None, f'a note that does not say by how much: {moment.note}'
        # every task that ran across it is counted (and any that started or ended right at it, moved or not)
        assert int(claim[1].replace(',', '')) >= len(self.cut_short), (claim[0], sorted(self.cut_short))
        tally['inexact_but_equal'] += got == want
        self.check_within(got, want, float(claim[2]), moment.at, where)

    def check_within(self, got: dict[str, Any], want: dict[str, Any], seconds: float, at: float, where: str) -> None:
        """Every task that ran across the crash is off by no more than its start moved (`seconds`, as the note
        says): a lower percent, or still waiting, or still running where it had ended; every other task exact."""
        speed = self.sim.run.settings.speed
        for key, shown in want['individual'].items():
            task_id, replayed = int(key), got['individual'][key]
            if task_id not in self.cut_short:
                assert replayed == shown, f'{where} at {at!r}: task {task_id} did not run across the crash, ' \
                                          f'yet {replayed} != {shown}'
                continue
            if replayed == shown:
                continue
            self.tally['cut_short_tasks_off'] += 1
            task = self.sim.tasks[task_id]
            shortest = min([task.duration, *(attempt.duration for attempt in task.earlier)])
            most = math.floor(100 * seconds * speed / shortest) + 1 if shortest > 0 else 100
            statuses = (shown['status'], replayed['status'])
            assert statuses in {(RUNNING, RUNNING), (RUNNING, PENDING)} or (
                shown['status'] in ENDED and replayed['status'] in {RUNNING, PENDING}), \
                f'{where} at {at!r}: task {task_id} {shown} replayed as {replayed}'
            off = shown['progress'] - replayed['progress']
            assert 0 <= off <= most, f'{where} at {at!r}: task {task_id} {shown} replayed as {replayed}: ' \
                                     f'{off} % off, a start moved by {seconds} s makes at most {most} %'
            self.tally['most_percent_off'] = max(self.tally['most_percent_off'], off)

    def _recorder(self, sim: Simulator) -> Recorder:
        return Recorder(sim, Store(self.folder, keep_runs=5), clock=lambda: sim.run.elapsed_s if sim.run else 0.0)


def pick(sim: Simulator, choice: int, *wanted: set[TaskStatus]) -> int:
    """A task in the first of the `wanted` states any task is in (by `choice`); now and then, or when none is, any
    task at all (a command that will be refused)."""
    if choice < sim.total:
        return choice
    for statuses in wanted:
        ids = [task.id for task in sim.tasks if task.status in statuses]
        if ids:
            return ids[choice % len(ids)]
    return choice % sim.total


def differences(got: dict[str, Any], want: dict[str, Any]) -> str:
    keys = {key: (want.get(key), got.get(key)) for key in want.keys() | got.keys()
            if key != 'individual' and want.get(key) != got.get(key)}
    tasks = {task: (shown, got['individual'].get(task)) for task, shown in want['individual'].items()
             if got['individual'].get(task) != shown}
    return f'(shown, replayed): {keys}; tasks: {dict(list(tasks.items())[:6])}'

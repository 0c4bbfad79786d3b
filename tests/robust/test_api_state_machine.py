"""The HTTP API under random sequences of requests (issue #8): POST /start (no body, valid settings, settings that
do not fit together, and bodies the schema refuses; hangs and time limits among them), /reset, /cancel, /resume,
/retry (all, by error message, by ids, valid and invalid), POST /tasks/{id}/cancel and /tasks/{id}/retry (issue
#15: ids that can, ids that cannot, ids the run lacks, and ids that are no ids), with time moved by `sim.step(dt)`
and the app's clean stop (`sim.interrupt()`) in between,
on a bare FastAPI app with `install_api` and `install_error_handlers`, in-process: httpx's ASGITransport on an event
loop of the machine's own, driven with run_until_complete (4 times faster than starlette's TestClient, whose thread
hop costs ~2.5 ms a request, and the simulator is then touched from one thread only, as in the app).

Every answer is predicted from the last `GET /status` alone: its code (2xx or 4xx, never 5xx), and for a 200 what
it says. After every step, through `GET /status` only:

- a 4xx is JSON with a `detail` text, and `GET /status` is exactly as it was before the request;
- the counters equal the task states, `progress` is finished over total, error groups are the failed tasks;
- progress never goes back within one attempt of one run;
- at most one run is active (a start meanwhile is 409), it is the newest, and no more than its concurrency of
  tasks run at once;
- a finished task never changes, except through POST /retry (a failed task asked for goes back to pending as its
  next attempt), POST /tasks/{id}/retry (the same for one failed or cancelled task) and a new run (POST /start,
  POST /reset);
- a run's settings, seed and start time never change while it exists;
- a stalled task is running: `"stalled": true` only on `in_progress` entries, and `stalled` / `stalled_tasks` name
  exactly those, the one stalled longest first;
- a timed-out task has the time-out error (and only a task that ran up to the time limit has it);
- per-task control never changes another task (but for a waiting task taking the slot a cancel freed).
"""
from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, replace
from typing import Any

import httpx
from fastapi import FastAPI
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from taskdemo.api import install_api, install_error_handlers
from taskdemo.model import FAILURE_KINDS, stall_after_s, timeout_message
from taskdemo.settings import MAX_DURATION_S, MAX_SPEED, MAX_TASKS, RunSettings, Settings, SettingsError
from taskdemo.simulator import Simulator, TaskStatus

from ..helpers import FakeClock
from .test_state_machine import DT, expected_retry, run_counted, run_settings, step_to_the_end

SEQUENCES = 500
STEPS_PER_SEQUENCE = 30
FEW_TASKS = 30

FINISHED = {'completed', 'failed', 'cancelled'}
NEXT_STATES = {  # within one attempt of one run, during one rule
    'pending': {'pending', 'in_progress', 'completed', 'failed', 'cancelled'},
    'in_progress': {'in_progress', 'completed', 'failed', 'cancelled', 'interrupted'},
    'interrupted': {'interrupted', 'in_progress', 'completed', 'failed'},
    'completed': {'completed'},
    'failed': {'failed'},
    'cancelled': {'cancelled'},
}
COUNTERS = {'pending': 'pending', 'in_progress': 'running', 'completed': 'completed', 'failed': 'failed',
            'cancelled': 'cancelled', 'interrupted': 'interrupted'}


# ---- request bodies -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Body:
    """A request body: JSON (`value`), raw bytes, or none at all. `schema_ok` is False for a body the API's schema
    refuses (422 whatever the state)."""

    value: Any = None
    raw: bytes | None = None
    present: bool = True
    schema_ok: bool = True

    def send(self) -> dict[str, Any]:
        if not self.present:
            return {}
        if self.raw is not None:
            return {'content': self.raw, 'headers': {'Content-Type': 'application/json'}}
        return {'json': self.value}


NO_BODY = Body(present=False)
START_FIELDS = {
    'tasks': st.integers(1, FEW_TASKS),
    'failure_rate': st.sampled_from([0, 0.5, 1]) | st.floats(0, 1),
    'min_duration': st.sampled_from([0.001, 1, 30, MAX_DURATION_S]) | st.floats(0.001, 60),
    'max_duration': st.sampled_from([0.001, 1, 120, MAX_DURATION_S]) | st.floats(0.001, 150),  # may be < min: 422
    'speed': st.sampled_from([1, 10, 100, 0.001, MAX_SPEED]) | st.floats(0.1, 1000),
    'seed': st.none() | st.integers(0, 2**32),
    'concurrency': st.integers(0, FEW_TASKS + 5),
    'stall_rate': st.sampled_from([0, 0.3, 1]) | st.floats(0, 1),
    'task_timeout': st.none() | st.sampled_from([0.001, 5, 60, MAX_DURATION_S]) | st.floats(0.001, 200),
}
BAD_START_BODIES = [
    {'tasks': 0}, {'tasks': MAX_TASKS + 1}, {'tasks': '5'}, {'tasks': 2.5}, {'tasks': True}, {'tasks': None, 'x': 1},
    {'failure_rate': 1.5}, {'failure_rate': -0.1}, {'failure_rate': '0.5'}, {'speed': 0}, {'speed': -1},
    {'min_duration': 0}, {'max_duration': 1e9}, {'seed': -1}, {'seed': 2**63}, {'concurrency': -1},
    {'concurrency': MAX_TASKS + 1}, {'colour': 'red'}, [], [{'tasks': 3}], 'tasks', 5,
    {'stall_rate': 1.5}, {'stall_rate': -0.1}, {'stall_rate': None}, {'stall_rate': '0.1'}, {'task_timeout': 0},
    {'task_timeout': -5}, {'task_timeout': MAX_DURATION_S + 1}, {'task_timeout': 'none'}, {'task_timeout': True},
]
NOT_IDS = ['-1', '10000', '99999999999999999999999', 'abc', '1.5', '1e3', '%20', 'null', 'true']
BAD_RAW = [b'{', b'{"tasks": NaN}', b'{"speed": Infinity}', b'{"tasks": 3,}', b'\xff\xfe']
BAD_RETRY_BODIES = [
    {'tasks': [-1]}, {'tasks': [MAX_TASKS + 1]}, {'tasks': 'all'}, {'tasks': [1.5]}, {'tasks': [True]},
    {'error': 5}, {'error': 'x' * 1001}, {'colour': 1}, [], [0, 1], 'retry',
]


def start_bodies() -> st.SearchStrategy[Body]:
    valid = st.fixed_dictionaries({}, optional=START_FIELDS).map(Body)
    refused = st.sampled_from(BAD_START_BODIES).map(lambda value: Body(value, schema_ok=False))
    raw = st.sampled_from(BAD_RAW).map(lambda raw: Body(raw=raw, schema_ok=False))
    return st.just(NO_BODY) | valid | refused | raw


# ---- the machine --------------------------------------------------------------------------------------------------

def make_app(sim: Simulator) -> FastAPI:
    app = FastAPI()
    install_api(app, sim, Settings())
    install_error_handlers(app)
    return app


def task_states(status: dict[str, Any]) -> list[tuple[str, int, str | None, int]]:
    """Every task as /status shows it: state, percent, error, attempt."""
    attempts = status['attempts']
    return [(entry['status'], entry['progress'], entry.get('error'), attempts.get(str(i), 1))
            for i, entry in ((int(key), entry) for key, entry in status['individual'].items())]


@dataclass
class Op:
    name: str
    refused: bool = False
    new_run: bool = False
    retried: frozenset[int] = frozenset()
    one_task: int | None = None  # the task a per-task request acted on: no other may change
    frees_a_slot: bool = False  # it cancelled a running task: a waiting one may take its slot


TALLY = {'sequences': 0, 'steps': 0, 'requests': 0, 'status_2xx': 0, 'status_4xx': 0, 'started': 0, 'retried': 0,
         'resumed': 0, 'completed_runs': 0, 'tasks_cancelled': 0, 'tasks_retried': 0, 'task_requests_refused': 0,
         'stalls_seen': 0, 'time_outs_seen': 0}


class ApiMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        TALLY['sequences'] += 1
        self.clock = FakeClock()
        self.sim: Simulator
        self.server_seed: int | None = None
        self.client: httpx.AsyncClient | None = None
        self.loop: asyncio.AbstractEventLoop
        self.step_no = 0
        self.fetched_at = -1
        self.status: dict[str, Any] = {}
        self.prev: dict[str, Any] | None = None
        self.op = Op('init')
        self.max_run_id = 0
        self.run_records: dict[int, tuple[dict[str, Any], int, float]] = {}

    # ---- plumbing -------------------------------------------------------------------------------------------

    @initialize(settings=run_settings())
    def build(self, settings: RunSettings) -> None:
        self.sim = Simulator(settings, clock=self.clock, rng=random.Random(0))  # replayable: no hidden randomness
        self.server_seed = settings.seed  # `--seed`: a run's own seed does not stay in force, this one does
        self.loop = asyncio.new_event_loop()
        transport = httpx.ASGITransport(make_app(self.sim), raise_app_exceptions=False)  # a crash must show as 500
        self.client = httpx.AsyncClient(transport=transport, base_url='http://test')

    def teardown(self) -> None:
        if self.client is not None:
            self.loop.run_until_complete(self.client.aclose())
            self.loop.close()

    def current(self) -> dict[str, Any]:
        """GET /status, once per step."""
        if self.fetched_at != self.step_no:
            self.status = self.request('GET', '/status')
            self.fetched_at = self.step_no
        return self.status

    def request(self, method: str, path: str, body: Body = NO_BODY, *, expect: int | None = None) -> dict[str, Any]:
        TALLY['requests'] += 1
        response = self.loop.run_until_complete(self.client.request(method, path, **body.send()))
        code = response.status_code
        shown = f'{method} {path} {body} -> {code} {response.text[:300]}'
        assert code < 500, f'a server error: {shown}'
        assert 200 <= code < 300 or 400 <= code < 500, shown
        assert response.headers['content-type'].startswith('application/json'), shown
        answer = response.json()
        if code >= 400:
            TALLY['status_4xx'] += 1
            assert isinstance(answer, dict) and set(answer) == {'detail'}, shown
            assert isinstance(answer['detail'], str) and answer['detail'].strip(), shown
            assert 'Traceback' not in answer['detail'] and 'object at 0x' not in answer['detail'], shown
            self.op.refused = True
        else:
            TALLY['status_2xx'] += 1
        if expect is not None:
            assert code == expect, f'expected {expect}: {shown}'
        return answer

    def _begin(self, name: str) -> Op:
        self.prev = self.current()
        self.step_no += 1
        TALLY['steps'] += 1
        self.op = Op(name)
        return self.op

    # ---- requests -------------------------------------------------------------------------------------------

    @rule(body=start_bodies())
    def start(self, body: Body) -> None:
        op = self._begin('start')
        before = self.prev
        self.clock.advance(1.0)
        wanted: RunSettings | None = None
        if not body.schema_ok:
            expect = 422
        else:  # a bad setting is refused whatever the state; a good one while a run is active, 409
            try:
                in_force = replace(RunSettings(**before['settings']), seed=self.server_seed)
                wanted = RunSettings.from_mapping(body.value if body.present else {}, base=in_force)
                expect = 409 if before['state'] == 'running' else 200
            except SettingsError:
                expect = 422
        answer = self.request('POST', '/start', body, expect=expect)
        if expect != 200:
            if expect == 409:
                assert 'already active' in answer['detail']
            return
        op.new_run = True
        TALLY['started'] += 1
        assert answer['run_id'] == self.max_run_id + 1, 'every new run gets the next, unused number'
        assert answer['settings'] == wanted.as_dict()
        assert answer['message'] == f'{wanted.tasks} tasks started'
        if wanted.seed is not None:
            assert answer['seed'] == wanted.seed
        self.max_run_id = answer['run_id']
        self.run_records[answer['run_id']] = (answer['settings'], answer['seed'], self.clock.now)

    @precondition(lambda self: self.current()['state'] != 'running')
    @rule(body=st.just(NO_BODY) | st.fixed_dictionaries({}, optional=START_FIELDS).map(Body))
    def start_a_new_run(self, body: Body) -> None:
        self.start(body)

    @rule(path=st.sampled_from(['/reset', '/cancel', '/resume']))
    def control(self, path: str) -> None:
        op = self._begin(path)
        state = self.prev['state']
        if path == '/reset':
            self.request('POST', path, expect=200)
            op.new_run = True
            now = self.current()
            assert now['state'] == 'idle' and now['run_id'] is None
            assert now['pending'] == now['total'] == self.prev['settings']['tasks']
        elif path == '/cancel':
            self.request('POST', path, expect=200 if state == 'running' else 409)
        else:
            if self.request('POST', path, expect=200 if state == 'interrupted' else 409).get('message'):
                TALLY['resumed'] += 1

    @precondition(lambda self: self.current()['state'] == 'interrupted')
    @rule()
    def resume_after_an_interruption(self) -> None:
        self.control('/resume')

    def _retry(self, body: Body, ids: list[int] | None = None, error: str | None = None) -> None:
        op = self._begin('retry')
        before = self.prev
        given = body.value if body.present and isinstance(body.value, dict) else {}
        expected: list[int] | None = None
        if not body.schema_ok or (given.get('tasks') is not None and given.get('error') is not None):
            expect = 422
        elif before['state'] == 'running' or before['run_id'] is None or before['state'] == 'interrupted':
            expect = 409
        else:
            tasks = [(TaskStatus(state), message) for state, _, message, _ in task_states(before)]
            expected = expected_retry(tasks, ids, error)
            expect = 422 if expected is None else 200
        answer = self.request('POST', '/retry', body, expect=expect)
        if expect == 200:
            assert answer['tasks'] == expected and answer['run_id'] == before['run_id']
            assert answer['message'] == f'{len(expected)} tasks retried'
            op.retried = frozenset(expected)
            TALLY['retried'] += 1

    @rule(data=st.data())
    def retry(self, data: st.DataObject) -> None:
        """Retry whatever the draw says, in any state: all, by an error message, by ids (invalid ones too), both
        at once, or with a body the schema refuses."""
        status = self.current()
        how = data.draw(st.sampled_from(['no body', 'all', 'error', 'ids', 'both', 'bad']), label='how')
        total = status['total']
        failed = [i for i, (state, *_) in enumerate(task_states(status)) if state == 'failed']
        if how == 'no body':
            self._retry(NO_BODY)
        elif how == 'all':
            self._retry(Body(data.draw(st.sampled_from([{}, {'tasks': None}, {'error': None},
                                                         {'tasks': None, 'error': None}]), label='body')))
        elif how == 'error':
            groups = [group['error'] for group in status['error_groups']]
            choices = st.sampled_from([*FAILURE_KINDS, '', 'nope'])
            error = data.draw(st.sampled_from(groups) | choices if groups else choices, label='error')
            self._retry(Body({'error': error}), error=error)
        elif how == 'ids':
            anything = st.integers(0, total + 5)
            pick = st.lists(st.sampled_from(failed) | anything if failed else anything, max_size=5)
            ids = data.draw(pick, label='ids')
            self._retry(Body({'tasks': ids}), ids=ids)
        elif how == 'both':
            self._retry(Body({'tasks': failed[:1], 'error': FAILURE_KINDS[0]}))
        else:
            self._retry(Body(data.draw(st.sampled_from(BAD_RETRY_BODIES), label='body'), schema_ok=False))

    @precondition(lambda self: self.current()['state'] in {'completed', 'cancelled'} and self.current()['failed'])
    @rule(data=st.data())
    def retry_some_failed_tasks(self, data: st.DataObject) -> None:
        """`retry` picks blindly and is mostly refused; this one picks what can go again."""
        status = self.current()
        how = data.draw(st.sampled_from(['all', 'error', 'ids']), label='how')
        if how == 'all':
            self._retry(NO_BODY)
        elif how == 'error':
            error = data.draw(st.sampled_from([group['error'] for group in status['error_groups']]), label='error')
            self._retry(Body({'error': error}), error=error)
        else:
            failed = [i for i, (state, *_) in enumerate(task_states(status)) if state == 'failed']
            ids = data.draw(st.lists(st.sampled_from(failed), min_size=1, max_size=len(failed)), label='ids')
            self._retry(Body({'tasks': ids}), ids=ids)

    # ---- one task -------------------------------------------------------------------------------------------

    @rule(data=st.data())
    def cancel_one_task(self, data: st.DataObject) -> None:
        """POST /tasks/{id}/cancel: mostly a task that can be cancelled, now and then one that cannot (finished,
        an id the run lacks, no active run) or an id that is none."""
        status = self.current()
        states = task_states(status)
        unfinished = [i for i, (state, *_) in enumerate(states) if state not in FINISHED]
        task_id = self._draw_id(data, unfinished, len(states))
        op = self._begin('cancel_task')
        if not isinstance(task_id, int) or not 0 <= task_id < len(states):
            expect = 422
        elif status['state'] != 'running' or states[task_id][0] in FINISHED:
            expect = 409
        else:
            expect = 200
        answer = self.request('POST', f'/tasks/{task_id}/cancel', expect=expect)
        if expect != 200:
            TALLY['task_requests_refused'] += 1
            return
        assert answer == {'message': f'Task {task_id} cancelled', 'run_id': status['run_id'], 'task': task_id,
                          'status': 'cancelled', 'attempt': states[task_id][3]}
        op.one_task, op.frees_a_slot = task_id, states[task_id][0] == 'in_progress'
        after = task_states(self.current())[task_id]
        assert after == ('cancelled', states[task_id][1], None, states[task_id][3]), 'cancelled where it stood'
        TALLY['tasks_cancelled'] += 1

    @rule(data=st.data())
    def retry_one_task(self, data: st.DataObject) -> None:
        """POST /tasks/{id}/retry, while the run goes on or after it: mostly a failed (or timed-out) or cancelled
        task, now and then one that cannot go again or an id that is none."""
        status = self.current()
        states = task_states(status)
        ended = [i for i, (state, *_) in enumerate(states) if state in {'failed', 'cancelled'}]
        task_id = self._draw_id(data, ended, len(states))
        op = self._begin('retry_task')
        if not isinstance(task_id, int) or not 0 <= task_id < len(states):
            expect = 422
        elif status['run_id'] is None or status['state'] == 'interrupted':
            expect = 409
        elif states[task_id][0] not in {'failed', 'cancelled'}:
            expect = 422
        else:
            expect = 200
        answer = self.request('POST', f'/tasks/{task_id}/retry', expect=expect)
        if expect != 200:
            TALLY['task_requests_refused'] += 1
            return
        attempt = states[task_id][3] + 1
        assert answer['task'] == task_id and answer['attempt'] == attempt and answer['run_id'] == status['run_id']
        assert answer['status'] in {'pending', 'in_progress'}
        assert answer['message'] == f'Task {task_id} retried (attempt {attempt})'
        op.one_task, op.retried = task_id, frozenset({task_id})
        assert self.current()['state'] == 'running', 'a task retried makes its run go on'
        TALLY['tasks_retried'] += 1

    @staticmethod
    def _draw_id(data: st.DataObject, likely: list[int], total: int) -> int | str:
        anything = st.integers(0, total + 3)
        ids = st.sampled_from(likely) | anything if likely else anything
        return data.draw(ids | st.sampled_from(NOT_IDS), label='task')

    # ---- time and the app's own stop ------------------------------------------------------------------------

    @rule(dt=DT)
    def step(self, dt: float) -> None:
        self._begin('step')
        self.sim.step(dt)

    @precondition(lambda self: self.sim.active and self.sim.run.settings.stall_rate > 0)
    @rule(share=st.floats(0.01, 0.99))
    def step_into_a_hang(self, share: float) -> None:
        """Move time to part way through a hang that will be flagged (the plan says which task hangs, where and for
        how long): random steps mostly jump over the few seconds a hang is flagged."""
        self._begin('step into a hang')
        sim = self.sim
        run, speed = sim.run, sim.run.settings.speed
        now = run.elapsed_s * speed
        for task in sim.tasks:
            if task.status != TaskStatus.RUNNING or task.stall_at is None or task.stalled_until is not None:
                continue
            hang = task.started_s * speed + task.stall_at * task.duration / 100
            flagged_from = hang + stall_after_s(task.duration)
            until = hang + (task.stall_for if task.stall_for is not None else 2 * stall_after_s(task.duration))
            if until > flagged_from and until > now:
                sim.step((max(now, flagged_from) + share * (until - max(now, flagged_from)) - now) / speed)
                return

    @rule()
    def run_to_the_end(self) -> None:
        """Liveness: an active run ends, once the tasks that would hang for good with no time limit to end them
        are cancelled through the API (as a user would)."""
        self._begin('finish')
        sim = self.sim
        if not sim.active:
            return
        if sim.run.settings.task_timeout is None:
            for task in sim.tasks:
                if task.stall_at is not None and task.stall_for is None and not task.status.finished:
                    self.request('POST', f'/tasks/{task.id}/cancel', expect=200)
            if not sim.active:
                return
        step_to_the_end(sim)
        assert self.current()['state'] == 'completed', 'the run is stuck'
        TALLY['completed_runs'] += 1

    @rule()
    def interrupt(self) -> None:
        """What the app does when it stops cleanly; POST /resume goes on from there."""
        self._begin('interrupt')
        self.sim.interrupt()

    # ---- invariants, through GET /status ------------------------------------------------------------------

    @invariant()
    def a_refused_request_changes_nothing(self) -> None:
        if self.op.refused:
            assert self.current() == self.prev, f'{self.op.name} was refused, yet GET /status changed'

    @invariant()
    def counters_equal_the_task_states(self) -> None:
        status = self.current()
        tasks = task_states(status)
        assert list(status['individual']) == [str(i) for i in range(len(tasks))]
        counted = {name: 0 for name in COUNTERS.values()}
        for state, *_ in tasks:
            counted[COUNTERS[state]] += 1
        assert {name: status[name] for name in counted} == counted
        assert status['total'] == len(tasks) == status['settings']['tasks']
        finished = status['completed'] + status['failed'] + status['cancelled']
        assert status['progress'] == round(100 * finished / status['total'], 1)
        groups: dict[str, list[int]] = {}
        for i, (state, progress, error, attempt) in enumerate(tasks):
            assert 0 <= progress <= 100 and attempt >= 1
            assert (error is not None) == (state == 'failed')
            assert state != 'completed' or progress == 100
            assert state != 'pending' or progress == 0
            if state == 'failed':
                groups.setdefault(error, []).append(i)
        assert status['error_groups'] == [{'error': error, 'count': len(ids), 'tasks': ids} for error, ids in
                                          sorted(groups.items(), key=lambda group: (-len(group[1]), group[0]))]

    @invariant()
    def at_most_one_run_is_active(self) -> None:
        status = self.current()
        state = status['state']
        assert (status['run_id'] is None) == (state == 'idle')
        if status['running']:
            assert state == 'running'
        if status['interrupted']:
            assert state == 'interrupted'
        if state == 'running':
            assert status['run_id'] == self.max_run_id, 'the active run is the newest one'
            limit = status['settings']['concurrency'] or status['total']
            assert status['running'] <= limit
            assert status['pending'] == 0 or status['running'] == limit, 'a free slot was left empty'
        elif state in {'completed', 'cancelled'}:
            assert status['progress'] == 100.0
        elif state == 'idle':
            assert status['pending'] == status['total']

    @invariant()
    def a_runs_settings_never_change(self) -> None:
        status = self.current()
        if status['run_id'] is not None:
            settings, seed, started_at = self.run_records[status['run_id']]
            assert (status['settings'], status['seed'], status['started_at']) == (settings, seed, started_at)

    @invariant()
    def finished_tasks_never_change_and_progress_never_goes_back(self) -> None:
        prev, op = self.prev, self.op
        if prev is None or op.new_run:
            return
        now = self.current()
        assert now['run_id'] == prev['run_id']
        if prev['state'] == now['state'] == 'running':
            assert now['elapsed_s'] >= prev['elapsed_s']
        retried = set()
        for i, (before, after) in enumerate(zip(task_states(prev), task_states(now), strict=True)):
            where = f'{op.name}: task {i}: {before} -> {after}'
            if before[0] in {'failed', 'cancelled'} and after[3] != before[3]:
                assert after[3] == before[3] + 1 and after[0] in {'pending', 'in_progress'} and after[1] == 0, where
                retried.add(i)
                continue
            assert after[3] == before[3], where
            assert after[0] in NEXT_STATES[before[0]], where
            assert after[1] >= before[1], f'progress went back: {where}'
            if before[0] in FINISHED:
                assert after == before, f'a finished task changed: {where}'
        assert retried == set(op.retried), f'only the tasks retried start a new attempt: {retried} vs {op.retried}'


    @invariant()
    def a_stalled_task_is_running_and_status_lists_each_one(self) -> None:
        status = self.current()
        flagged = {int(key) for key, entry in status['individual'].items() if 'stalled' in entry}
        for i in flagged:
            assert status['individual'][str(i)] == {'status': 'in_progress', 'progress': status['individual'][
                str(i)]['progress'], 'stalled': True}, f'task {i}: only a running task is stalled'
        listed = status['stalled_tasks']
        assert status['stalled'] == len(listed) == len(flagged) and {task['id'] for task in listed} == flagged
        seconds = [task['stalled_s'] for task in listed]
        assert seconds == sorted(seconds, reverse=True) and all(s >= 0 for s in seconds), listed
        TALLY['stalls_seen'] += bool(flagged)

    @invariant()
    def a_timed_out_task_has_the_time_out_error(self) -> None:
        """From /status and the plan of each task (its planned failure point, which /status does not show): a task
        failed short of its planned failure, or with none planned, timed out, and says so; a time-out error is
        the run's own limit, on a task that ran at least that long (in simulated seconds)."""
        status, sim = self.current(), self.sim
        limit = status['settings']['task_timeout']
        for i, (state, progress, error, _) in enumerate(task_states(status)):
            task = sim.tasks[i]
            if state != 'failed':
                continue
            planned = task.fail_at is not None and progress >= task.fail_at
            if not planned or error.startswith('timed out'):
                assert limit is not None and error == timeout_message(limit), f'task {i}: {error!r}, {limit}'
                speed = sim.run.settings.speed  # the simulator's own arithmetic: simulated seconds of the run
                ended, started = task.finished_s * speed, task.started_s * speed
                assert ended >= started + limit, f'task {i} timed out after {ended - started} s, the limit is {limit}'
                TALLY['time_outs_seen'] += 1

    @invariant()
    def per_task_control_changes_no_other_task(self) -> None:
        op = self.op
        if op.one_task is None or op.refused:
            return
        took_the_slot = []
        for i, (before, after) in enumerate(zip(task_states(self.prev), task_states(self.current()), strict=True)):
            if i == op.one_task or before == after:
                continue
            assert op.frees_a_slot and before[0] == 'pending' and after == ('in_progress', 0, None, before[3]), \
                f'{op.name} of task {op.one_task} changed task {i}: {before} -> {after}'
            took_the_slot.append(i)
        assert len(took_the_slot) <= 1, f'{op.name} of task {op.one_task} started {took_the_slot}'
        before, after = self.prev['individual'], self.current()['individual']
        moved = {key for key in before if key != str(op.one_task) and before[key] != after[key]}
        assert moved <= {str(i) for i in took_the_slot}, f'{op.name} changed the entries of {moved}'


def test_random_request_sequences_keep_every_invariant_of_the_api(figures) -> None:
    run_counted(ApiMachine, TALLY, figures, sequences=SEQUENCES, steps=STEPS_PER_SEQUENCE, must_happen=(
        'status_2xx', 'status_4xx', 'started', 'retried', 'resumed', 'completed_runs', 'tasks_cancelled',
        'tasks_retried', 'task_requests_refused', 'stalls_seen', 'time_outs_seen'))

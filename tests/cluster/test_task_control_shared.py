"""Per-task control and hangs with real processes: three `python main.py --redis` behind HAProxy and one real
redis-server. `POST /tasks/{id}/cancel` and `/retry` sent to a board process are carried out by the engine and
answered exactly as one process answers; every other process shows the stalled flag, the cancel and the retry."""
from __future__ import annotations

from typing import Any

import httpx

from taskdemo.control import ControlError, execute
from taskdemo.model import plan_tasks
from taskdemo.settings import RunSettings
from taskdemo.simulator import Simulator

from ..robust.servers import wait_until
from .servers import Cluster
from .test_failover import engine_of, get, start, status

# tasks of 1.5-6 s; half of them hang, half of those for good, until the time limit (7.5 s) ends them
RUN = {'tasks': 40, 'speed': 20.0, 'failure_rate': 0.0, 'stall_rate': 0.5, 'task_timeout': 150.0, 'seed': 41}


def answer(node, path: str) -> tuple[int, dict[str, Any]]:
    response = httpx.post(f'{node.base}{path}', timeout=10)
    return response.status_code, response.json()


def one_process(sim: Simulator, op: str, task_id: int) -> tuple[int, dict[str, Any]]:
    """What one process answers: the reply, or the refusal as its HTTP status and body."""
    try:
        return 200, execute(sim, op, {'task': task_id})
    except ControlError as refused:
        return refused.status, {'detail': refused.detail}


def test_per_task_control_sent_to_a_board_answers_as_one_process_and_shows_everywhere(shared_run: Cluster) -> None:
    engine, _ = engine_of(shared_run)
    board, other = [node for node in shared_run.nodes if node is not engine]
    alone = Simulator(RunSettings(**RUN))  # the same commands on one process, in the same states
    assert answer(board, '/tasks/3/cancel') == one_process(alone, 'cancel_task', 3)  # no run yet: 409
    # the task that hangs for good the soonest: flagged long before its time limit ends it
    for_good = sorted((task for task in plan_tasks(RunSettings(**RUN), RUN['seed'])
                       if task.stall_at is not None and task.stall_for is None),
                      key=lambda task: task.stall_at * task.duration)
    victim, bystander = for_good[0].id, for_good[1].id  # the bystander runs until the time limit, at least
    run_id = start(board, **RUN)['run_id']
    alone.start()
    shown = wait_until(lambda: (s := status(other))['individual'][str(victim)].get('stalled') and s, timeout=10,
                       every=0.02, what=f'task {victim} shows as stalled on another process')
    assert shown['stalled'] >= 1 and shown['individual'][str(victim)]['status'] == 'in_progress'
    assert victim in [entry['id'] for entry in shown['stalled_tasks']]

    expected = one_process(alone, 'cancel_task', victim)
    assert answer(board, f'/tasks/{victim}/cancel') == (200, {**expected[1], 'run_id': run_id})
    assert answer(board, f'/tasks/{victim}/cancel') == one_process(alone, 'cancel_task', victim)  # 409 now
    assert answer(board, f'/tasks/{bystander}/retry') == one_process(alone, 'retry_task', bystander)  # running
    assert answer(board, '/tasks/400/retry') == one_process(alone, 'retry_task', 400)  # no such task: 422
    wait_until(lambda: status(other)['individual'][str(victim)]['status'] == 'cancelled', timeout=5, every=0.02,
               what='the cancel shows on another process')
    after = status(other)
    assert not after['individual'][str(victim)].get('stalled') and after['state'] == 'running'

    expected = one_process(alone, 'retry_task', victim)
    assert answer(board, f'/tasks/{victim}/retry') == (200, {**expected[1], 'run_id': run_id})
    history = wait_until(lambda: (r := get(other, f'/runs/{run_id}')).status_code == 200 and
                         r.json()['tasks'][victim]['attempt'] == 2 and r.json(), timeout=5, every=0.05,
                         what='the retry shows in the history another process reads')
    assert history['tasks'][victim]['status'] in {'in_progress', 'completed', 'failed'}

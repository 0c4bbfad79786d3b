"""A task's details in NiceGUI's simulated browser: Cancel this task asks first and then cancels only that task,
Keep it backs out, Retry this task shows for failed, timed-out and cancelled tasks only, a page without the control
token cannot act, a refusal is told in words, and a stall is told in words (never the plan)."""
from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import pytest
from nicegui.testing import User, user_simulation

from taskdemo.control import LocalCommands
from taskdemo.model import Attempt, Task, stall_after_s
from taskdemo.simulator import Simulator, TaskStatus
from taskdemo.ui.details import TaskDetails, attempt_rows

from .helpers import finish


@dataclass
class Page:
    """What a test holds of the page: its details dialog, and whether the page may control the run."""
    details: list[TaskDetails] = field(default_factory=list)
    allowed: bool = True

    def open(self, task_id: int) -> None:
        self.details[-1].open(task_id)


@pytest.fixture
def page() -> Page:
    return Page()


@pytest.fixture
async def user(sim: Simulator, page: Page) -> AsyncIterator[User]:
    """A page with only the details dialog, wired as the board wires it: it follows every change of `sim` and acts
    through the commands."""
    def root() -> None:
        details = TaskDetails(sim, LocalCommands(sim), may_control=lambda: page.allowed)
        page.details.append(details)
        sim.subscribe(lambda change: details.follow(change.tasks, change.structure))

    async with user_simulation(root=root) as simulated:
        yield simulated


@pytest.fixture
def sim(request: pytest.FixtureRequest, make_sim: Callable[..., Simulator]) -> Simulator:
    return make_sim(**getattr(request, 'param', {'tasks': 8, 'seed': 3}))


def states(sim: Simulator, but: int) -> dict[int, tuple]:
    return {task.id: (task.status, task.progress, task.attempt) for task in sim.tasks if task.id != but}


def shows(user: User, marker: str) -> bool:
    """Whether the page shows the element (the simulated browser finds only what is visible)."""
    try:
        user.find(marker=marker)
    except AssertionError:
        return False
    return True


async def test_cancel_this_task_asks_first_then_cancels_only_that_task_and_the_run_goes_on(user: User, sim, page):
    await user.open('/')
    sim.start()
    sim.step(2)
    page.open(3)
    await user.should_see('Task 3: Running', marker='details-heading')
    assert not shows(user, 'retry-task')
    before = states(sim, but=3)
    user.find('Cancel this task').click()
    await user.should_see('Cancel task 3?')
    await user.should_see('Task 3 ends as cancelled; the other tasks go on. You can retry it afterwards.')
    assert sim.tasks[3].status == TaskStatus.RUNNING, 'asking changes nothing'
    user.find(marker='confirm-cancel').click()
    assert sim.tasks[3].status == TaskStatus.CANCELLED
    assert states(sim, but=3) == before, 'no other task changed'
    assert sim.active, 'the run goes on'
    assert user.notify.contains('Task 3 cancelled; the run goes on.')
    await user.should_see('Task 3: Cancelled', marker='details-heading')
    assert shows(user, 'retry-task') and not shows(user, 'cancel-task'), 'the buttons follow the task'
    sim.step(1)
    assert any(task.progress > before[task.id][1] for task in sim.tasks if task.id != 3)


async def test_keep_it_backs_out_and_changes_nothing(user: User, sim, page):
    await user.open('/')
    sim.start()
    sim.step(2)
    page.open(5)
    user.find('Cancel this task').click()
    confirm = user.find(marker='confirm-cancel-task').elements.pop().parent_slot.parent
    assert confirm.value
    version = sim.version
    user.find(marker='keep-task').click()
    assert not confirm.value
    assert sim.version == version and sim.tasks[5].status == TaskStatus.RUNNING
    await user.should_see('Task 5: Running', marker='details-heading')


@pytest.mark.parametrize('sim', [{'tasks': 12, 'failure_rate': 0.4, 'task_timeout': 80, 'seed': 5}], indirect=True)
async def test_retry_shows_for_failed_timed_out_and_cancelled_tasks_and_not_otherwise(user: User, sim, page):
    await user.open('/')
    sim.start()
    sim.step(1)
    sim.cancel_task(0)
    finish(sim)
    by_status = {status: [task for task in sim.tasks if task.status == status] for status in TaskStatus}
    timed_out = [task for task in by_status[TaskStatus.FAILED] if task.error == 'timed out after 80 s']
    planned = [task for task in by_status[TaskStatus.FAILED] if task.error != 'timed out after 80 s']
    assert timed_out and planned and by_status[TaskStatus.COMPLETED] and by_status[TaskStatus.CANCELLED]
    for task in [timed_out[0], planned[0], by_status[TaskStatus.CANCELLED][0], by_status[TaskStatus.COMPLETED][0]]:
        page.open(task.id)
        await user.should_see(f'Task {task.id}: ', marker='details-heading')
        retryable = task.status != TaskStatus.COMPLETED
        assert shows(user, 'retry-task') == retryable, task
        assert not shows(user, 'cancel-task'), 'the run is over: nothing to cancel'
    page.open(timed_out[0].id)
    await user.should_see('Error: timed out after 80 s', marker='details-facts')  # as any other error reads
    before = states(sim, but=timed_out[0].id)
    user.find('Retry this task').click()
    assert sim.tasks[timed_out[0].id].attempt == 2 and sim.active
    assert states(sim, but=timed_out[0].id) == before, 'no other task changed'
    assert user.notify.contains(f'Task {timed_out[0].id} retried (attempt 2)')
    assert shows(user, 'cancel-task') and not shows(user, 'retry-task'), 'running again: it can be cancelled'


@pytest.mark.parametrize('sim', [{'tasks': 6, 'concurrency': 2, 'seed': 3}], indirect=True)
async def test_a_waiting_task_can_be_cancelled_and_a_completed_one_neither_cancelled_nor_retried(user, sim, page):
    await user.open('/')
    sim.start()
    sim.step(1)
    page.open(5)
    await user.should_see('Task 5: Pending', marker='details-heading')
    user.find('Cancel this task').click()
    user.find(marker='confirm-cancel').click()
    assert sim.tasks[5].status == TaskStatus.CANCELLED and sim.tasks[4].status == TaskStatus.PENDING
    finish(sim)
    done = next(task for task in sim.tasks if task.status == TaskStatus.COMPLETED)
    page.open(done.id)
    await user.should_see(f'Task {done.id}: Completed', marker='details-heading')
    assert not shows(user, 'task-actions')


async def test_without_the_control_token_the_buttons_are_disabled_and_say_why(user: User, sim, page):
    page.allowed = False
    await user.open('/')
    sim.start()
    sim.step(1)
    page.open(2)
    await user.should_see('Enter the control token at the top of the page to cancel or retry this task.')
    button = user.find(marker='cancel-task').elements.pop()
    assert not button.enabled
    page.details[-1]._actions.ask()  # what a click would call, were the button not disabled
    assert not user.find(marker='confirm-cancel-task').elements.pop().parent_slot.parent.value
    page.allowed = True
    sim.step(1)  # the dialog follows the running task, and the page's permission with it
    assert button.enabled
    await user.should_not_see('Enter the control token')


async def test_a_task_that_ended_while_the_question_was_open_is_not_cancelled_and_the_page_says_why(user, sim, page):
    await user.open('/')
    sim.start()
    sim.step(1)
    page.open(1)
    user.find('Cancel this task').click()
    while sim.tasks[1].status == TaskStatus.RUNNING:
        sim.step(1)
    ended = sim.tasks[1].status
    user.find(marker='confirm-cancel').click()
    assert sim.tasks[1].status == ended
    assert [message for message in user.notify.messages
            if re.match(r'Not cancelled: Task 1 has already (completed|failed); only a running or waiting task can be '
                        r'cancelled\.$', message)], user.notify.messages


# task 0 hangs at 17 % for good; task 1 runs on (1 % a second), so the board hears changes while task 0 stands still
@pytest.mark.parametrize('sim', [{'tasks': 2, 'stall_rate': 0.5, 'min_duration': 100, 'max_duration': 100,
                                  'seed': 12}], indirect=True)
async def test_a_stall_is_told_in_words_once_the_rule_flags_it_and_the_plan_never_shows(user: User, sim, page):
    await user.open('/')
    sim.start()
    task = sim.tasks[0]
    hang_at, limit = task.stall_at, stall_after_s(task.duration)
    assert (hang_at, task.stall_for, limit, sim.tasks[1].stall_at) == (17, None, 5.0, None)
    page.open(0)
    facts = user.find(marker='details-facts').elements.pop()
    sim.step(hang_at - 0.5)
    assert not {'stall', 'stalled', 'hang', 'hangs'} & set(re.findall(r'[a-z]+', facts.text.lower())), facts.text
    sim.step(0.5 + limit)  # it has stood still exactly as long as the rule allows: not stalled yet
    assert task.progress == hang_at and 'Stalled' not in facts.text
    sim.step(0.01)
    assert '⚠ Stalled: no progress for 5 s' in facts.text and 'ETA unknown while it is stalled' in facts.text
    assert user.find(marker='details-history').elements.pop().rows[-1]['outcome'] == 'Running, stalled'
    sim.step(12)
    await user.should_see('Stalled: no progress for 17 s', marker='details-facts')  # simulated seconds


@pytest.mark.parametrize('sim', [{'tasks': 2, 'stall_rate': 0.5, 'min_duration': 100, 'max_duration': 100,
                                  'speed': 4, 'seed': 12}], indirect=True)
async def test_the_stall_is_counted_in_simulated_seconds(user: User, sim, page):
    await user.open('/')
    sim.start()
    page.open(0)
    sim.step(17 / 4 + 20 / 4)  # 20 simulated seconds after it stopped moving
    await user.should_see('Stalled: no progress for 20 s', marker='details-facts')


def test_an_earlier_attempt_reads_failed_with_its_error_or_cancelled(sim: Simulator):
    task = Task(id=0, duration=50, status=TaskStatus.RUNNING, attempt=3, started_s=9.0, earlier=[
        Attempt(number=1, duration=40, progress=12, started_s=0.0, finished_s=4.0, error='timed out after 4 s'),
        Attempt(number=2, duration=40, progress=30, started_s=5.0, finished_s=8.0, error=None)])
    outcomes = [row['outcome'] for row in attempt_rows(sim, task)]
    assert outcomes == ['Failed: timed out after 4 s', 'Cancelled', 'Running']


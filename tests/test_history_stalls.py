"""History and stalls: a past run says how many of its tasks timed out and how many stalled, and opening it shows its
timeline with the stalls hatched. The runs come from the simulator, handed over as the store hands them back, and
once through the whole app, its recorder and SQLite."""
from __future__ import annotations

import copy
from collections.abc import AsyncIterator

import pytest
from nicegui.testing import User, user_simulation

from taskdemo.model import RunEvent, Task
from taskdemo.settings import Settings
from taskdemo.simulator import Simulator
from taskdemo.store import RunRow
from taskdemo.ui.history import HistoryPanel, settings_text, stall_counts, stall_text
from taskdemo.ui.timeline_stalls import STALLED

from .helpers import finish
from .test_app import whole_app
from .test_timeline_stalls import PLAN


class Kept:
    """A history of the runs a test finished: each run as the store would give it back."""

    keep_runs = 10

    def __init__(self) -> None:
        self.kept: dict[int, tuple[RunRow, list[Task]]] = {}
        self.kept_events: dict[int, list[RunEvent]] = {}

    def keep(self, sim: Simulator) -> RunRow:
        run, counts = sim.run, sim.counts
        assert run is not None and run.finished
        row = RunRow(id=run.id, started_at=run.started_at, settings=run.settings.as_dict(), seed=run.seed,
                     state=run.state.value, elapsed_s=run.elapsed_s, finished_s=run.finished_s, total=sim.total,
                     completed=counts.completed, failed=counts.failed, cancelled=counts.cancelled)
        self.kept[run.id] = (row, copy.deepcopy(sim.tasks))
        self.kept_events[run.id] = list(sim.events)
        return row

    async def runs(self, limit: int | None = None) -> list[RunRow]:
        return [row for row, _ in reversed(self.kept.values())][:limit]

    async def run(self, run_id: int) -> RunRow | None:
        return self.kept[run_id][0] if run_id in self.kept else None

    async def tasks(self, run_id: int) -> list[Task]:
        return self.kept[run_id][1]

    async def events(self, run_id: int) -> list[RunEvent]:
        return self.kept_events.get(run_id, [])


@pytest.fixture
def history() -> Kept:
    return Kept()


@pytest.fixture
def sim(request: pytest.FixtureRequest, make_sim) -> Simulator:
    return make_sim(**getattr(request, 'param', PLAN))


@pytest.fixture
async def user(history: Kept) -> AsyncIterator[User]:
    async with user_simulation(root=lambda: HistoryPanel(history)) as simulated:
        yield simulated


def finished(sim: Simulator, history: Kept) -> RunRow:
    sim.start()
    finish(sim, dt=0.25)
    return history.keep(sim)


def test_a_run_counts_its_timed_out_and_its_stalled_tasks(sim: Simulator, history: Kept):
    row = finished(sim, history)
    tasks = history.kept[row.id][1]
    # task 2 hung for good and timed out; task 0 hung 6.8 s and moved on; task 1's hang of 4.4 s was too short
    assert stall_counts(row, tasks) == (1, 2)
    assert stall_text(row, tasks) == '1 timed out, 2 stalled'


@pytest.mark.parametrize('sim', [{'tasks': 10, 'failure_rate': 0.3, 'seed': 4}], indirect=True)
def test_a_run_with_neither_time_limit_nor_hangs_says_nothing_of_them(sim: Simulator, history: Kept):
    row = finished(sim, history)
    assert stall_text(row, history.kept[row.id][1]) == ''


async def test_opening_a_past_run_says_it_and_shows_its_timeline_with_the_stalls(user: User, sim, history: Kept):
    row = finished(sim, history)
    await user.open('/')
    user.find(marker='history-table').trigger('open', row.id)
    await user.should_see('1 timed out, 2 stalled', marker='run-stalls')
    chart = user.find(marker='run-timeline').elements.pop()
    series = {entry['id']: entry['data'] for entry in chart.options['series']}
    assert series[STALLED] == [[0, 28.5, 31.9], [2, 11.5, 75.0]], 'as the live timeline drew them'
    assert 'Stalled' in chart.options['legend']['data']


@pytest.fixture
async def stored_user(sim: Simulator, tmp_path) -> AsyncIterator[User]:
    """The whole app on a data folder of its own: the run goes through the recorder into SQLite and back."""
    async with whole_app(sim, Settings(data_dir=tmp_path)) as user:
        yield user


async def test_a_stored_run_keeps_its_time_outs_and_stalls(stored_user: User, sim: Simulator):
    await stored_user.open('/')
    stored_user.find('Start Process').click()
    finish(sim, dt=0.25)
    stored_user.find(marker='history-table').trigger('open', sim.run.id)
    await stored_user.should_see('1 timed out, 2 stalled', marker='run-stalls')
    chart = stored_user.find(marker='run-timeline').elements.pop()
    series = {entry['id']: entry['data'] for entry in chart.options['series']}
    assert series[STALLED] == [[0, 28.5, 31.9], [2, 11.5, 75.0]]


def test_a_runs_settings_name_its_hang_rate_and_time_limit_when_it_had_them():
    settings = {'tasks': 200, 'failure_rate': 0.2, 'min_duration': 30, 'max_duration': 120, 'speed': 10}
    assert settings_text({**settings, 'stall_rate': 0.1, 'task_timeout': 90}, 3) == \
        '200 tasks, 20 % failing, 30-120 s, ×10, 10 % hanging, time limit 90 s, seed 3'
    assert settings_text({**settings, 'stall_rate': 0, 'task_timeout': None}, 3) == \
        '200 tasks, 20 % failing, 30-120 s, ×10, seed 3'

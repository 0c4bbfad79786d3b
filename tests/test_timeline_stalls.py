"""Stalls on the timeline: a hatched segment over the part of a bar where the task stood still longer than the stall
rule allows (to when it moved again, ended, or now while it hangs), none for a shorter hang, and "Stalled" in the
legend only when the chart has one."""
from __future__ import annotations

import pytest
from nicegui.testing import User

from taskdemo.model import Task, TaskStatus
from taskdemo.simulator import Simulator
from taskdemo.ui.timeline import timeline_bars
from taskdemo.ui.timeline_stalls import STALLED, seconds_text, stall_span, stall_words, still_for_s

from .helpers import finish
from .test_panels import open_timeline

# seed 0, 1 % a second at speed 2 (a percent every half second): task 0 hangs at 57 % for 6.8 simulated seconds (a
# stall: longer than 5 s), task 1 at 79 % for 4.4 s (too short to count), task 2 at 23 % for good (until the time
# limit of 150 s fails it), task 3 never
PLAN = {'tasks': 4, 'stall_rate': 0.8, 'min_duration': 100, 'max_duration': 100, 'speed': 2, 'task_timeout': 150,
        'seed': 0}


@pytest.fixture
def sim(request: pytest.FixtureRequest, make_sim) -> Simulator:
    return make_sim(**getattr(request, 'param', PLAN))


def test_the_plan_is_as_the_tests_say(sim: Simulator):
    sim.start()
    hangs = [(task.stall_at, task.stall_for and round(task.stall_for, 1)) for task in sim.tasks]
    assert hangs == [(57, 6.8), (79, 4.4), (23, None), (None, None)]


def test_a_hang_shows_as_a_segment_to_now_once_it_counts_as_a_stall_and_to_its_end_after(sim: Simulator):
    sim.start()
    sim.step(11.5 + 2.5)  # task 2 stopped at 11.5 s (23 %) and has stood still exactly 5 simulated seconds
    assert timeline_bars(sim)[STALLED] == [], 'not longer than the rule allows: no stall yet'
    sim.step(0.01)
    assert timeline_bars(sim)[STALLED] == [[2, 11.5, 14.01]]
    sim.step(5.99)
    assert timeline_bars(sim)[STALLED] == [[2, 11.5, 20.0]], 'while it hangs, to now'
    finish(sim, dt=0.25)
    assert sim.tasks[2].error == 'timed out after 150 s' and sim.tasks[1].stalled_until is not None
    bars = timeline_bars(sim)
    assert bars[STALLED] == [[0, 28.5, 31.9], [2, 11.5, 75.0]], 'recovered: to when it moved; timed out: to its end'
    assert bars['failed'] == [[2, 0.0, 75.0]], 'the segment lies over its bar'


async def test_the_chart_draws_the_stalls_hatched_and_names_them_in_the_legend(user: User, sim: Simulator):
    await user.open('/')
    sim.start()
    finish(sim, dt=0.25)
    chart = open_timeline(user)
    series = {entry['id']: entry for entry in chart.options['series']}
    assert series[STALLED]['data'] == [[0, 28.5, 31.9], [2, 11.5, 75.0]]
    assert series[STALLED]['name'] == 'Stalled' and chart.options['legend']['data'] == ['Completed', 'Failed',
                                                                                         'Stalled']
    decal = series[STALLED]['itemStyle']['decal']
    assert decal['dashArrayY'] and decal['rotation'], 'striped, not a colour alone'
    assert 'decal' in series[STALLED][':renderItem'], 'a custom series draws the decal only when its item asks'
    assert list(series)[-1] == STALLED, 'drawn last: over the bars'


@pytest.mark.parametrize('sim', [{'tasks': 10, 'failure_rate': 0.3, 'seed': 4}], indirect=True)
async def test_a_run_without_hangs_has_no_stalled_in_its_legend(user: User, sim: Simulator):
    await user.open('/')
    sim.start()
    finish(sim)
    chart = open_timeline(user)
    assert 'Stalled' not in chart.options['legend']['data']
    assert next(entry for entry in chart.options['series'] if entry['id'] == STALLED)['data'] == []


def test_the_stall_rule_is_in_simulated_seconds_and_only_the_current_attempt_counts():
    # duration 400: the rule allows 3 * 4 = 12 simulated seconds, 3 real seconds at speed 4
    def task(**fields) -> Task:
        return Task(**{'id': 7, 'duration': 400, 'status': TaskStatus.RUNNING, 'started_s': 0.0, **fields})
    assert stall_span(task(stalled_from=2.0, stalled_until=5.0), now=9, speed=4) is None, 'exactly 12 s: not more'
    assert stall_span(task(stalled_from=2.0, stalled_until=5.5), now=9, speed=4) == (2.0, 5.5)
    assert stall_span(task(stalled_from=2.0), now=4.5, speed=4) is None, 'hanging, 10 s so far'
    assert stall_span(task(stalled_from=2.0, stalled=True), now=5.5, speed=4) == (2.0, 5.5)
    assert stall_span(task(stalled_from=2.0, status=TaskStatus.CANCELLED, finished_s=6.0), now=9, speed=4) == (2, 6)
    assert stall_span(task(), now=9, speed=4) is None, 'it never hung (or the hang was of an earlier attempt)'
    assert still_for_s(task(stalled_from=2.0, stalled=True), now=5.5, speed=4) == 14.0
    assert still_for_s(task(stalled_from=2.0), now=5.5, speed=4) is None, 'not flagged: not stalled'


def test_a_past_stall_is_told_as_what_happened():
    task = Task(id=1, duration=400, status=TaskStatus.COMPLETED, started_s=0.0, finished_s=30.0, progress=100,
                stall_at=40, stall_for=14.0, stalled_from=10.0, stalled_until=13.5)
    assert stall_words(task, now=40, speed=4) == 'Was stalled for 14 s at 40%, then moved on'
    timed_out = Task(id=2, duration=400, status=TaskStatus.FAILED, started_s=0.0, finished_s=22.5, progress=61,
                     stall_at=61, stalled_from=10.0, error='timed out after 90 s')
    assert stall_words(timed_out, now=40, speed=4) == 'Was stalled for 50 s at 61% when it ended'
    short = Task(id=3, duration=400, status=TaskStatus.COMPLETED, started_s=0.0, finished_s=30.0, progress=100,
                 stall_at=40, stall_for=8.0, stalled_from=10.0, stalled_until=12.0)
    assert stall_words(short, now=40, speed=4) is None, 'too short to count: not a stall'
    assert seconds_text(125) == '2 min 5 s' and seconds_text(59.4) == '59 s'

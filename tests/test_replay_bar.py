"""The replay bar in NiceGUI's simulated browser: its keys, its steps from event to event, playing, the announcement
once scrubbing stops, and its marks; then the pure parts (marks binned into one SVG, a link's moment in words).

The run: 50 tasks of 30-120 s at speed 1, seed 7 (tests/conftest.py), which ends at 119.5 s; time moves only through
`sim.step(dt)`. Quasar's slider never sees the keys (the bar takes them first, in the browser), so a test sends the
bar the key a browser would.
"""
from __future__ import annotations

import re

import pytest
from nicegui.testing import User

from taskdemo.replay import Recording, Replay
from taskdemo.simulator import Simulator
from taskdemo.ui import replay_control
from taskdemo.ui.replay_bar import BINS, marks_svg, marks_words
from taskdemo.ui.replay_control import ReplayControl
from taskdemo.ui.replay_text import at_text, link_moment, moment_words

from .helpers import finish
from .test_replay_page import scrub


async def ended(user: User, sim: Simulator) -> None:
    """Open the board and run the run to its end (119.5 s)."""
    await user.open('/')
    user.find('Start Process').click()
    finish(sim)


def press(user: User, key: str) -> None:
    """A key on the slider, as the bar's listener in the browser passes it on ('settled': keys stopped a while)."""
    user.find(marker='replay-track').trigger('keydown.capture', key)


def shown_at(user: User) -> str:
    return user.find(marker='replay-text').elements.pop().text


def replay_of(sim: Simulator) -> Replay:
    return Replay(Recording(sim.run, sim.tasks, list(sim.events), live=True))


async def test_keys_move_a_second_or_ten_and_home_and_end_reach_the_ends(user: User, sim):
    await ended(user, sim)
    press(user, 'Home')
    await user.should_see('Replaying run 1 at 0.0 s', marker='replay-text')
    press(user, 'PageUp')
    await user.should_see('Replaying run 1 at 10.0 s', marker='replay-text')
    assert user.find(marker='replay-slider').elements.pop().value == 10.0, 'the thumb follows'
    press(user, 'ArrowRight')
    await user.should_see('Replaying run 1 at 11.0 s', marker='replay-text')
    press(user, 'ArrowLeft')
    press(user, 'ArrowDown')
    await user.should_see('Replaying run 1 at 9.0 s', marker='replay-text')
    press(user, 'PageDown')
    await user.should_see('Replaying run 1 at 0.0 s', marker='replay-text')
    press(user, 'End')
    await user.should_not_see(marker='replay-banner')  # the end of the current run: the live board
    await user.should_see('Completed! Start over?')


async def test_the_moment_is_announced_once_the_keys_stop_not_at_every_key(user: User, sim):
    await ended(user, sim)
    announcer = user.find(marker='replay-announcer').elements.pop()
    press(user, 'Home')
    press(user, 'PageUp')
    press(user, 'PageUp')
    await user.should_see('Replaying run 1 at 20.0 s', marker='replay-text')
    assert announcer.text == ''
    press(user, 'settled')
    counts = replay_of(sim).at(20.0).counts
    assert counts.running and counts.failed, 'seed 7: some failed and some running at 20 s'
    await user.should_see(f'Run 1 at 20.0 s: {counts.completed} completed, {counts.failed} failed, '
                          f'{counts.running} running', marker='replay-announcer')
    assert announcer.props['aria-live'] == 'polite'


async def test_letting_go_of_the_slider_announces_the_moment(user: User, sim):
    await ended(user, sim)
    scrub(user, 95.0)
    await user.should_see('Replaying run 1 at 95.0 s', marker='replay-text')
    assert user.find(marker='replay-announcer').elements.pop().text == '', 'not while dragging'
    scrub(user, 95.5, release=True)
    await user.should_see('Run 1 at 1 min 36 s: ', marker='replay-announcer')


async def test_steps_land_on_the_moments_something_happened(user: User, sim):
    await ended(user, sim)
    times = [t for t in replay_of(sim).event_times() if t > 0]  # the first one, the start, is at 0
    assert len(times) > 10
    press(user, 'Home')
    await user.should_see('Replaying run 1 at 0.0 s', marker='replay-text')
    user.find(marker='replay-forward').click()
    await user.should_see(f'Replaying run 1 at {times[0]:.1f} s', marker='replay-text')
    user.find(marker='replay-forward').click()
    await user.should_see(f'Replaying run 1 at {times[1]:.1f} s', marker='replay-text')
    assert user.find(marker='replay-slider').elements.pop().value == times[1], 'exactly the moment, not rounded'
    user.find(marker='replay-back').click()
    await user.should_see(f'Replaying run 1 at {times[0]:.1f} s', marker='replay-text')
    user.find(marker='replay-back').click()
    await user.should_see('Replaying run 1 at 0.0 s', marker='replay-text')
    assert not user.find(marker='replay-back').elements.pop().enabled


async def test_a_step_back_from_the_live_board_goes_to_the_last_event(user: User, sim):
    await ended(user, sim)
    assert not user.find(marker='replay-forward').elements.pop().enabled, 'nothing after now'
    times = replay_of(sim).event_times()
    user.find(marker='replay-back').click()
    await user.should_see(f'Replaying run 1 at {times[-2]:.1f} s', marker='replay-text')  # the last: its end


@pytest.fixture
def frames(monkeypatch: pytest.MonkeyPatch) -> None:
    """Playing frames are the test's to move (`ReplayControl.advance`, what the timer calls): its timer's interval
    is made too long to fire during a test."""
    monkeypatch.setattr(replay_control, 'FRAME_S', 3600.0)


def player(user: User) -> ReplayControl:
    """The page's replay control, which the playing timer (there only while playing) calls."""
    timer = user.find(marker='replay-timer').elements.pop()
    assert timer.interval == 3600.0
    return timer.callback.__self__  # type: ignore[union-attr]


async def test_play_moves_on_at_the_speed_chosen_and_stops_at_the_end_of_a_past_run(user: User, sim, frames):
    await ended(user, sim)
    scrub(user, 100.0)
    await user.should_see('Replaying run 1 at 100.0 s', marker='replay-text')
    sim.start()  # a new run (from elsewhere): run 1 is a past run now
    sim.step(1)
    user.find(marker='replay-play').click()
    await user.should_see(marker='replay-timer')
    user.find(marker='replay-speed').elements.pop().value = 10
    control = player(user)
    await control.advance(0.2)
    await user.should_see('Replaying run 1 at 102.0 s', marker='replay-text')
    for _ in range(9):
        await control.advance(0.2)
    await user.should_see('Replaying run 1 at 119.5 s', marker='replay-text')
    await user.should_see('119.5 s of 119.5 s', marker='replay-time')
    await user.should_not_see(marker='replay-timer')
    assert user.find(marker='replay-play').elements.pop().props['aria-label'] == 'Play'


async def test_play_from_the_end_starts_again_and_catches_up_with_the_live_run(user: User, sim, frames):
    await user.open('/')
    user.find('Start Process').click()
    for _ in range(60):
        sim.step(0.5)
    user.find(marker='replay-play').click()
    await user.should_see('Replaying run 1 at 0.0 s', marker='replay-text')
    assert user.find(marker='replay-play').elements.pop().props['aria-label'] == 'Pause'
    control = player(user)
    await control.advance(0.2)
    await user.should_see('Replaying run 1 at 0.2 s', marker='replay-text')
    user.find(marker='replay-speed').elements.pop().value = 60
    await control.advance(0.2)
    await user.should_see('Replaying run 1 at 12.2 s', marker='replay-text')
    sim.step(10)  # the run goes on meanwhile: 40 s now
    await control.advance(0.2)
    await control.advance(0.2)
    await user.should_see('Replaying run 1 at 36.2 s', marker='replay-text')
    await control.advance(0.2)  # 48.2 s would be past now: live
    await user.should_not_see(marker='replay-banner')
    await user.should_not_see(marker='replay-timer')
    assert user.find(marker='replay-play').elements.pop().props['aria-label'] == 'Play'


async def test_pause_stops_the_timer_where_it_is(user: User, sim, frames):
    await ended(user, sim)
    user.find(marker='replay-play').click()
    await user.should_see('Replaying run 1 at 0.0 s', marker='replay-text')
    user.find(marker='replay-speed').elements.pop().value = 10
    await player(user).advance(0.2)
    user.find(marker='replay-play').click()
    await user.should_not_see(marker='replay-timer')
    await user.should_see('Replaying run 1 at 2.0 s', marker='replay-text')
    assert user.find(marker='replay-play').elements.pop().props['aria-label'] == 'Play'


async def test_the_marks_show_the_runs_failures_under_the_slider(user: User, sim):
    await ended(user, sim)
    marks = user.find(marker='replay-marks').elements.pop().content
    failures = sum(1 for _, kind in replay_of(sim).markers() if kind == 'failure')
    assert failures == sim.counts.failed > 0
    assert 'class="mark-failure"' in marks and f'{failures} failures (red)' in marks
    assert 'role="img"' in marks


# ---- the pure parts -----------------------------------------------------------------------------------------------

def test_thousands_of_marks_are_counted_into_one_svg_with_at_most_a_bar_per_slot():
    markers = [(i * 0.01, 'failure') for i in range(10_000)] + [(50.0, 'cancel'), (20.0, 'stall'), (70.0, 'retry')]
    svg = marks_svg(sorted(markers), 100.0)
    failure_path = re.search(r'class="mark-failure" d="([^"]*)"', svg).group(1)
    assert failure_path.count('M') == BINS, 'one bar per slot, however many failures'
    assert svg.count('<path') == 4 and svg.startswith('<svg') and svg.endswith('</svg>')
    assert 'M100.2 0h0.6v10h-0.6z' in svg, 'the cancel: a full-height line in its slot'
    assert len(svg) < 10_000
    assert marks_svg([], 100.0) == '' and marks_svg(markers, 0.0) == ''


def test_the_marks_legend_counts_each_kind_with_its_colour():
    assert marks_words([(1, 'failure'), (2, 'failure'), (3, 'cancel'), (4, 'interrupted')]) == \
        'Marks on the time line: 2 failures (red), 1 cancel (grey), 1 stop (purple)'
    assert marks_words([]) == 'No marks on the time line'


def test_a_link_names_a_run_and_a_moment_and_says_what_is_wrong_with_a_bad_one():
    assert link_moment({}) == (None, None, None)
    assert link_moment({'run': '12', 'at': '95.5'}) == (12, 95.5, None)
    assert link_moment({'run': '12'}) == (12, None, None)
    assert link_moment({'run': '0'})[2] == 'The link\'s run must be a run number, not "0": showing the live board.'
    assert link_moment({'run': '12', 'at': 'nan'})[:2] == (12, None)
    assert link_moment({'run': '12', 'at': '-3'})[2].startswith('The link\'s moment (at) must be seconds')
    assert link_moment({'at': '3'})[2] == 'The link gives a moment (at) but no run: showing live.'


def test_a_moment_in_a_link_is_exact_and_short():
    assert at_text(95.5) == '95.5' and at_text(120.0) == '120' and at_text(37.48372619) == '37.48372619'


def test_the_moment_in_words(sim):
    sim.start()
    sim.step(40)
    counts = sim.counts
    assert moment_words(sim) == (f'Run 1 at 40.0 s: {counts.completed} completed, {counts.failed} failed, '
                                 f'{counts.running} running')

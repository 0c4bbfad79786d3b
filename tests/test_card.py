"""What a card shows and how it looks: words and icons for every state, and AA contrast in light and dark."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from taskdemo.simulator import Task, TaskStatus
from taskdemo.ui.card import ICONS, WORDS, card_view

CSS = (Path(__file__).resolve().parent.parent / 'taskdemo' / 'ui' / 'board.css').read_text()


def luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted((luminance(a), luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def card_colours(prefix: str) -> dict[str, tuple[str, str]]:
    colour = '(#[0-9a-f]{6})'
    rule = rf'^{re.escape(prefix)}\.task-(\w+)\s*{{\s*background: {colour}; color: {colour};'
    pattern = re.compile(rule, re.MULTILINE)
    return {status: (background, text) for status, background, text in pattern.findall(CSS)}


@pytest.mark.parametrize('prefix', ['', 'body.body--dark '])
def test_every_state_has_its_colours_and_its_text_meets_wcag_aa(prefix):
    colours = card_colours(prefix)
    assert set(colours) == {status.value for status in TaskStatus}
    for status, (background, text) in colours.items():
        assert contrast(background, text) >= 4.5, f'{prefix}{status}: {contrast(background, text):.2f}'


def test_the_contrast_formula_matches_known_pairs():
    assert contrast('#000000', '#ffffff') == pytest.approx(21)
    assert contrast('#767676', '#ffffff') == pytest.approx(4.54, abs=0.01)


@pytest.mark.parametrize('status', list(TaskStatus))
def test_each_state_shows_number_icon_and_word(status):
    task = Task(id=12, status=status, progress=37, error='boom' if status == TaskStatus.FAILED else None)
    view = card_view(task, elapsed_s=4.25)
    assert '#12' in view.html and ICONS[status] in view.html and WORDS[status] in view.html
    assert f'task-{status.value}' in view.classes
    assert view.title.startswith(f'Task 12: {WORDS[status]} · 37% · 4.2 s')
    assert ('37%' in view.html) == (status in {TaskStatus.RUNNING, TaskStatus.INTERRUPTED})


def test_the_icon_is_hidden_from_screen_readers_which_read_the_word():
    view = card_view(Task(id=1, status=TaskStatus.COMPLETED, progress=100), elapsed_s=None)
    assert f'<span class="task-icon" aria-hidden="true">{ICONS[TaskStatus.COMPLETED]}</span>' in view.html


def test_a_failed_card_carries_its_error_in_the_tooltip():
    task = Task(id=3, status=TaskStatus.FAILED, progress=40, error='Simulated failure for task 3 at 40%')
    assert card_view(task, elapsed_s=10).title.endswith('\nSimulated failure for task 3 at 40%')


def test_reduced_motion_switches_the_transitions_off():
    block = CSS[CSS.index('@media (prefers-reduced-motion: reduce)'):]
    assert 'transition: none' in block and 'transform: none' in block

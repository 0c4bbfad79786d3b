"""How cards look: every state has colours, its text meets WCAG AA in light and dark, motion can be turned off."""
from __future__ import annotations

import re

import pytest

from taskdemo.simulator import TaskStatus
from taskdemo.ui.page import CSS  # every style sheet the page loads, as it loads them


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


def test_reduced_motion_switches_the_transitions_off():
    block = CSS[CSS.index('@media (prefers-reduced-motion: reduce)'):]
    assert 'transition: none' in block and 'transform: none' in block


def test_a_stall_says_it_with_a_word_and_an_icon_whose_colours_meet_wcag_aa():
    """The stalled cards' badge and the Stalled counter: amber with dark text, and an hourglass drawn from their
    data-icon by the Material Icons font; the running card's white text stays readable on the stall's stripes."""
    for selector in ('.task-state.task-stall {', '.stalled-count {'):
        rule = CSS[CSS.index(selector):]
        background, text = re.search(r'background: (#[0-9a-f]{6}); color: (#[0-9a-f]{6})', rule).groups()
        assert contrast(background, text) >= 4.5, f'{selector} {contrast(background, text):.2f}'
    for selector in ('.task-stall::before {', '.stalled-count::before {'):
        rule = CSS[CSS.index(selector):CSS.index('}', CSS.index(selector))]
        assert "content: attr(data-icon); font-family: 'Material Icons'" in rule
    red, green, blue, alpha = map(float, re.search(r'rgb\((\d+) (\d+) (\d+) / ([\d.]+)\) 8px 16px', CSS).groups())
    running = card_colours('')['in_progress'][0]
    under = [int(running[i:i + 2], 16) for i in (1, 3, 5)]
    stripe = '#' + ''.join(f'{round(alpha * top + (1 - alpha) * bottom):02x}'
                           for top, bottom in zip((red, green, blue), under, strict=True))
    assert contrast(stripe, '#ffffff') >= 4.5, f'{stripe}: {contrast(stripe, "#ffffff"):.2f}'

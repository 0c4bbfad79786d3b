"""What the replay says and reads in words: a link's run and moment (`?run=12&at=95.5`), a moment as a link gives it,
and a moment of a run as the screen reader hears it."""
from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..view import RunView
from .summary import format_duration


def link_moment(query: Mapping[str, str]) -> tuple[int | None, float | None, str | None]:
    """The run and the moment a link asks for (`?run=12&at=95.5`), and what was wrong with it, in words (the board
    then shows what it can: the live board, or the run's end)."""
    run_text, at_text_ = query.get('run'), query.get('at')
    if run_text is None:
        return None, None, None if at_text_ is None else 'The link gives a moment (at) but no run: showing live.'
    try:
        run_id = int(run_text)
    except ValueError:
        run_id = 0
    if run_id < 1:
        return None, None, f'The link\'s run must be a run number, not "{run_text[:40]}": showing the live board.'
    if at_text_ is None:
        return run_id, None, None
    at = number(at_text_)
    if at is None or at < 0:
        return run_id, None, (f'The link\'s moment (at) must be seconds since the run started, not '
                              f'"{at_text_[:40]}": showing the end of run {run_id}.')
    return run_id, at, None


def moment_words(view: RunView) -> str:
    """'Run 12 at 1 min 35 s: 40 completed, 5 failed, 12 running' (and the cancelled, interrupted and stalled
    tasks, when there are any)."""
    run, counts = view.run, view.counts
    assert run is not None
    parts = [f'{counts.completed:,} completed', f'{counts.failed:,} failed', f'{counts.running:,} running']
    parts += [f'{count:,} {word}' for count, word in ((counts.cancelled, 'cancelled'),
                                                      (counts.interrupted, 'interrupted'),
                                                      (len(view.stalled_ids), 'stalled')) if count]
    return f'Run {run.id} at {format_duration(run.elapsed_s)}: {", ".join(parts)}'


def seconds(value: float) -> str:
    return f'{value:,.1f} s'


def at_text(value: float) -> str:
    """A moment as a link gives it: exactly (an event's moment rounded down would show the board before it)."""
    return repr(float(value)).removesuffix('.0')


def number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None

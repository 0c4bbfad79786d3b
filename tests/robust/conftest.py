"""The reliability suite (issue #8): every test records the figures it measured with `figures`, and they are
printed together at the end of the run (and written to artifacts/robust-figures.json) so that the README's
reliability section can be reproduced with one command."""
from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

FIGURES: dict[str, dict[str, Any]] = {}
OUT = Path(__file__).resolve().parents[2] / 'artifacts' / 'robust-figures.json'


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Callable[..., None]:
    """`figures(requests=1000, rss_mb_before=80.1, ...)`: record what this test measured."""
    recorded = FIGURES.setdefault(request.node.name, {})

    def record(**values: Any) -> None:
        recorded.update(values)
    return record


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section('reliability figures')
    for test, values in FIGURES.items():
        shown = ', '.join(f'{name}={value}' for name, value in values.items())
        terminalreporter.write_line(f'{test}: {shown}')
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(FIGURES, indent=2, default=str))

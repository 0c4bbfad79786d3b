"""Cluster fixtures: Redis and HAProxy as real processes of the test (servers.py), taskdemo nodes behind the balancer.

Without redis-server or haproxy these tests skip and say how to install them; with CI set they fail instead, so a CI
machine that lost them cannot pass by skipping (as tests/e2e does for Chromium). The figures the tests measure are
printed at the end of the run and written to artifacts/cluster-figures.json.
"""
from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from ..environment import require
from ..helpers import ROOT
from .servers import Cluster, RedisServer, missing, start_cluster

FIGURES: dict[str, dict[str, Any]] = {}
FIGURES_OUT = ROOT / 'artifacts' / 'cluster-figures.json'


def require_redis() -> None:
    require(missing('redis-server'))
    try:
        import redis  # noqa: F401
    except ImportError:
        require("redis-py is not installed: pip install -e '.[test]'")


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A Redis of the test's own, AOF on, in tmp_path/redis."""
    require_redis()
    with RedisServer(tmp_path / 'redis') as server:
        yield server


@pytest.fixture(scope='module')
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Three `python main.py` behind the balancer, shared by a module's tests that harm none of them."""
    with _cluster(tmp_path_factory.mktemp('cluster')) as running:
        yield running


@pytest.fixture
def own_cluster(tmp_path: Path) -> Iterator[Cluster]:
    """A cluster of the test's own, for a test that kills its nodes."""
    with _cluster(tmp_path) as running:
        yield running


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Callable[..., None]:
    """`figures(redispatch_s=0.01, ...)`: record what this test measured."""
    recorded = FIGURES.setdefault(request.node.name, {})
    return recorded.update


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    terminalreporter.section('cluster figures')
    for test, values in FIGURES.items():
        terminalreporter.write_line(f'{test}: ' + ', '.join(f'{name}={value}' for name, value in values.items()))
    FIGURES_OUT.parent.mkdir(exist_ok=True)
    FIGURES_OUT.write_text(json.dumps(FIGURES, indent=2, default=str))


@contextlib.contextmanager
def _cluster(folder: Path) -> Iterator[Cluster]:
    """Today's nodes (without --redis: each has a run of its own, which the balancer tests do not mind)."""
    require(missing('haproxy'))
    with start_cluster(folder) as running:
        yield running
    for node in running.nodes:
        assert 'Traceback' not in node.log(), node.log()


@pytest.fixture
def shared_run(tmp_path: Path, redis_server: RedisServer) -> Iterator[Cluster]:
    """Three nodes sharing one run through the test's own Redis (`--redis`), behind the balancer."""
    require(missing('haproxy'))
    with start_cluster(tmp_path, '--redis', redis_server.url) as running:
        yield running
    for node in running.nodes:
        assert 'Traceback' not in node.log(), node.log()

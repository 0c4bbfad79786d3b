"""What a page says about its cluster: the footer line from GET /cluster's view, and the banner and notice in a
simulated browser, driven by a stand-in for the process's state (the real one is tested with real processes in
tests/cluster)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nicegui.testing import user_simulation

from taskdemo.control import LocalCommands
from taskdemo.ui import cluster_bar
from taskdemo.ui.cluster_bar import MOVED_NOTICE_S, footer_line
from taskdemo.ui.page import create_root

VIEW = {'engine': 'host:8082', 'epoch': 4, 'viewers': 12, 'processes': [
    {'id': 'host:8081', 'role': 'board', 'behind_versions': 1, 'behind_s': 0.25},
    {'id': 'host:8082', 'role': 'engine', 'behind_versions': 0, 'behind_s': 0.0},
]}


def test_the_footer_names_the_engine_its_epoch_and_how_far_behind_this_page_is():
    assert footer_line('host:8081', 'board', VIEW) == \
        'Cluster: 2 processes · run advanced by host:8082 (epoch 4) · this page from host:8081, 1 version ' \
        '(0.2 s) behind · 12 watching'
    current = {**VIEW, 'processes': [{**VIEW['processes'][0], 'behind_versions': 0}, VIEW['processes'][1]]}
    assert footer_line('host:8081', 'board', current).split(' · ')[2] == 'this page from host:8081, up to date'
    assert footer_line('host:8082', 'engine', VIEW).split(' · ')[2] == 'this page from that process'
    assert footer_line('host:8081', 'board', {**VIEW, 'engine': None}).split(' · ')[1] == 'no engine right now'
    assert footer_line('host:8081', 'board', {}) == 'Cluster: this page from host:8081; waiting for news of the others'


@dataclass
class Node:
    id: str = 'host:8081'
    role: str = 'board'
    view: dict[str, Any] = field(default_factory=lambda: dict(VIEW))
    moved_at: float | None = None
    down_since_text: str | None = None


async def test_the_banner_and_the_notice_come_and_go_with_the_processs_state(make_sim, clock, monkeypatch) -> None:
    monkeypatch.setattr(cluster_bar, 'REFRESH_S', 0.05)
    monkeypatch.setattr(cluster_bar, 'now', clock)
    sim = make_sim(seed=1)
    node = Node()
    async with user_simulation(root=create_root(sim, LocalCommands(sim), cluster=node)) as user:
        await user.open('/')
        await user.should_see('Cluster: 2 processes')
        await user.should_not_see('Live updates paused')
        node.down_since_text = '12:03:04'
        await user.should_see('Live updates paused: cannot reach Redis since 12:03:04', retries=30)
        node.down_since_text = None
        node.moved_at = clock()
        await user.should_see('The run moved to another process (host:8082)', retries=30)
        await user.should_not_see('Live updates paused', retries=30)
        clock.advance(MOVED_NOTICE_S + 1)
        await user.should_not_see('The run moved to another process', retries=30)

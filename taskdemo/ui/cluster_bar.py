"""What a page says about the cluster it is served by (cluster mode only): a banner while Redis cannot be reached,
a notice for a few seconds after the run moved to another process, and a footer line with the processes, which
one advances the run, and how far behind this one is. Read once a second from what this process already knows;
no page asks Redis anything."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, Protocol

from nicegui import ui

MOVED_NOTICE_S = 6.0
now = time.time  # the wall clock, as the cluster's processes stamp their news (tests put their own)
REFRESH_S = 1.0


class ClusterState(Protocol):
    """What the page needs from a cluster process (taskdemo.cluster.node.ClusterNode)."""

    id: str
    view: dict[str, Any]

    @property
    def role(self) -> str: ...

    @property
    def moved_at(self) -> float | None: ...

    @property
    def down_since_text(self) -> str | None: ...


class ClusterBanner:
    """The banner and the notice, made inside the page's sticky header."""

    def __init__(self, node: ClusterState) -> None:
        self._node = node
        self.banner = ui.label().classes('cluster-banner w-full').props('role=alert').mark('cluster-banner')
        self.notice = ui.label().classes('cluster-notice w-full').props('role=status').mark('cluster-notice')
        self.update()

    def update(self) -> None:
        since = self._node.down_since_text
        self.banner.text = '' if since is None else \
            f'Live updates paused: cannot reach Redis since {since}. The board shows the last state it had.'
        self.banner.visible = since is not None
        moved = self._node.moved_at
        fresh = moved is not None and now() - moved < MOVED_NOTICE_S
        engine = self._node.view.get('engine')
        self.notice.text = ('The run moved to another process' + (f' ({engine})' if engine else '') +
                            '; it goes on from where it was.') if fresh else ''
        self.notice.visible = fresh


class ClusterFooter:
    """One line at the foot of the page, and a link to `GET /cluster` for the whole table."""

    def __init__(self, node: ClusterState) -> None:
        self._node = node
        with ui.row().classes('cluster-footer w-full items-center gap-2').mark('cluster-footer'):
            self.line = ui.label()
            ui.link('details', '/cluster', new_tab=True).props('aria-label="Cluster details (JSON)"')
        self.update()

    def update(self) -> None:
        self.line.text = footer_line(self._node.id, self._node.role, self._node.view)


def footer_line(node_id: str, role: str, view: dict[str, Any]) -> str:
    processes = view.get('processes') or []
    if not processes:
        return f'Cluster: this page from {node_id}; waiting for news of the others'
    me = next((p for p in processes if p['id'] == node_id), None)
    engine = view.get('engine')
    parts = [f'Cluster: {len(processes)} process{"es" if len(processes) != 1 else ""}',
             f'run advanced by {engine} (epoch {view.get("epoch")})' if engine else 'no engine right now']
    if role == 'engine':
        parts.append('this page from that process')
    elif me is not None and me.get('behind_versions') == 0:
        parts.append(f'this page from {node_id}, up to date')
    elif me is not None and me.get('behind_versions') is not None:
        behind = me['behind_versions']
        parts.append(f'this page from {node_id}, {behind:,} version{"s" if behind != 1 else ""} '
                     f'({me["behind_s"]:.1f} s) behind')
    else:
        parts.append(f'this page from {node_id}')
    parts.append(f'{view.get("viewers", 0):,} watching')
    return ' · '.join(parts)


def cluster_parts(node: ClusterState) -> Callable[[], None]:
    """Make the banner (call inside the header) and return a function that makes the footer; both refresh once a
    second."""
    banner = ClusterBanner(node)

    def footer() -> None:
        bottom = ClusterFooter(node)
        ui.timer(REFRESH_S, lambda: (banner.update(), bottom.update()))
    return footer

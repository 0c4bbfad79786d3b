"""Who is watching, across the cluster (issue 17): the viewers of every process add up on every process, through the
reports each one writes to Redis about once a second."""
from __future__ import annotations

import time

import httpx
from websockets.sync.client import connect

from ..robust.servers import wait_until
from .servers import Cluster


def viewers(base: str) -> dict[str, int]:
    return httpx.get(f'{base}/status', timeout=10).json()['viewers']


def test_a_listener_on_one_process_is_counted_on_every_other(shared_run: Cluster, figures) -> None:
    a, b, c = shared_run.nodes
    before = viewers(b.base)['streams']
    with connect(a.base.replace('http', 'ws') + '/ws', open_timeout=10) as listener:
        listener.recv(timeout=10)  # the first frame: it is listening
        began = time.monotonic()
        for node in (a, b, c):
            wait_until(lambda node=node: viewers(node.base)['streams'] == before + 1, timeout=10, every=0.1,
                       what=f'{node.base} counts the listener on {a.base}')
        counted_s = time.monotonic() - began
        processes = {p['port']: p for p in httpx.get(f'{b.base}/cluster', timeout=10).json()['processes']}
        assert processes[a.port]['streams'] >= 1 and processes[a.port]['viewers'] >= 1, processes
        total = viewers(c.base)
        assert total['total'] == total['pages'] + total['streams']
    wait_until(lambda: viewers(c.base)['streams'] == before, timeout=10, every=0.1, what='the listener gone')
    figures(counted_on_every_process_s=round(counted_s, 2))

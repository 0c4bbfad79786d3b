"""Who did what, across the cluster (issue 17): a command sent to one process is carried out by the engine with its
source, and the event reaches every other process's activity through Redis (a reset too: it is the run's last
event, written before the board is cleared)."""
from __future__ import annotations

import httpx

from ..robust.servers import wait_until
from .servers import Cluster
from .test_failover import engine_of, get, start


def newest(node, run_id: int) -> list[tuple[str, str]]:
    entries = get(node, '/activity', params={'limit': 50}).json()['entries']
    return [(entry['kind'], entry['by']) for entry in entries if entry['run_id'] == run_id]


def test_an_action_on_one_process_shows_in_the_activity_of_every_other(shared_run: Cluster, figures) -> None:
    a, b, c = shared_run.nodes
    engine_of(shared_run)
    run_id = start(a, speed=1.0)['run_id']  # long tasks: still running when it is reset
    for node in (b, c):
        wait_until(lambda node=node: newest(node, run_id) == [('start', 'API from 127.0.0.1')], timeout=10,
                   every=0.1, what=f'{node.base} lists the start made on {a.base}')
    assert httpx.post(f'{b.base}/reset', timeout=10).status_code == 200
    expected = [('reset', 'API from 127.0.0.1'), ('cancel', 'API from 127.0.0.1'), ('start', 'API from 127.0.0.1')]
    for node in (a, c):
        wait_until(lambda node=node: newest(node, run_id) == expected, timeout=10, every=0.1,
                   what=f'{node.base} lists the reset made on {b.base}')
    kept = get(c, f'/runs/{run_id}').json()['activity']
    assert [entry['kind'] for entry in kept] == ['start', 'cancel', 'reset'], 'stored with the run in Redis'
    figures(entries_checked=len(expected))

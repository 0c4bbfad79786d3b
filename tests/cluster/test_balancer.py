"""deploy/haproxy.cfg in front of three real `python main.py` processes (today's, without --redis: each has its own
run, which nothing here looks at). What the balancer must get right for NiceGUI: a page and its socket.io connection
reach the same process (the TASKDEMO_NODE cookie), a dead node's cookie is served by a live node, /ws needs nothing.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections import Counter

import httpx
import socketio
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from ..environment import require
from ..helpers import ROOT
from ..robust.servers import SOCKET_PATH, Page, load_page, wait_until
from .servers import HAPROXY_CONFIG, NODE_COOKIE, NODE_HEADER, NODE_NAMES, PROCFILE, Balancer, Cluster, missing, program

VISITS = 50
AT_ONCE = 10  # visits in flight together, as tabs opening at the same time


async def test_every_page_reaches_its_own_process_through_the_balancer(cluster: Cluster, figures) -> None:
    """50 page visits, each GET / and then that page's socket.io connection with the cookie the balancer set: no
    connection reaches a process that does not know its page, and the pages are spread over the nodes. Half connect
    as nicegui.js does by default (a websocket at once), half as its fallback does (polling, then the upgrade: several
    HTTP requests that must all reach the same process)."""
    gate = asyncio.Semaphore(AT_ONCE)

    async def one(index: int) -> tuple[str, str | None]:
        async with gate, httpx.AsyncClient(timeout=10) as browser:
            page = await load_page(browser, cluster.balancer.base)
            node = browser.cookies.get(NODE_COOKIE)
            assert node in NODE_NAMES, f'the page came without a {NODE_COOKIE} cookie: {browser.cookies}'
            transports = ['websocket'] if index % 2 else ['polling', 'websocket']
            try:
                await connect_page(cluster.balancer.base, page, transports, cookie=f'{NODE_COOKIE}={node}')
            except socketio.exceptions.ConnectionError as error:
                return node, f'{transports}: {error}'
            return node, None

    started = time.monotonic()
    async with asyncio.timeout(60):
        results = await asyncio.gather(*(one(index) for index in range(VISITS)))
    failures = [failure for _, failure in results if failure]
    spread = Counter(node for node, _ in results)
    figures(visits=VISITS, seconds=round(time.monotonic() - started, 2), failures=len(failures), spread=dict(spread))
    assert not failures, failures[:5]
    assert len(spread) > 1, f'every page went to one node: {spread}'


async def test_without_the_cookie_a_page_socket_goes_astray(cluster: Cluster, figures) -> None:
    """The control for the test above: the same visits without the cookie are refused whenever the balancer sends
    the socket to another process than the page (here most of the time), so a pass there is the cookie's work."""
    refused = 0
    async with asyncio.timeout(30):
        for _ in range(6):
            async with httpx.AsyncClient(timeout=10) as browser:
                page = await load_page(browser, cluster.balancer.base)
            try:
                await connect_page(cluster.balancer.base, page, ['websocket'], cookie=None)
            except socketio.exceptions.ConnectionError:
                refused += 1
    figures(visits=6, refused_without_cookie=refused)
    assert refused > 0, 'every socket found its page without the cookie: the test above would prove nothing'


def test_the_cookie_pins_a_session_to_its_node(cluster: Cluster) -> None:
    """The first response sets the cookie (HttpOnly, SameSite=Lax, for the browser session only); every request that
    carries it is answered by that node, and it is not set again. Requests without it go to any node."""
    balancer = cluster.balancer
    with httpx.Client(base_url=balancer.base, timeout=10) as browser:
        first = browser.get('/')
        node = balancer.node_of(first)
        set_cookie = first.headers['set-cookie']
        assert set_cookie.startswith(f'{NODE_COOKIE}={node};'), set_cookie
        assert {'httponly', 'samesite=lax'} <= {part.strip().lower() for part in set_cookie.split(';')}, set_cookie
        assert 'expires' not in set_cookie.lower() and 'max-age' not in set_cookie.lower(), set_cookie
        for path in ['/', '/status', '/favicon.ico', '/status', '/'] * 4:
            response = browser.get(path)
            assert response.status_code == 200, (path, response.status_code)
            assert balancer.node_of(response) == node, f'{path} was answered by {balancer.node_of(response)}'
            assert 'set-cookie' not in response.headers, f'{path}: the cookie was set again'
    without_cookie = [httpx.get(f'{balancer.base}/favicon.ico', timeout=10) for _ in range(9)]
    assert len({balancer.node_of(response) for response in without_cookie}) > 1, 'all on one node without the cookie'


async def test_ws_needs_no_cookie(cluster: Cluster) -> None:
    """/ws (the plain WebSocket API) through the balancer, without any cookie: each viewer gets its first full frame,
    and viewers open at the same time are spread over the nodes (leastconn)."""
    url = cluster.balancer.base.replace('http', 'ws', 1) + '/ws'
    async with asyncio.timeout(20):
        async with connect(url, open_timeout=10) as one, connect(url, open_timeout=10) as two, \
                connect(url, open_timeout=10) as three:
            frames = [json.loads(await asyncio.wait_for(viewer.recv(), 10)) for viewer in (one, two, three)]
            nodes = {viewer.response.headers[NODE_HEADER] for viewer in (one, two, three)}
    assert all(frame['total'] == 50 and len(frame['individual']) == 50 for frame in frames), frames[0]
    assert len(nodes) > 1, f'three viewers at once all on {nodes}'


def test_a_dead_nodes_cookie_is_served_by_a_live_node(own_cluster: Cluster, figures) -> None:
    """kill -9 of the node a cookie names: the next request with that cookie is answered by another node at once
    (redispatch, before any health check has noticed) and re-pins the browser there. A node killed with no traffic
    going to it is taken out by the health checks alone."""
    balancer = own_cluster.balancer
    with httpx.Client(base_url=balancer.base, timeout=10) as browser:
        pinned = balancer.node_of(browser.get('/'))
        own_cluster.node(pinned).stop(kill=True)
        killed = time.monotonic()
        response = wait_until(lambda: _answered(browser, '/favicon.ico'), timeout=5, every=0.05,
                              what=f'a request with the cookie of the killed node {pinned} answered')
        redispatch_s = time.monotonic() - killed
        moved_to = balancer.node_of(response)
        assert moved_to != pinned
        assert browser.cookies.get(NODE_COOKIE) == moved_to, 'the browser was not re-pinned to its new node'
        pinned_down_s = _seconds_until_down(balancer, pinned, since=killed)  # at most this (polled from now)
        asyncio.run(_visit(balancer.base, browser.cookies.get(NODE_COOKIE)))  # a whole page works there

        # The second kill: nothing is sent to it, only the health checks can see it go.
        quiet = next(name for name in NODE_NAMES if name not in {pinned, moved_to})
        own_cluster.node(quiet).stop(kill=True)
        killed = time.monotonic()
        checks_only_s = _seconds_until_down(balancer, quiet, since=killed)
        survivor = balancer.node_of(browser.get('/favicon.ico'))
        assert survivor == moved_to
    figures(redispatch_s=round(redispatch_s, 3), down_after_traffic_s=round(pinned_down_s, 2),
            down_by_checks_alone_s=round(checks_only_s, 2))
    assert checks_only_s < 2, f'the health checks took {checks_only_s:.2f} s to take a dead node out'


async def test_a_hung_node_is_taken_out_and_its_websockets_are_cut(own_cluster: Cluster, figures) -> None:
    """A node that stops answering (SIGSTOP: its port still takes connections) fails its checks by timeout and is
    taken out; its open websockets are cut then (on-marked-down shutdown-sessions), so that their clients reconnect
    to a live node instead of waiting on a frozen one; its cookie is served elsewhere."""
    balancer = own_cluster.balancer
    url = balancer.base.replace('http', 'ws', 1) + '/ws'
    async with asyncio.timeout(20), connect(url, open_timeout=10) as viewer:
        await asyncio.wait_for(viewer.recv(), 10)
        name = viewer.response.headers[NODE_HEADER]
        frozen = own_cluster.node(name).process
        os.kill(frozen.pid, signal.SIGSTOP)
        try:
            stopped = time.monotonic()
            with contextlib.suppress(ConnectionClosed):
                while True:  # frames sent before the stop, if any; then the cut
                    await asyncio.wait_for(viewer.recv(), 6)
            cut_s = time.monotonic() - stopped
            assert any(f'Server nodes/{name} is DOWN' in line for line in balancer.down_lines()), balancer.log()
            response = httpx.get(f'{balancer.base}/favicon.ico', cookies={NODE_COOKIE: name}, timeout=5)
            assert response.status_code == 200 and balancer.node_of(response) != name
        finally:
            os.kill(frozen.pid, signal.SIGCONT)
    figures(hung_node_out_and_websocket_cut_s=round(cut_s, 2))
    assert cut_s < 4, f'a hung node was taken out after {cut_s:.2f} s'


def test_haproxy_accepts_the_config_with_the_ports_of_deploy_env() -> None:
    """`haproxy -c` with deploy/.env's ports: valid, not a single warning. Without the ports: a message that names
    them, not a confusing parse error."""
    require(missing('haproxy'))
    env = {**os.environ, **_dotenv()}
    checked = subprocess.run([program('haproxy'), '-c', '-f', str(HAPROXY_CONFIG)], env=env, cwd=ROOT,
                             capture_output=True, text=True, timeout=30)
    output = checked.stdout + checked.stderr
    assert checked.returncode == 0 and 'Configuration file is valid' in output, output
    assert 'WARNING' not in output and 'ALERT' not in output, output
    unset = {key: value for key, value in env.items() if key != 'TASKDEMO_NODE_B_PORT'}
    refused = subprocess.run([program('haproxy'), '-c', '-f', str(HAPROXY_CONFIG)], env=unset, cwd=ROOT,
                             capture_output=True, text=True, timeout=30)
    assert refused.returncode != 0 and 'set TASKDEMO_LB_PORT' in refused.stderr, refused.stderr


def test_honcho_accepts_the_procfile() -> None:
    require(None if _has_honcho() else "honcho is not installed: pip install -e '.[cluster]'")
    checked = subprocess.run([sys.executable, '-m', 'honcho', '-d', 'deploy', 'check'], cwd=ROOT,
                             capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    assert 'Valid procfile detected (redis, balancer, a, b, c)' in checked.stderr, checked.stderr
    assert PROCFILE.read_text().count('127.0.0.1') >= 4, 'every process of the Procfile serves 127.0.0.1 only'


# ---- helpers ----------------------------------------------------------------------------------------------------

async def connect_page(base: str, page: Page, transports: list[str], *, cookie: str | None) -> None:
    """The page's socket.io connection, made as nicegui.js makes it (tests/robust/servers.py `visit`), through the
    balancer with the browser's cookie; raises socketio's ConnectionError when the process refuses the page."""
    client = socketio.AsyncClient(reconnection=False)
    try:
        await client.connect(f'{base}/?{page.query()}', socketio_path=SOCKET_PATH, transports=transports,
                             headers={'Cookie': cookie} if cookie else {}, wait_timeout=10)
    finally:
        await client.disconnect()


async def _visit(base: str, node: str | None) -> None:
    async with httpx.AsyncClient(timeout=10, cookies={NODE_COOKIE: node} if node else None) as browser:
        page = await load_page(browser, base)
        await connect_page(base, page, ['websocket'], cookie=f'{NODE_COOKIE}={browser.cookies.get(NODE_COOKIE)}')


def _answered(browser: httpx.Client, path: str) -> httpx.Response | None:
    try:
        response = browser.get(path, timeout=2)
    except httpx.TransportError:
        return None
    return response if response.status_code == 200 else None


def _seconds_until_down(balancer: Balancer, name: str, *, since: float) -> float:
    wait_until(lambda: any(f'Server nodes/{name} is DOWN' in line for line in balancer.down_lines()),
               timeout=5, every=0.02, what=f'the balancer took {name} out')
    return time.monotonic() - since


def _dotenv() -> dict[str, str]:
    lines = (ROOT / 'deploy' / '.env').read_text().splitlines()
    return dict(line.split('=', 1) for line in lines if line.strip() and not line.startswith('#'))


def _has_honcho() -> bool:
    try:
        import honcho  # noqa: F401
    except ImportError:
        return False
    return True

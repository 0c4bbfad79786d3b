"""Many clients at once against one real server: control requests racing each other leave one consistent state,
never a 5xx, never a traceback; every frame and every /status read during the storm is one consistent moment; and
what the store holds matches what the server shows."""
from __future__ import annotations

import asyncio
import random
import re
import socket
import time
from collections import Counter
from typing import Any

import httpx
import pytest

from ..helpers import Server
from .servers import SOAK, Viewer, check_status, parse_strict, problems, until, wait_for_disk, wait_until

CLIENTS = 4
PER_CLIENT = 250 if SOAK else 50  # 200 requests in CI, 1,000 in the long version
IN_FLIGHT = 4  # per client: 16 requests in flight at any moment
OPERATIONS = ['start'] * 2 + ['start with tasks'] * 2 + ['reset'] * 3 + ['cancel'] * 3


async def test_concurrent_start_reset_cancel_leave_one_consistent_state(tmp_path, figures):
    with Server('--speed', '50', '--tasks', '200', '--keep-runs', '10000', log_dir=tmp_path) as server:
        base = server.base
        rng = random.Random(8)
        plans = [[rng.choice(OPERATIONS) for _ in range(PER_CLIENT)] for _ in range(CLIENTS)]
        stop = asyncio.Event()
        viewer = Viewer(base.replace('http', 'ws') + '/ws')
        watching = asyncio.create_task(viewer.watch(stop))
        reads: list[str] = []
        polling = asyncio.create_task(_read_status_until(base, stop, reads))
        await until(lambda: viewer.arrivals, timeout=10, what='the viewer has its first frame')
        started = time.monotonic()
        clients = [httpx.AsyncClient(base_url=base, timeout=30, limits=httpx.Limits(max_connections=PER_CLIENT))
                   for _ in range(CLIENTS)]
        try:
            sizes = [[rng.choice([50, 200, 500]) for _ in plan] for plan in plans]
            per_client = await asyncio.gather(*(_drive(client, plan, tasks)
                                                for client, plan, tasks in zip(clients, plans, sizes, strict=True)))
            answers = [answer for answers in per_client for answer in answers]
        finally:
            for client in clients:
                await client.aclose()
        storm_s = time.monotonic() - started
        await until(lambda: sum(arrival > started + storm_s for arrival in viewer.arrivals) >= 2, timeout=10,
                    what='a frame built after the storm')  # the second to arrive after it was surely built after it
        stop.set()
        await asyncio.gather(watching, polling)

        codes = Counter(f'{operation} {code}' for operation, code, _ in answers)
        run_ids = [body['run_id'] for operation, code, body in answers if operation.startswith('start') and code == 200]
        after = parse_strict(httpx.get(f'{base}/status').text)
        check_status(after)
        if after['run_id'] is not None:
            assert after['run_id'] == max(run_ids), 'the run shown is the last one started'
            wait_until(lambda: httpx.get(f'{base}/status').json()['state'] != 'running', timeout=15,
                       what='the last run ends')
        final = parse_strict(httpx.get(f'{base}/status').text)
        check_status(final)
        stored = wait_for_disk(base, final) if final['run_id'] is not None else None
        history = httpx.get(f'{base}/runs', params={'limit': 10000}).json()
        left_running = [run['id'] for run in history if run['state'] == 'running']
        figures(requests=len(answers), clients=CLIENTS, storm_s=round(storm_s, 2), answers=dict(sorted(codes.items())),
                runs_started=len(run_ids), state_after=after['state'], tasks_after=after['total'],
                status_reads_checked=len(reads), frames_checked=len(viewer.arrivals),
                final_state=final['state'], final_matches_store=stored == final['individual'],
                stored_runs_left_running=len(left_running), log_problems=len(problems(server)))

        assert all(code in {200, 409} for _, code, _ in answers), codes
        assert not any(operation == 'reset' and code != 200 for operation, code, _ in answers), codes
        assert len(run_ids) == len(set(run_ids)), 'a run id was handed out twice'
        assert not [read for read in reads if read != 'ok'], reads[:3]
        assert not viewer.bad_frames, viewer.bad_frames[:3]
        assert len(viewer.arrivals) >= 2
        if stored is not None:
            assert stored == final['individual'], 'the store differs from /status after the run ended'
        assert not problems(server), problems(server)[:10]


@pytest.mark.parametrize('ending', ['reset', 'cancel, then start'])
def test_a_run_ended_just_before_a_reset_or_a_new_run_is_stored_as_ended(tmp_path, figures, ending):
    server = Server('--speed', '5', '--tasks', '50', log_dir=tmp_path)
    server.start()
    try:
        first = httpx.post(f'{server.base}/start').json()['run_id']
        if ending == 'reset':
            assert httpx.post(f'{server.base}/reset').status_code == 200
            ended = [first]
        else:  # both requests in one write: the new run starts within a millisecond of the cancel, 5 times over
            for _ in range(5):
                assert _pipelined(server.port, ['/cancel', '/start']) == [200, 200]
            ended = list(range(first, first + 5))
        stored = wait_until(lambda: _stored_unless_running(server.base, ended), timeout=10,
                            what=f'runs {ended} stored as ended, not running')
        if ending == 'reset':  # the reset run is the newest on disk: a restart shows it
            server.stop()
            server.start()
        after = httpx.get(f'{server.base}/status').json()
        figures(runs_ended=len(ended), stored_states=[stored[run_id] for run_id in ended], state_after=after['state'])
        assert [stored[run_id] for run_id in ended] == ['cancelled'] * len(ended), stored
        if ending == 'reset':
            assert after['state'] == 'idle', f'a restart brought the reset run back as {after["state"]}'
    finally:
        server.stop()


def _stored_unless_running(base: str, runs: list[int]) -> dict[int, str] | None:
    """The stored state of every run, once none of `runs` is stored as running (a run's end is on disk)."""
    stored = {run['id']: run['state'] for run in httpx.get(f'{base}/runs').json()}
    return None if any(stored.get(run_id, 'running') == 'running' for run_id in runs) else stored


async def _drive(client: httpx.AsyncClient, plan: list[str], sizes: list[int]) -> list[tuple[str, int, dict]]:
    """One client's requests, IN_FLIGHT at a time: the four clients together keep the server's state flipping."""
    gate = asyncio.Semaphore(IN_FLIGHT)

    async def one(operation: str, tasks: int) -> tuple[str, int, dict[str, Any]]:
        async with gate:
            return await _send(client, operation, tasks)
    return list(await asyncio.gather(*(one(operation, tasks) for operation, tasks in zip(plan, sizes, strict=True))))


def _pipelined(port: int, paths: list[str]) -> list[int]:
    """POST each path on one connection, all written at once (HTTP/1.1 pipelining); the status codes in order."""
    request = 'POST {} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\n\r\n'
    with socket.create_connection(('127.0.0.1', port), timeout=10) as connection:
        connection.sendall(''.join(request.format(path) for path in paths).encode())
        received = b''
        while received.count(b'HTTP/1.1 ') < len(paths) or not received.endswith(b'}'):
            received += connection.recv(65536)
    return [int(code) for code in re.findall(r'HTTP/1\.1 (\d{3}) ', received.decode())]


async def _send(client: httpx.AsyncClient, operation: str, tasks: int) -> tuple[str, int, dict[str, Any]]:
    if operation == 'start with tasks':
        response = await client.post('/start', json={'tasks': tasks})
    else:
        response = await client.post(f'/{operation.split()[0]}')
    return operation, response.status_code, response.json()


async def _read_status_until(base: str, stop: asyncio.Event, reads: list[str]) -> None:
    """Read /status throughout the storm; each read must be one consistent state."""
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        while not stop.is_set():
            response = await client.get('/status')
            try:
                check_status(parse_strict(response.text))
                reads.append('ok')
            except (AssertionError, KeyError, ValueError) as error:
                reads.append(f'{type(error).__name__}: {error}')
            await asyncio.sleep(0.02)

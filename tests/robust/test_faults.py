"""The disk misbehaves under a running server: the database locked by another process, the disk full, the data
folder read-only at start. The server says so in one clear line, keeps serving /status, the board and /ws, and
once the disk is back no finished task is lost.

The full disk and the read-only folder are real: a small tmpfs is mounted for the test (root only: skipped with the
reason otherwise, failed when CI is set; see tests/environment.py). As root, chmod does not stop writes, so "no write
permission" runs main.py as root without the capability that overrides file permissions."""
from __future__ import annotations

import asyncio
import errno
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from taskdemo.store import FILE_NAME

from ..environment import remount_read_only, require, tmpfs
from ..helpers import ROOT, Server, clean_env, free_port
from .servers import SOAK, Viewer, check_status, problems, wait_for_disk, wait_until

LOCK_S = 20.0 if SOAK else 7.0  # longer than the store's busy timeout (5 s), so a write really fails
FULL_S = 20.0 if SOAK else 3.0
MAX_GAP_S = 1.5
SLOW_READ_S = 1.0


async def test_a_database_locked_by_another_process_is_logged_and_loses_no_finished_task(tmp_path, figures):
    with Server('--speed', '10', '--tasks', '300', '--seed', '5', log_dir=tmp_path) as server:
        run_id = httpx.post(f'{server.base}/start').json()['run_id']
        await _planned_on_disk(server.base, run_id, 300)
        with _locked(tmp_path / 'data' / FILE_NAME):
            serving = await _serving_while(server.base, LOCK_S)
        figures_, final, stored = await _after_the_run(server, run_id)
        logged = [line for line in server.log().splitlines() if 'could not write' in line]
        figures(lock_s=LOCK_S, **serving, **figures_, log_lines_during_lock=len(logged),
                log_line=logged[0] if logged else None)

        assert logged and 'database is locked' in logged[0], server.log()[-2000:]
        _assert_served(serving)
        assert stored == final['individual'], 'a task differs between /status and the store after the run'
        assert not problems(server), problems(server)[:10]


async def test_a_run_started_while_the_database_is_locked_does_not_freeze_the_viewers(tmp_path, figures):
    with Server('--speed', '10', '--tasks', '300', log_dir=tmp_path) as server:
        run_id = httpx.post(f'{server.base}/start').json()['run_id']
        await _planned_on_disk(server.base, run_id, 300)
        with _locked(tmp_path / 'data' / FILE_NAME):
            async def restart() -> float:
                await asyncio.sleep(1.0)  # the scenario: the lock has stood a second, the writer waits on it
                async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
                    assert (await http.post('/cancel')).status_code == 200
                    started = time.monotonic()
                    assert (await http.post('/start')).status_code == 200
                    return time.monotonic() - started
            serving, start_s = await asyncio.gather(_serving_while(server.base, 4.0), restart())
        figures(start_request_s=round(start_s, 2), **serving)
        _assert_served(serving)


async def test_a_full_disk_is_logged_and_loses_no_finished_task(tmp_path, figures):
    with tmpfs(tmp_path / 'disk', '4m') as disk:
        with Server('--speed', '10', '--tasks', '2000', '--seed', '6', '--data-dir', str(disk / 'data'),
                    log_dir=tmp_path) as server:
            run_id = httpx.post(f'{server.base}/start').json()['run_id']
            await _planned_on_disk(server.base, run_id, 2000)  # the write-ahead log still growing
            with _filled(disk) as filled:
                serving = await _serving_while(server.base, FULL_S)
            figures_, final, stored = await _after_the_run(server, run_id)
            logged = [line for line in server.log().splitlines() if 'could not write' in line]
        check = sqlite3.connect(disk / 'data' / FILE_NAME)
        (integrity,) = check.execute('PRAGMA quick_check').fetchone()
        check.close()
    figures(disk='tmpfs 4 MB', filled_bytes=filled[0], full_s=FULL_S, **serving, **figures_,
            log_lines_while_full=len(logged), log_line=logged[0] if logged else None, quick_check=integrity)

    assert logged and 'database or disk is full' in logged[0], server.log()[-2000:]
    _assert_served(serving)
    assert stored == final['individual'], 'a task differs between /status and the store after the run'
    assert integrity == 'ok'
    assert not problems(server), problems(server)[:10]


@pytest.mark.parametrize('cause', ['read-only file system', 'no write permission'])
def test_a_data_folder_that_cannot_be_written_at_start_is_one_line_and_exit_2(tmp_path, figures, cause):
    """tests/test_durability.py covers a data folder that is a file; these are the two other ways it happens."""
    if cause == 'read-only file system':
        with tmpfs(tmp_path / 'disk', '4m') as disk:
            data = disk / 'data'
            with Server('--speed', '100', '--tasks', '5', '--data-dir', str(data), log_dir=tmp_path) as server:
                run_id = httpx.post(f'{server.base}/start').json()['run_id']  # yesterday's runs are in the folder
                wait_until(lambda: _stored_run(server.base, run_id).get('state') == 'completed', timeout=30,
                           what='the run ends and is written')
            remount_read_only(disk)
            result = _main(data)
    else:
        data = tmp_path / 'data'
        data.mkdir()
        data.chmod(0o555)
        try:
            result = _main(data, without_override=os.geteuid() == 0)
        finally:
            data.chmod(0o755)
    lines = result.stderr.strip().splitlines()
    figures(cause=cause, exit_status=result.returncode, stderr=result.stderr.strip())
    assert result.returncode == 2
    assert len(lines) == 1 and '--data-dir' in lines[0] and 'cannot be written' in lines[0], result.stderr
    expected = 'Read-only file system' if cause == 'read-only file system' else 'Permission denied'
    assert expected in lines[0]


# ---- helpers ---------------------------------------------------------------------------------------------------

async def _planned_on_disk(base: str, run_id: int, tasks: int) -> None:
    """Wait until the run's first batch is on disk: the store lists every task of it (with its plan)."""
    await asyncio.to_thread(wait_until, lambda: len(_stored_run(base, run_id).get('tasks', [])) == tasks,
                            timeout=30, what=f'every task of run {run_id} on disk')


def _stored_run(base: str, run_id: int) -> dict[str, Any]:
    """GET /runs/{id}; an empty dict while the run is not on disk yet."""
    response = httpx.get(f'{base}/runs/{run_id}', timeout=10)
    return response.json() if response.status_code == 200 else {}


async def _serving_while(base: str, seconds: float) -> dict[str, Any]:
    """For `seconds`: a /ws viewer's gaps, /status every 0.25 s (each checked) and the board every second."""
    stop = asyncio.Event()
    viewer = Viewer(base.replace('http', 'ws') + '/ws')
    watching = asyncio.create_task(viewer.watch(stop))
    status_s: list[float] = []
    board_s: list[float] = []
    finished: list[int] = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            started = time.monotonic()
            status = (await http.get('/status')).json()
            status_s.append(time.monotonic() - started)
            check_status(status)
            finished.append(status['completed'] + status['failed'])
            if len(status_s) % 4 == 1:
                started = time.monotonic()
                page = await http.get('/')
                assert page.status_code == 200 and 'Task Processing Simulator' in page.text
                board_s.append(time.monotonic() - started)
            await asyncio.sleep(0.25)
    stop.set()
    await watching
    return {'frames': len(viewer.arrivals), 'max_frame_gap_s': round(viewer.max_gap, 2),
            'status_reads': len(status_s), 'status_max_s': round(max(status_s), 3),
            'board_loads': len(board_s), 'board_max_s': round(max(board_s), 3),
            'finished_during': finished[-1] - finished[0], 'bad_frames': len(viewer.bad_frames)}


def _assert_served(serving: dict[str, Any]) -> None:
    assert serving['max_frame_gap_s'] < MAX_GAP_S, serving
    assert serving['status_max_s'] < SLOW_READ_S and serving['board_max_s'] < SLOW_READ_S, serving
    assert serving['finished_during'] > 0 and serving['bad_frames'] == 0, serving


async def _after_the_run(server: Server, run_id: int) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """Wait for the run to end; /status then, and the run as stored once the store caught up."""
    async with httpx.AsyncClient(base_url=server.base, timeout=30) as http:
        started = time.monotonic()
        while (final := (await http.get('/status')).json())['state'] == 'running':
            assert time.monotonic() - started < 60, 'the run did not end'
            await asyncio.sleep(0.25)
    check_status(final)
    assert final['run_id'] == run_id
    started = time.monotonic()
    stored = await asyncio.to_thread(wait_for_disk, server.base, final)
    return ({'final_state': final['state'], 'tasks': final['total'], 'stored_equal_after_s':
             round(time.monotonic() - started, 2)}, final, stored)


class _locked:
    """BEGIN EXCLUSIVE on the server's database from this process, held until the block ends."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(path, timeout=5, isolation_level=None)

    def __enter__(self) -> None:
        self.db.execute('BEGIN EXCLUSIVE')

    def __exit__(self, *_: object) -> None:
        self.db.execute('ROLLBACK')
        self.db.close()


class _filled:
    """Fill the file system at `disk` to the last byte with a file of our own; delete it when the block ends."""

    def __init__(self, disk: Path) -> None:
        self.path = disk / 'filler'
        self.written = [0]

    def __enter__(self) -> list[int]:
        with self.path.open('wb', buffering=0) as filler:
            for chunk in (65536, 4096, 512):
                try:
                    while True:
                        self.written[0] += filler.write(b'\0' * chunk)
                except OSError as error:
                    assert error.errno == errno.ENOSPC, error
        return self.written

    def __exit__(self, *_: object) -> None:
        self.path.unlink()


def _main(data: Path, *, without_override: bool = False) -> subprocess.CompletedProcess[str]:
    """main.py on `data`. `without_override`: as root, but without the capability that lets root write anywhere
    (CAP_DAC_OVERRIDE), so that the folder's permissions apply to it as to anybody."""
    prefix: list[str] = []
    if without_override:
        require(None if shutil.which('setpriv') else
                'as root, a folder without write permission needs setpriv (util-linux) to mean anything')
        dropped = '-dac_override,-dac_read_search'
        prefix = ['setpriv', f'--bounding-set={dropped}', f'--inh-caps={dropped}']
    return subprocess.run([*prefix, sys.executable, 'main.py', '--data-dir', str(data), '--port', str(free_port())],
                          cwd=ROOT, env=clean_env(), capture_output=True, text=True, timeout=60)

"""The durability promise, with the real server: SIGKILL mid-run loses no finished task; a clean stop interrupts
only what was running; the run comes back and resumes."""
from __future__ import annotations

import time

import httpx
import pytest

from .helpers import Server

SPEED = '20'  # tasks of 30-120 simulated seconds take 1.5-6 s
ON_DISK_S = 5.0  # the promise is 0.5 s; the deadline leaves room for a loaded machine, the message says how far off


def wait_for_finished(base: str, at_least: int, timeout: float = 20) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        status = httpx.get(f'{base}/status').json()
        if status['completed'] + status['failed'] >= at_least:
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.05)  # polling a server that runs in real time


def settle(base: str) -> dict:
    """A status read, returned once every task that had finished by then is on disk exactly as it read."""
    first = httpx.get(f'{base}/status').json()
    finished = {key: entry for key, entry in first['individual'].items() if entry['status'] in {'completed', 'failed'}}
    started = time.monotonic()
    while (missing := _not_stored(base, first['run_id'], finished)) and time.monotonic() - started < ON_DISK_S:
        time.sleep(0.05)  # polling a server that runs in real time
    assert not missing, f'{len(missing)} finished tasks not on disk after {ON_DISK_S} s: {missing[:3]}'
    return first


def _not_stored(base: str, run_id: int, finished: dict[str, dict]) -> list[tuple[str, dict, dict | None]]:
    """The tasks of `finished` that GET /runs/{id} does not show exactly so: (id, finished as, stored as)."""
    response = httpx.get(f'{base}/runs/{run_id}')
    tasks = response.json()['tasks'] if response.status_code == 200 else []
    stored = {str(task['id']): {'status': task['status'], 'progress': task['progress'],
                                **({'error': task['error']} if task['error'] is not None else {})} for task in tasks}
    return [(key, entry, stored.get(key)) for key, entry in finished.items() if stored.get(key) != entry]


@pytest.mark.parametrize('stop', ['SIGKILL', 'SIGTERM'])
def test_a_stopped_server_brings_the_run_back_and_resumes_it(tmp_path, stop):
    server = Server('--speed', SPEED, '--seed', '3', log_dir=tmp_path)
    server.start()
    try:
        httpx.post(f'{server.base}/start')
        wait_for_finished(server.base, at_least=10)
        before = settle(server.base)
        server.stop(kill=stop == 'SIGKILL')
        server.start()
        after = httpx.get(f'{server.base}/status').json()
        page = httpx.get(f'{server.base}/')
        assert page.status_code == 200 and 'Task Processing Simulator' in page.text, 'the board shows the run'
    finally:
        server.stop()
    server.start()
    try:
        assert after['run_id'] == before['run_id'] and after['state'] == 'interrupted'
        assert after['seed'] == 3 and after['settings'] == before['settings']
        for key, entry in before['individual'].items():
            now = after['individual'][key]
            if entry['status'] in {'completed', 'failed'}:
                assert now == entry, f'finished task {key} changed across the restart'
            else:
                assert now['status'] in {'interrupted', 'completed', 'failed'}
                assert now['progress'] >= entry['progress'] or now['status'] == 'interrupted'
        assert after['interrupted'] > 0
        assert httpx.post(f'{server.base}/resume').status_code == 200
        final = wait_for_finished(server.base, at_least=50)
        assert final['state'] == 'completed'
        for key, entry in after['individual'].items():
            if entry['status'] in {'completed', 'failed'}:
                assert final['individual'][key] == entry
        deadline = time.monotonic() + ON_DISK_S
        while (history := httpx.get(f'{server.base}/runs').json())[0]['state'] != 'completed':
            assert time.monotonic() < deadline, history
            time.sleep(0.05)  # polling a server that runs in real time
        assert [run['id'] for run in history] == [1] and history[0]['completed'] == final['completed']
    finally:
        server.stop()


def test_a_read_only_data_folder_is_one_clear_line_and_exit_2(tmp_path):
    import subprocess
    import sys

    from .helpers import ROOT, clean_env
    blocker = tmp_path / 'not-a-folder'
    blocker.write_text('a file where the data folder should be')
    result = subprocess.run([sys.executable, 'main.py', '--data-dir', str(blocker)], cwd=ROOT, env=clean_env(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and '--data-dir' in lines[0] and 'cannot be written' in lines[0], result.stderr

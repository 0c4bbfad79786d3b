"""Processes: the server under test (started, waited for, stopped by PID), /proc readings and the machine."""
from __future__ import annotations

import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
CLOCK_TICKS = os.sysconf('SC_CLK_TCK')
STARTUP_TIMEOUT_S = 60.0


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


def clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(('PYTEST_', 'NICEGUI_', 'TASKDEMO_'))}


class Server:
    """`python main.py` on a free port, its output in a temporary log file."""

    def __init__(self, *, tasks: int, speed: float, min_duration: float, max_duration: float, seed: int = 1,
                 extra_env: dict[str, str] | None = None, root: Path = ROOT) -> None:
        self.port = free_port()
        self.base = f'http://127.0.0.1:{self.port}'
        self.log = tempfile.NamedTemporaryFile('w+', prefix='taskdemo-bench-', suffix='.log', delete=False)
        # a data folder of its own (servers that store runs would otherwise restore, and add to, the user's runs);
        # the variable, not the flag, so that a server without that setting still starts
        self.data_dir = tempfile.mkdtemp(prefix='taskdemo-bench-data-')
        command = [sys.executable, 'main.py', '--port', str(self.port), '--tasks', str(tasks), '--seed', str(seed),
                   '--speed', f'{speed:g}', '--min-duration', f'{min_duration:g}',
                   '--max-duration', f'{max_duration:g}']
        env = {**clean_env(), 'TASKDEMO_DATA_DIR': self.data_dir, **(extra_env or {})}
        self.process = subprocess.Popen(command, cwd=root, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)

    @property
    def pid(self) -> int:
        return self.process.pid

    def wait_ready(self) -> float:
        """Wait until GET /favicon.ico answers 200; returns the seconds it took."""
        began = time.monotonic()
        while time.monotonic() - began < STARTUP_TIMEOUT_S:
            if self.process.poll() is not None:
                raise RuntimeError(f'the server exited with {self.process.returncode}: {self.log_text()[-2000:]}')
            try:
                if httpx.get(f'{self.base}/favicon.ico', timeout=2).status_code == 200:
                    return time.monotonic() - began
            except httpx.TransportError:
                pass
            time.sleep(0.1)  # a starting server offers no event to wait on
        raise RuntimeError(f'the server did not answer within {STARTUP_TIMEOUT_S:.0f} s')

    def log_text(self) -> str:
        return Path(self.log.name).read_text(errors='replace')

    def stop(self) -> None:
        stop_pid(self.process)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)
        shutil.rmtree(self.data_dir, ignore_errors=True)


def stop_pid(process: subprocess.Popen) -> None:
    """Terminate one child by its PID, then kill it if it does not go within 10 s."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (all its threads), in seconds."""
    fields = Path(f'/proc/{pid}/stat').read_text().rsplit(')', 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def send_queue(local_port: int, remote_port: int) -> int | None:
    """Bytes the kernel holds unsent/unacknowledged on the loopback socket local_port -> remote_port."""
    wanted = (f'{local_port:04X}', f'{remote_port:04X}')
    for line in Path('/proc/net/tcp').read_text().splitlines()[1:]:
        fields = line.split()
        if (fields[1].rsplit(':', 1)[1], fields[2].rsplit(':', 1)[1]) == wanted:
            return int(fields[4].split(':')[0], 16)
    return None


def busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all cores), from /proc/stat."""
    fields = [int(v) for v in Path('/proc/stat').read_text().split('\n', 1)[0].split()[1:]]
    return (sum(fields[:8]) - fields[3] - fields[4]) / CLOCK_TICKS


def rss_mb(pid: int) -> float:
    for line in Path(f'/proc/{pid}/status').read_text().splitlines():
        if line.startswith('VmRSS:'):
            return int(line.split()[1]) / 1024
    return float('nan')


def descendants(root: int) -> list[int]:
    """PIDs of every living process below `root` (children, grandchildren, ...)."""
    parents: dict[int, int] = {}
    for entry in Path('/proc').iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / 'stat').read_text()
            except OSError:
                continue
            parents[int(entry.name)] = int(stat.rsplit(')', 1)[1].split()[1])
    found, frontier = [], [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent]
        found += children
        frontier += children
    return found


def process_name(pid: int) -> str:
    try:
        return Path(f'/proc/{pid}/comm').read_text().strip()
    except OSError:
        return ''


def helper_cpu_seconds(exclude: set[int]) -> tuple[float, float]:
    """CPU of the processes this benchmark started besides `exclude`: (Chromium, the rest, e.g. Playwright's
    driver). Chromium's figure is all of Chromium, not only the page's thread."""
    chromium = rest = 0.0
    for pid in descendants(os.getpid()):
        if pid in exclude:
            continue
        try:
            seconds = cpu_seconds(pid)
        except OSError:
            continue
        if process_name(pid).startswith(('chrom', 'headless')):
            chromium += seconds
        else:
            rest += seconds
    return chromium, rest


def wait_quiet(*, busy_pct: float = 40.0, timeout_s: float = 30.0) -> float:
    """Wait (at most `timeout_s`) until the machine is quiet: under `busy_pct` % of one core busy over 1 s
    (nothing of ours runs then). Returns the last busy figure; other people's work is reported, not removed."""
    deadline = time.monotonic() + timeout_s
    while True:
        before = busy_seconds()
        time.sleep(1.0)
        busy = 100 * (busy_seconds() - before)
        if busy < busy_pct or time.monotonic() > deadline:
            return round(busy, 1)


def kill_leftovers(exclude: set[int] = frozenset()) -> list[str]:
    """Kill (by PID) any process still running below this one; returns what had to be killed."""
    killed = []
    for pid in reversed(descendants(os.getpid())):
        if pid in exclude:
            continue
        name = process_name(pid)
        try:
            os.kill(pid, signal.SIGKILL)
            killed.append(f'{pid} {name}')
        except OSError:
            pass
    return killed


def machine(chromium_version: str) -> dict[str, str | int | float]:
    model = next((line.split(':', 1)[1].strip() for line in Path('/proc/cpuinfo').read_text().splitlines()
                  if line.startswith('model name')), platform.machine())
    mem_kb = next(int(line.split()[1]) for line in Path('/proc/meminfo').read_text().splitlines()
                  if line.startswith('MemTotal:'))
    return {'cores': os.cpu_count() or 0, 'cpu': model, 'memory_gb': round(mem_kb / 1024 / 1024, 1),
            'python': platform.python_version(), 'chromium': chromium_version, 'kernel': platform.release()}

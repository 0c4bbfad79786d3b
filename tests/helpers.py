"""Helpers the tests share."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

from taskdemo.simulator import Simulator

ROOT = Path(__file__).resolve().parent.parent


class FakeClock:
    """Wall-clock time that moves only when a test says so."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def finish(sim: Simulator, *, seconds: float = 1_000.0, dt: float = 0.5) -> None:
    """Step the simulator until its run is over (or `seconds` of real time have passed)."""
    elapsed = 0.0
    while sim.active and elapsed < seconds:
        sim.step(dt)
        elapsed += dt


def clean_env(**extra: str) -> dict[str, str]:
    """The environment for a real server: without pytest's variables, which make NiceGUI think it is under test."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(('PYTEST_', 'NICEGUI_', 'TASKDEMO_'))}
    return {**env, **extra}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(('127.0.0.1', 0))
        return probe.getsockname()[1]


class Server:
    """`python main.py` in a subprocess on 127.0.0.1: started, waited for on a real URL, and stopped by its PID.
    `command` and `cwd` run another entry point instead, such as an installed `taskdemo` outside the checkout."""

    def __init__(self, *args: str, log_dir: Path, port: int | None = None, env: dict[str, str] | None = None,
                 command: tuple[str, ...] = (sys.executable, 'main.py'), cwd: Path = ROOT) -> None:
        self.args = args if '--data-dir' in args else (*args, '--data-dir', str(log_dir / 'data'))
        self.port = port or free_port()
        self.base = f'http://127.0.0.1:{self.port}'
        self.log_path = log_dir / f'server-{self.port}.log'
        self.env = env or clean_env()
        self.command, self.cwd = command, cwd
        self.process: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> Server:
        with self.log_path.open('a') as log:
            self.process = subprocess.Popen([*self.command, '--port', str(self.port), *self.args],
                                            cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)  # its own process group: see stop()
        deadline = time.monotonic() + timeout
        while True:
            assert self.process.poll() is None, f'the server exited: {self.log()}'
            try:
                if httpx.get(f'{self.base}/favicon.ico', timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, f'the server did not answer within {timeout} s: {self.log()}'
            time.sleep(0.1)  # polling a starting server: there is no event to wait on

    def stop(self, *, kill: bool = False) -> None:
        """Stop the server and whatever it started (a native window and its browser engine) by process group."""
        if self.process is None:
            return
        group = self.process.pid
        with contextlib.suppress(ProcessLookupError):  # it may have ended by itself (or been killed by a test)
            os.killpg(group, signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGKILL)  # anything of the group still left
        self.process = None

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ''

    def __enter__(self) -> Server:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

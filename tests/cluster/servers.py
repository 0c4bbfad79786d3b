"""Real processes for the cluster tests: a Redis server, the HAProxy balancer of deploy/haproxy.cfg, and taskdemo
nodes behind it. Each is a subprocess of the test on 127.0.0.1 and a free port, stopped by its PID; none is a system
service.

    with RedisServer(tmp_path / 'redis') as redis_server:       # redis_server.url: redis://127.0.0.1:PORT/0
        redis_server.restart()                                   # same port and folder: the AOF is replayed
    with start_nodes(3, tmp_path, '--redis', url) as nodes, Balancer([n.port for n in nodes], log_dir=tmp_path) as lb:
        httpx.get(f'{lb.base}/')                                 # answered by nodes[0], [1] or [2]: servers a, b, c
    with start_cluster(tmp_path, '--redis', url) as cluster:     # the two above in one: cluster.node('a'), .balancer
"""
from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

from ..helpers import ROOT, Server, clean_env, free_port

HAPROXY_CONFIG = ROOT / 'deploy' / 'haproxy.cfg'
PROCFILE = ROOT / 'deploy' / 'Procfile'
NODE_NAMES = ('a', 'b', 'c')  # the `server` names (and cookie values) of deploy/haproxy.cfg, in port order
NODE_HEADER = 'X-Taskdemo-Node'  # the balancer names the node that answered in this response header
NODE_COOKIE = 'TASKDEMO_NODE'
INSTALL = 'apt-get install redis-server haproxy'
# Debian puts haproxy in /usr/sbin, which is not on a normal user's PATH.
SEARCH_PATH = os.pathsep.join([os.environ.get('PATH', ''), '/usr/local/sbin', '/usr/sbin', '/sbin'])


def program(name: str) -> str | None:
    """The path of an installed program (redis-server, haproxy), or None."""
    return shutil.which(name, path=SEARCH_PATH)


def missing(name: str) -> str | None:
    """Why `name` cannot run here, for `require()`: None when it is installed."""
    return None if program(name) else f'{name} is not installed: {INSTALL}'


class RedisServer:
    """`redis-server` on 127.0.0.1 and a free port, its data (an append-only file) in `folder`.

    `restart()` stops it and starts it again on the same port and folder, so the AOF is replayed; `stop(kill=True)` is
    a crash (at most the last second of writes is lost: appendfsync everysec). `pause()` freezes the process
    (SIGSTOP): connections stay open and nothing answers, as with a server that hangs.
    """

    def __init__(self, folder: Path, *, port: int | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.url = f'redis://127.0.0.1:{self.port}/0'
        self.log_path = folder / 'redis.log'
        self.process: subprocess.Popen | None = None
        self.paused = False

    def start(self, timeout: float = 10) -> RedisServer:
        self.folder.mkdir(parents=True, exist_ok=True)
        command = [program('redis-server') or 'redis-server', '--bind', '127.0.0.1', '--port', str(self.port),
                   '--dir', str(self.folder), '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '',
                   '--daemonize', 'no', '--protected-mode', 'yes']
        with self.log_path.open('a') as log:
            self.process = subprocess.Popen(command, cwd=self.folder, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        self._wait_for_ping(timeout)
        return self

    def client(self, **options: object):
        """A redis-py client of this server (the caller closes it)."""
        import redis
        return redis.Redis(host='127.0.0.1', port=self.port, **{'socket_timeout': 5, **options})

    def stop(self, *, kill: bool = False) -> None:
        """SIGTERM (Redis writes its AOF and exits) and, after 10 s, SIGKILL; `kill`: SIGKILL at once, a crash."""
        _stop(self.process, kill=kill, paused=self.paused)
        self.process, self.paused = None, False

    def restart(self, timeout: float = 10) -> RedisServer:
        self.stop()
        return self.start(timeout)

    def pause(self) -> None:
        assert self.process is not None, 'not running'
        os.kill(self.process.pid, signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        assert self.process is not None, 'not running'
        os.kill(self.process.pid, signal.SIGCONT)
        self.paused = False

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ''

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _wait_for_ping(self, timeout: float) -> None:
        import redis
        from redis.backoff import NoBackoff
        from redis.retry import Retry
        deadline = time.monotonic() + timeout
        # No retries of its own: redis-py's default backs off for up to seconds between them, we poll every 50 ms.
        with self.client(socket_timeout=0.5, socket_connect_timeout=0.5, retry=Retry(NoBackoff(), 0)) as client:
            while True:
                assert self.process is not None and self.process.poll() is None, f'redis-server exited: {self.log()}'
                try:
                    if client.ping():  # while the AOF loads it answers LOADING: a BusyLoadingError, a ConnectionError
                        return
                except redis.ConnectionError:
                    pass
                assert time.monotonic() < deadline, f'redis-server did not answer PING within {timeout} s: {self.log()}'
                time.sleep(0.05)  # polling a starting server: there is no event to wait on


class Balancer:
    """`haproxy -db -f deploy/haproxy.cfg` (foreground) with its ports in the environment: a free one on 127.0.0.1
    for itself (`.base`), and the three nodes' ports, which become its servers a, b and c."""

    def __init__(self, node_ports: Sequence[int], *, log_dir: Path, port: int | None = None,
                 config: Path = HAPROXY_CONFIG) -> None:
        assert len(node_ports) == len(NODE_NAMES), f'deploy/haproxy.cfg has {len(NODE_NAMES)} servers'
        self.node_ports = tuple(node_ports)
        self.port = port or free_port()
        self.base = f'http://127.0.0.1:{self.port}'
        self.config = config
        self.log_path = log_dir / f'haproxy-{self.port}.log'
        self.process: subprocess.Popen | None = None

    @property
    def env(self) -> dict[str, str]:
        """The environment deploy/haproxy.cfg reads its ports from."""
        return clean_env(TASKDEMO_LB_PORT=str(self.port),
                         **{f'TASKDEMO_NODE_{name.upper()}_PORT': str(port)
                            for name, port in zip(NODE_NAMES, self.node_ports, strict=True)})

    def start(self, timeout: float = 10) -> Balancer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open('a') as log:
            self.process = subprocess.Popen([program('haproxy') or 'haproxy', '-db', '-f', str(self.config)],
                                            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                            start_new_session=True)
        deadline = time.monotonic() + timeout
        while not self._answers():
            assert self.process.poll() is None, f'haproxy exited: {self.log()}'
            assert time.monotonic() < deadline, f'haproxy did not answer within {timeout} s: {self.log()}'
            time.sleep(0.05)  # polling a starting process
        return self

    def stop(self) -> None:
        _stop(self.process)  # SIGTERM: haproxy -db stops at once, closing every connection
        self.process = None

    def node_of(self, response: httpx.Response) -> str:
        """Which node answered this response through the balancer: 'a', 'b' or 'c'."""
        assert NODE_HEADER in response.headers, f'no {NODE_HEADER} (answered by the balancer itself?)'
        return response.headers[NODE_HEADER]

    def down_lines(self) -> list[str]:
        """HAProxy's own 'Server nodes/x is DOWN' reports so far."""
        return [line for line in self.log().splitlines() if ' is DOWN' in line and line.startswith('[WARNING]')]

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ''

    def __enter__(self) -> Balancer:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _answers(self) -> bool:
        """The port takes a connection and a GET / through it gets an HTTP answer (a 503 while no node is up counts:
        that answer is the balancer's own)."""
        try:
            with socket.create_connection(('127.0.0.1', self.port), timeout=0.5):
                pass
            httpx.get(f'{self.base}/', timeout=2)
        except (OSError, httpx.TransportError):
            return False
        return True


@dataclass(frozen=True)
class Cluster:
    """Nodes behind the balancer: `node('b')` is the Server the balancer calls b."""

    nodes: list[Server]
    balancer: Balancer

    def node(self, name: str) -> Server:
        return self.nodes[NODE_NAMES.index(name)]


@contextlib.contextmanager
def start_cluster(folder: Path, *node_args: str) -> Iterator[Cluster]:
    """Three nodes (`start_nodes`, with `node_args`) and the Balancer in front of them; all stopped on exit."""
    with start_nodes(len(NODE_NAMES), folder, *node_args) as nodes, \
            Balancer([node.port for node in nodes], log_dir=folder) as balancer:
        yield Cluster(nodes, balancer)


@contextlib.contextmanager
def start_nodes(n: int, log_dir: Path, *extra_args: str) -> Iterator[list[Server]]:
    """n `python main.py` servers on free ports, started together (about as long as one takes) and all stopped on
    exit. Each has a folder of its own under `log_dir` (node-a, node-b, ...) for its log and, unless `extra_args`
    name one, its data folder: a data folder is locked by the one board that uses it."""
    with contextlib.ExitStack() as stack:
        servers = []
        for index in range(n):
            folder = log_dir / f'node-{NODE_NAMES[index] if index < len(NODE_NAMES) else index}'
            folder.mkdir(parents=True, exist_ok=True)
            servers.append(Server(*extra_args, log_dir=folder))
            stack.callback(_stop_node, servers[-1])  # registered before it starts: a failed start stops the others
        with ThreadPoolExecutor(max_workers=n) as pool:
            list(pool.map(Server.start, servers))
        yield servers


def _stop_node(server: Server) -> None:
    try:
        server.stop()
    except ProcessLookupError:  # it had exited by itself, its process group with it: nothing is left to stop
        server.process = None


def _stop(process: subprocess.Popen | None, *, kill: bool = False, paused: bool = False) -> None:
    """Stop a process we started, by its PID: SIGTERM (or SIGKILL), then SIGKILL if it is still there after 10 s."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    if paused:
        with contextlib.suppress(ProcessLookupError):
            os.kill(process.pid, signal.SIGCONT)  # a stopped process acts on SIGTERM only once it runs again
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()

"""The `cluster` phase of the benchmark: how many viewers one process holds, against two processes sharing one run
through Redis behind HAProxy (deploy/haproxy.cfg), at the same freshness; and what the engine, Redis and HAProxy
cost per viewer, with a model of a board for 10,000 viewers built from those costs.

    python -m tests.bench.bench --phases cluster [--quick] [--sizes 50,1000] [--cluster-steps 25,50,100]
                                [--cluster-seconds 10] [--cluster-speed 2] [--json tests/bench/results.json]

Full: about 9 minutes on 2 cores; --quick (steps 50 and 150, 5 s windows): about 2.5 minutes. The figures go to
the JSON under "cluster" (what the `board` phase wrote there is kept) and to one table on stdout.

Setups, started afresh for each task count (so memory figures start from a clean process):
  single:  `python main.py` (no --redis); viewers connect to it directly.
  cluster: one redis-server (AOF on, everysec), `python main.py --redis URL` twice, HAProxy with deploy/haproxy.cfg
           in front (its third server, c, gets a port where nothing listens: HAProxy must mark it DOWN and go on;
           that is checked). Viewers connect through HAProxy; it spreads them by leastconn, pages stick by cookie.

Viewers, half of each kind (all in this process, one asyncio loop, at the protocol level):
  page: GET / (a NiceGUI page is built for it), then the page's socket.io socket (engine.io v4 over a WebSocket, as
        nicegui.js opens it, answering the server's pings; when the server closes it, it connects again after
        1 s with the same ids and the next message id, as nicegui.js does). It never reports a scroll range, so at
        N > 500 the server sends it the percents of the first 500 tasks (a desktop browser at the top of the grid
        follows ~400).
  ws:   `/ws?mode=changes`.

Per step (the number of viewers goes up while the target holds, up to the last step): connect the viewers that are
missing (those of the step before stay), reset and start a fresh run (seed 1: the replay knows when every task
reached every percent), let it settle, then measure a window. The step holds when
  - page freshness p95 <= 0.5 s (freshness as in the other phases: time a percent arrived - time the server reached
    it, from the replay), over a sample of page clients on every node;
  - /ws freshness p95 <= 0.5 s + its frame interval (0.5 s: the stream batches by design, so its floor is about
    0.5-0.6 s even with one viewer; see the `board` phase);
  - every viewer kept up: connected throughout, no silence longer than 1.5 s, and the age of what it was sent
    (time received - the newest percent in the message, from the replay; the batching wait is not in it)
    p95 <= 0.5 s.
CPU is read from /proc for every process (the nodes, redis-server, haproxy, this load generator, the whole machine)
over the window; RSS at its end. The machine may be shared: before each step the phase waits (a little) for other
people's processes to calm down, reports what they used in the window ("others"), and (full run only) tries a step
that failed while they used more than half a core once more.
"""
from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import re
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from taskdemo.settings import RunSettings

from ..cluster.servers import NODE_HEADER, Balancer, RedisServer, missing
from ..helpers import Server as Node
from ..helpers import free_port
from .procs import busy_seconds, cpu_seconds, rss_mb, wait_quiet
from .replay import Replay, freshness, percentile

SOCKET_PATH = '/_nicegui_ws/socket.io'
PAGE_TARGET_MS = 500.0
WS_INTERVAL_MS = 500.0  # taskdemo/stream.py sends /ws frames every 0.5 s
AGE_TARGET_MS = 500.0
MAX_SILENCE_S = 1.5
SAMPLES_PER_GROUP = 6  # clients of one kind on one node whose every percent is checked (freshness); all get ages
CONNECT_TIMEOUT_S = 120.0
RECONNECT_DELAY_S = 1.0  # socket.io-client's reconnectionDelay (nicegui.js keeps it)
MAX_RECONNECTS = 5
PAGE_LOADERS = 4  # GET / at a time (each builds a page on the server)
WS_CONNECTORS = 16
TARGET_VIEWERS = 10_000
NODE_BUSY_PCT = 70.0  # the model fills a process up to this much of a core (headroom for bursts and page loads)
CONTENDED_PCT = 50.0  # a step that fails while other people's processes used this much of a core is tried again


@dataclass(frozen=True)
class Plan:
    sizes: list[int]
    steps: list[int]
    window_s: float
    settle_s: float
    quiet_s: float  # at most this long, before each step, for other people's work to calm down
    retry: bool  # a step that failed while other people's work took CONTENDED_PCT % of a core is tried once more
    speed: float
    min_duration: float
    max_duration: float

    @classmethod
    def of(cls, args: Any) -> Plan:
        quick = args.quick
        sizes = args.cluster_sizes or [50, 1000]
        steps = args.cluster_steps or ([50, 150] if quick else [25, 50, 75, 100, 150, 200, 300, 400])
        return cls(sizes=sizes, steps=steps, window_s=args.cluster_seconds or (5.0 if quick else 10.0),
                   settle_s=2.0 if quick else 3.0, quiet_s=1.0 if quick else 8.0, retry=not quick,
                   speed=args.cluster_speed, min_duration=30.0, max_duration=120.0)


# ---- the setups --------------------------------------------------------------------------------------------------

@dataclass
class Setup:
    name: str  # 'single' or 'cluster'
    folder: Path
    nodes: dict[str, Node] = field(default_factory=dict)  # 'single', or 'a' and 'b' (HAProxy's names)
    redis: RedisServer | None = None
    balancer: Balancer | None = None
    dead_port: int | None = None
    c_marked_down: bool | None = None

    @property
    def base(self) -> str:
        """Where viewers connect."""
        return self.balancer.base if self.balancer else self.nodes['single'].base

    @property
    def control(self) -> Node:
        return next(iter(self.nodes.values()))

    def start(self) -> Setup:
        if self.name == 'single':
            self.nodes['single'] = Node(log_dir=self._dir('node-single'))
            self.nodes['single'].start(timeout=60)
            return self
        self.redis = RedisServer(self.folder / 'redis').start()
        self.nodes = {name: Node('--redis', self.redis.url, log_dir=self._dir(f'node-{name}')) for name in 'ab'}
        with ThreadPoolExecutor(2) as pool:
            list(pool.map(lambda node: node.start(timeout=60), self.nodes.values()))
        self.dead_port = free_port()  # server c of deploy/haproxy.cfg: nothing listens there
        self.balancer = Balancer([self.nodes['a'].port, self.nodes['b'].port, self.dead_port],
                                 log_dir=self.folder).start()
        deadline = time.monotonic() + 5
        while not self.c_marked_down and time.monotonic() < deadline:
            self.c_marked_down = any('nodes/c is DOWN' in line for line in self.balancer.down_lines())
            time.sleep(0.1)  # polling HAProxy's log: there is no event to wait on
        return self

    def _dir(self, name: str) -> Path:
        path = self.folder / name
        path.mkdir(parents=True, exist_ok=True)
        return path

    def pids(self) -> dict[str, int]:
        pids = {f'node {name}': node.process.pid for name, node in self.nodes.items() if node.process}
        if self.redis and self.redis.process:
            pids['redis'] = self.redis.process.pid
        if self.balancer and self.balancer.process:
            pids['haproxy'] = self.balancer.process.pid
        return pids

    def engine(self) -> str:
        """The node that advances the run: 'single', or 'a' / 'b' as GET /cluster says."""
        if self.name == 'single':
            return 'single'
        view = httpx.get(f'{self.control.base}/cluster', timeout=10).json()
        port = int(view['engine'].rsplit(':', 1)[1]) if view.get('engine') else None
        return next((name for name, node in self.nodes.items() if node.port == port), '?')

    def cluster_view(self) -> dict[str, Any] | None:
        if self.name == 'single':
            return None
        with contextlib.suppress(httpx.HTTPError, ValueError):
            return httpx.get(f'{self.control.base}/cluster', timeout=10).json()
        return None

    def tracebacks(self) -> int:
        return sum(node.log().count('Traceback') for node in self.nodes.values())

    def stop(self) -> None:
        for stop in ([self.balancer.stop] if self.balancer else []) + [n.stop for n in self.nodes.values()] + \
                ([self.redis.stop] if self.redis else []):
            with contextlib.suppress(Exception):
                stop()


# ---- the viewers ------------------------------------------------------------------------------------------------

class Catalog:
    """Every distinct message text of a step, once: clients keep an int per message, decoded once after the
    window (all pages of a node are sent the same apply batches, all /ws viewers of a node the same frames)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}
        self.texts: list[str] = []

    def key(self, text: str) -> int:
        key = self.ids.get(text)
        if key is None:
            key = self.ids[text] = len(self.texts)
            self.texts.append(text)
        return key


@dataclass(eq=False)
class Client:
    kind: str  # 'page' or 'ws'
    index: int
    node: str = '?'
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    times: list[float] = field(default_factory=list)  # every message received (a page: apply batches and the rest)
    keys: list[int] = field(default_factory=list)  # its Catalog key; -1: not a batch of percents
    received: int = 0  # characters, all messages so far
    window_chars: int = 0  # characters received in the measurement window
    next_id: int = 0  # a page: the NiceGUI message it asks for when it connects again
    reconnects: int = 0  # a page: how often the server closed its socket and it connected again
    error: str = ''
    failed_at: float = 0.0
    ws: Any = None
    task: asyncio.Task | None = None

    def clear(self) -> None:
        self.times, self.keys, self.reconnects = [], [], 0


class Crowd:
    """The viewers of one setup: added step by step, cleared of their records before each fresh run."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.clients: list[Client] = []
        self.catalog = Catalog()
        self.loaders = [httpx.AsyncClient(timeout=60) for _ in range(PAGE_LOADERS)]  # each its own cookie jar

    def of(self, kind: str) -> list[Client]:
        return [c for c in self.clients if c.kind == kind]

    async def grow(self, pages: int, streams: int) -> float:
        """Add clients up to `pages` page clients and `streams` /ws viewers; returns the seconds it took until all
        new ones had their first message (or failed)."""
        began = time.monotonic()
        self.clients = [c for c in self.clients if not c.error]  # cut off in a step before: replaced
        new = [Client('page', i) for i in range(len(self.of('page')), pages)] + \
              [Client('ws', i) for i in range(len(self.of('ws')), streams)]
        self.clients += new
        queue: asyncio.Queue[Client] = asyncio.Queue()
        for client in new:
            if client.kind == 'page':
                queue.put_nowait(client)
        gate = asyncio.Semaphore(WS_CONNECTORS)

        async def connected(client: Client) -> None:
            """Until the client has its first message, or has failed."""
            assert client.task is not None
            waiter = asyncio.ensure_future(client.ready.wait())
            await asyncio.wait([waiter, client.task], return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()

        async def loader(http: httpx.AsyncClient) -> None:
            while not queue.empty():
                client = queue.get_nowait()
                client.task = asyncio.create_task(self._page(client, http))
                await connected(client)

        async def opener(client: Client) -> None:
            async with gate:
                client.task = asyncio.create_task(self._stream(client))
                await connected(client)

        await asyncio.wait_for(asyncio.gather(*(loader(http) for http in self.loaders),
                                              *(opener(c) for c in new if c.kind == 'ws')), CONNECT_TIMEOUT_S)
        return time.monotonic() - began

    async def _page(self, client: Client, http: httpx.AsyncClient) -> None:
        """GET / and then the page's socket.io socket; a socket the server closes is opened again as nicegui.js does
        (same client, document and tab, asking for the messages after the last one it had), after socket.io's
        usual delay: a browser would do the same, and NiceGUI keeps the page for it."""
        try:
            http.cookies.clear()
            response = await http.get(f'{self.base}/')
            client.node = response.headers.get(NODE_HEADER, 'single')
            client_id = re.search(r"'client_id': '([0-9a-f-]+)'", response.text)
            next_id = re.search(r"'next_message_id': (\d+)", response.text)
            if response.status_code != 200 or not client_id or not next_id:
                raise RuntimeError(f'GET / answered {response.status_code} without a socket.io query')
            ids = f'client_id={client_id[1]}&document_id={os.urandom(8).hex()}&tab_id={os.urandom(8).hex()}'
            headers = {'Cookie': f'TASKDEMO_NODE={client.node}'} if client.node != 'single' else None
            client.next_id = int(next_id[1])
            while True:
                query = f'{ids}&next_message_id={client.next_id}&implicit_handshake=true&old_tab_id=&EIO=4' \
                        '&transport=websocket'
                with contextlib.suppress(ConnectionClosed):
                    await self._page_socket(client, f'{self.base.replace("http", "ws", 1)}{SOCKET_PATH}/?{query}',
                                            headers)
                client.reconnects += 1
                if client.reconnects > MAX_RECONNECTS:
                    raise RuntimeError(f'the server closed the socket {client.reconnects} times')
                await asyncio.sleep(RECONNECT_DELAY_S)
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001 (a client that fails is a result)
            client.error = f'{type(error).__name__}: {error}'[:200]
            client.failed_at = time.time()
            client.ready.set()

    async def _page_socket(self, client: Client, url: str, headers: dict[str, str] | None) -> None:
        """One socket.io connection of a page, until the server closes it."""
        async with connect(url, additional_headers=headers, open_timeout=60, ping_interval=None,
                           close_timeout=2, max_size=None) as ws:
            client.ws = ws
            opened = await asyncio.wait_for(ws.recv(), 30)
            if not str(opened).startswith('0'):
                raise RuntimeError(f'no engine.io open packet: {str(opened)[:80]}')
            await ws.send('40')  # socket.io: join the namespace "/" (the page's implicit handshake)
            async for text in ws:
                if text == '2':
                    await ws.send('3')  # engine.io ping -> pong, or the server drops the page
                    continue
                if text.startswith('40'):
                    client.ready.set()
                    continue
                if text.startswith('44'):
                    raise RuntimeError('the server refused the page its socket (its client is gone)')
                key = -1
                cut = text.rfind(',"_id":')
                if cut > 0:
                    client.next_id = int(text[cut + 7:text.index('}', cut)]) + 1
                    if text.startswith('42["run_javascript"') and '\\"apply\\"' in text[:90]:
                        key = self.catalog.key(text[:cut])  # per step: the catalog is replaced
                client.times.append(time.time())
                client.keys.append(key)
                client.received += len(text)

    async def _stream(self, client: Client) -> None:
        try:
            async with connect(f'{self.base.replace("http", "ws", 1)}/ws?mode=changes', open_timeout=60,
                               ping_interval=None, close_timeout=2, max_size=None) as ws:
                client.ws = ws
                client.node = ws.response.headers.get(NODE_HEADER, 'single')
                async for text in ws:
                    client.times.append(time.time())
                    client.keys.append(self.catalog.key(text))
                    client.received += len(text)
                    client.ready.set()
                raise RuntimeError('the server closed the stream')
        except asyncio.CancelledError:
            raise
        except Exception as error:  # noqa: BLE001
            client.error = f'{type(error).__name__}: {error}'[:200]
            client.failed_at = time.time()
            client.ready.set()

    def restart_records(self) -> None:
        """A new catalog and empty records for every client, at one instant (nothing awaits in between)."""
        self.catalog = Catalog()
        for client in self.clients:
            client.clear()

    async def close(self) -> None:
        sockets = [c.ws for c in self.clients if c.ws is not None]
        if sockets:
            await asyncio.wait([asyncio.ensure_future(ws.close()) for ws in sockets], timeout=5)
        for client in self.clients:
            if client.ws is not None:
                with contextlib.suppress(Exception):
                    client.ws.transport.abort()
            if client.task is not None:
                client.task.cancel()
        tasks = [c.task for c in self.clients if c.task is not None]
        if tasks:
            await asyncio.wait(tasks, timeout=5)
        self.clients = []

    async def aclose(self) -> None:
        await self.close()
        for http in self.loaders:
            await http.aclose()


# ---- decoding what the clients were sent -------------------------------------------------------------------------

Decoded = tuple[list[tuple[int, int]], list[int]]  # (running task, percent) pairs; tasks that stopped running


def decode_page(text: str) -> Decoded:
    """An apply batch (taskdemo/ui/grid_wire.py) as the page's socket.io event carries it."""
    event = json.loads(text[2:] + '}]')  # the key is the packet without its `,"_id":N}]` tail
    code = event[1]['code']
    start = code.index('"apply", ') + len('"apply", ')
    batch = json.loads(code[start:code.rindex(')')])[0]
    return [(packed >> 7, packed & 127) for packed in batch.get('p', [])], [row[0] for row in batch.get('s', [])]


def decode_ws(text: str) -> Decoded:
    frame = json.loads(text)
    pairs, gone = [], []
    for key, entry in frame['individual'].items():
        if entry['status'] == 'in_progress':
            pairs.append((int(key), entry['progress']))
        else:
            gone.append(int(key))
    for first, *percents in frame.get('running', ()):
        pairs += [(first + offset, pct) for offset, pct in enumerate(percents)]
    return pairs, gone


def newest(replay: Replay, pairs: list[tuple[int, int]]) -> float | None:
    """When the server had reached the newest percent among `pairs`: the tick the message was made from, at the
    latest (tight with many tasks)."""
    return max((replay.reached(task, pct) for task, pct in pairs if 0 < pct < 100), default=None)


# ---- one measurement -------------------------------------------------------------------------------------------

class Measure:
    def __init__(self, setup: Setup, plan: Plan, tasks: int, log: Callable[[str], None]) -> None:
        self.setup = setup
        self.plan = plan
        self.settings = RunSettings(tasks=tasks, seed=1, speed=plan.speed, min_duration=plan.min_duration,
                                    max_duration=plan.max_duration)
        self.replay = Replay.of(self.settings, started_at=0.0)
        self.log = log
        self.http = httpx.AsyncClient(timeout=60)
        self.crowd = Crowd(setup.base)
        self.engine = '?'
        self.downs_at_start: list[str] = []

    async def fresh_run(self) -> int:
        """Reset and start; returns how many times that was refused first (503: no engine for a moment, as while
        one takes over from another)."""
        base = self.setup.control.base
        refused, deadline = 0, time.monotonic() + 20
        while True:
            reset = await self.http.post(f'{base}/reset')
            started = await self.http.post(f'{base}/start', json=self.settings.as_dict()) \
                if reset.status_code == 200 else reset
            answer = started.json()
            if started.status_code != 503 or time.monotonic() > deadline:
                break
            refused += 1
            await asyncio.sleep(0.5)
        self.engine = await asyncio.to_thread(self.setup.engine)
        engine_base = self.setup.nodes[self.engine].base if self.engine in self.setup.nodes else base
        status = (await self.http.get(f'{engine_base}/status')).json()
        if (status['state'] != 'running' or status['total'] != self.settings.tasks
                or status['settings'] != self.settings.as_dict()):
            raise RuntimeError(f'the run did not start as asked: {answer}, state {status["state"]}')
        self.replay = replace(self.replay, started_at=status['started_at'])
        return refused

    def wait_others_quiet(self, busy_pct: float = 40.0) -> float:
        """Wait (at most `plan.quiet_s`) until processes this benchmark did not start use under `busy_pct` % of a
        core over 1 s: the machine is shared, and their work would slow ours. Returns the last figure."""
        deadline = time.monotonic() + self.plan.quiet_s
        while True:
            before = self.costs()
            time.sleep(1.0)
            others = self.cpu(before, self.costs())['cpu_pct']['others']
            if others < busy_pct or time.monotonic() > deadline:
                return others

    def costs(self) -> dict[str, float]:
        readings = {'time': time.time(), 'machine': busy_seconds(), 'generator': cpu_seconds(os.getpid())}
        for name, pid in self.setup.pids().items():
            readings[name] = cpu_seconds(pid)
        return readings

    async def step(self, viewers: int) -> dict[str, Any]:
        pages = viewers // 2
        result: dict[str, Any] = {'viewers': viewers, 'page_clients': pages, 'ws_clients': viewers - pages}
        if viewers:
            result['connect_s'] = round(await self.crowd.grow(pages, viewers - pages), 1)
        result['others_before_pct'] = await asyncio.to_thread(self.wait_others_quiet)
        downs_before = self.downs_at_start = self.node_downs()
        probe = StallProbe({name: node.base for name, node in self.setup.nodes.items()})
        probing = asyncio.create_task(probe.watch())
        try:
            result['start_refused'] = await self.fresh_run()
            self.crowd.restart_records()
            await asyncio.sleep(self.plan.settle_s)
            probe.mark()
            lag = LoopLag()
            lagging = asyncio.create_task(lag.watch())
            before = await asyncio.to_thread(self.costs)
            chars = [c.received for c in self.crowd.clients]
            await asyncio.sleep(self.plan.window_s)
            after = await asyncio.to_thread(self.costs)
            for client, had in zip(self.crowd.clients, chars, strict=True):
                client.window_chars = client.received - had
            lag.stop = True
            await lagging
        finally:
            probe.stop = True
            await probing
            await probe.http.aclose()
        result['node_stall_ms'] = probe.figures()
        result['haproxy_took_out'] = self.node_downs()[len(downs_before):]
        result.update(self.cpu(before, after))
        result['rss_mb'] = {name: round(rss_mb(pid), 1) for name, pid in self.setup.pids().items()}
        result['engine'] = self.engine
        result['engine_after'] = await asyncio.to_thread(self.setup.engine)
        result['generator_loop_lag_ms'] = {'p95': round(percentile(sorted(lag.lags), 95) * 1000, 1),
                                           'max': round(max(lag.lags, default=0) * 1000, 1)}
        view = await asyncio.to_thread(self.setup.cluster_view)
        if view:
            result['cluster_view'] = {p['port']: {k: p[k] for k in ('role', 'behind_s', 'behind_versions', 'viewers')}
                                      for p in view['processes']}
        if viewers:
            result.update(self.judge(before['time'], after['time']))
            if result['engine_after'] != self.engine:
                result['held'] = False
                result['why'].append(f'the engine changed in the step ({self.engine} -> {result["engine_after"]})')
        return result

    def cpu(self, before: dict[str, float], after: dict[str, float]) -> dict[str, Any]:
        wall = after['time'] - before['time']
        pct = {name: round(100 * (after[name] - before[name]) / wall, 1) for name in after if name != 'time'}
        ours = sum(v for k, v in pct.items() if k != 'machine')
        pct['others'] = round(pct['machine'] - ours, 1)  # processes this benchmark did not start
        engine = f'node {self.engine}'
        return {'wall_s': round(wall, 2), 'cpu_pct': pct, 'engine_cpu_pct': pct.get(engine),
                'mirror_cpu_pct': next((v for k, v in pct.items() if k.startswith('node ') and k != engine), None)}

    def judge(self, begin: float, end: float) -> dict[str, Any]:
        decoded: dict[int, Decoded] = {}
        texts = self.crowd.catalog.texts
        kinds: dict[str, Any] = {}
        for kind, decode in (('page', decode_page), ('ws', decode_ws)):
            clients = self.crowd.of(kind)
            ages_all: list[float] = []
            kept, problems = 0, {'errors': 0, 'silent': 0, 'late': 0}
            groups: dict[str, dict[str, Any]] = {}
            for client in clients:
                ages = []
                for received, key in zip(client.times, client.keys, strict=True):
                    if key < 0 or not begin <= received <= end:
                        continue
                    if key not in decoded:
                        decoded[key] = decode(texts[key])
                    made = newest(self.replay, decoded[key][0])
                    if made is not None:
                        ages.append(received - made)
                window = [t for t in client.times if begin <= t <= end]
                edges = [begin, *window, end]
                silence = max(b - a for a, b in zip(edges, edges[1:], strict=False))
                ages.sort()
                age_p95 = percentile(ages, 95) if ages else math.inf
                ok = not client.error and silence <= MAX_SILENCE_S and age_p95 * 1000 <= AGE_TARGET_MS
                kept += ok
                problems['errors'] += bool(client.error)
                problems['silent'] += not client.error and silence > MAX_SILENCE_S
                problems['late'] += not client.error and age_p95 * 1000 > AGE_TARGET_MS
                ages_all += ages
                group = groups.setdefault(client.node, {'clients': [], 'ages': []})
                group['clients'].append(client)
                group['ages'] += ages
            by_node, samples_all = {}, []
            for node, group in sorted(groups.items()):
                sampled = group['clients'][::max(1, math.ceil(len(group['clients']) / SAMPLES_PER_GROUP))]
                samples = [s for c in sampled if not c.error for s in self.samples(c, decoded, decode, begin, end)]
                samples_all += samples
                ages = sorted(group['ages'])
                by_node[node] = {'clients': len(group['clients']), 'sampled': len(sampled),
                                 'role': 'engine' if node == self.engine else 'mirror',
                                 'freshness': freshness(self.replay, samples, (begin + end) / 2),
                                 'age_p50_ms': round(percentile(ages, 50) * 1000, 1) if ages else None,
                                 'age_p95_ms': round(percentile(ages, 95) * 1000, 1) if ages else None}
            ages_all.sort()
            kinds[kind] = {
                'clients': len(clients), 'kept_up': kept, **problems,
                'error_examples': sorted({c.error for c in clients if c.error})[:3],
                'errors_by_node': {node: sum(1 for c in group['clients'] if c.error) for node, group in groups.items()
                                   if any(c.error for c in group['clients'])},
                'errors_before_window': sum(1 for c in clients if c.error and c.failed_at < begin),
                'reconnected': sum(1 for c in clients if c.reconnects),  # since the fresh run: its socket was closed
                'error_details': [f'#{c.index} on {c.node} at {c.failed_at - begin:+.1f} s from the window: {c.error}'
                                  for c in clients if c.error][:8],
                'freshness': freshness(self.replay, samples_all, (begin + end) / 2),
                'age_p95_ms': round(percentile(ages_all, 95) * 1000, 1) if ages_all else None,
                'chars_per_client_s': round(sum(c.window_chars for c in clients) / max(1, len(clients))
                                            / max(0.001, end - begin)),
                'by_node': by_node}
        why = []
        for kind, limit in (('page', PAGE_TARGET_MS), ('ws', PAGE_TARGET_MS + WS_INTERVAL_MS)):
            figures = kinds[kind]
            p95 = figures['freshness']['p95_ms']
            if figures['clients'] and (p95 is None or p95 > limit):
                why.append(f'{kind} freshness p95 {p95} ms > {limit:.0f}')
            if figures['kept_up'] < figures['clients']:
                why.append(f'{kind}: {figures["clients"] - figures["kept_up"]} of {figures["clients"]} fell behind '
                           f'(cut {figures["errors"]} {figures["errors_by_node"] or ""}, '
                           f'{figures["errors_before_window"]} of them before the window; silent '
                           f'>{MAX_SILENCE_S:g} s {figures["silent"]}; age p95 > {AGE_TARGET_MS:.0f} ms '
                           f'{figures["late"]})')
        for line in self.node_downs()[len(self.downs_at_start):]:
            why.append('HAProxy took a node out: ' + line.split(', check duration')[0].split(' : ', 1)[-1])
        return {**kinds, 'held': not why, 'why': why}

    def node_downs(self) -> list[str]:
        """HAProxy's reports of a node (not c, where nothing listens) taken out, so far."""
        if not self.setup.balancer:
            return []
        return [line for line in self.setup.balancer.down_lines() if 'nodes/c ' not in line]

    def samples(self, client: Client, decoded: dict[int, Decoded], decode: Callable[[str], Decoded],
                begin: float, end: float) -> list[tuple[float, int, int]]:
        """(time received, task, percent) for each percent this client was sent that differs from the one it had."""
        shown: dict[int, int] = {}
        found = []
        for received, key in zip(client.times, client.keys, strict=True):
            if key < 0 or received > end:
                continue
            if key not in decoded:
                decoded[key] = decode(self.crowd.catalog.texts[key])
            pairs, gone = decoded[key]
            for task in gone:
                shown.pop(task, None)
            for task, pct in pairs:
                if task in shown and shown[task] != pct and received >= begin:
                    found.append((received, task, pct))
                shown[task] = pct
        return found

    async def close(self) -> None:
        await self.crowd.aclose()
        await self.http.aclose()


class StallProbe:
    """GET /favicon.ico on every node, straight, every 250 ms (HAProxy's health check, at its fast pace): the longest
    answer while the run starts and settles, and in the window. HAProxy takes a node out after two checks of
    more than 1 s in a row."""

    def __init__(self, bases: dict[str, str]) -> None:
        self.bases = bases
        self.http = httpx.AsyncClient(timeout=5)
        self.waits: dict[str, list[tuple[float, float]]] = {name: [] for name in bases}
        self.window_from = math.inf
        self.stop = False

    def mark(self) -> None:
        self.window_from = time.time()

    async def watch(self) -> None:
        async def one(name: str, base: str) -> None:
            while not self.stop:
                began = time.time()
                try:
                    await self.http.get(f'{base}/favicon.ico')
                    waited = time.time() - began
                except httpx.HTTPError:
                    waited = 5.0
                self.waits[name].append((began, waited))
                await asyncio.sleep(max(0.0, 0.25 - waited))
        await asyncio.gather(*(one(name, base) for name, base in self.bases.items()))

    def figures(self) -> dict[str, dict[str, float]]:
        return {name: {'start_max': round(1000 * max((w for t, w in waits if t < self.window_from), default=0)),
                       'window_max': round(1000 * max((w for t, w in waits if t >= self.window_from), default=0))}
                for name, waits in self.waits.items()}


class LoopLag:
    """This process's own event loop: how late a 50 ms sleep wakes. A late client may be the generator's fault."""

    def __init__(self) -> None:
        self.lags: list[float] = []
        self.stop = False

    async def watch(self, every: float = 0.05) -> None:
        while not self.stop:
            began = time.monotonic()
            await asyncio.sleep(every)
            self.lags.append(max(0.0, time.monotonic() - began - every))


# ---- the phase -------------------------------------------------------------------------------------------------

async def measure_size(setup: Setup, plan: Plan, tasks: int, log: Callable[[str], None]) -> dict[str, Any]:
    measure = Measure(setup, plan, tasks, log)
    steps: list[dict[str, Any]] = []
    try:
        log(f'cluster: {setup.name}, N={tasks}: no viewer')
        steps.append(await measure.step(0))
        for viewers in plan.steps:
            log(f'cluster: {setup.name}, N={tasks}: {viewers} viewers')
            for attempt in (1, 2):
                try:
                    result = await measure.step(viewers)
                except Exception as error:  # noqa: BLE001 (a step that cannot be measured ends the ramp, reported)
                    result = {'viewers': viewers, 'held': False, 'why': [f'{type(error).__name__}: {error}'[:300]]}
                others = result.get('cpu_pct', {}).get('others', 0)
                if result.get('held') or others < CONTENDED_PCT or attempt == 2 or not plan.retry:
                    break
                log(f'  failed while processes not ours used {others:.0f} % of a core: once more')
                first = result
            if attempt == 2:
                result['first_attempt'] = {'why': first['why'], 'others_pct': first['cpu_pct']['others']}
            steps.append(result)
            last = steps[-1]
            log(f'  {"held" if last.get("held") else "FAILED"}: ' + '; '.join(
                last.get('why', [])) + _brief(last))
            if not last.get('held'):
                break
    finally:
        await measure.close()
    held = [s['viewers'] for s in steps if s['viewers'] and s.get('held')]
    return {'tasks': tasks, 'setup': setup.name, 'steps': steps, 'held_max': max(held, default=0),
            'capped': bool(held) and max(held) == plan.steps[-1]}


def _brief(step: dict[str, Any]) -> str:
    if 'page' not in step:
        return ''
    return (f' | page fresh p95 {step["page"]["freshness"]["p95_ms"]} ms, ws fresh p95 '
            f'{step["ws"]["freshness"]["p95_ms"]} ms, cpu {step["cpu_pct"]}')


async def run_cluster(args: Any, log: Callable[[str], None]) -> dict[str, Any]:
    plan = Plan.of(args)
    began = time.monotonic()
    report: dict[str, Any] = {'plan': plan.__dict__, 'runs': [], 'problems': []}
    setups = ['single', 'cluster']
    if missing('redis-server') or missing('haproxy'):
        report['problems'].append(missing('redis-server') or missing('haproxy'))
        setups = ['single']
    root = Path(tempfile.mkdtemp(prefix='taskdemo-bench-cluster-'))
    for tasks in plan.sizes:  # fresh processes for each task count: memory figures start from a clean process
        for name in setups:
            report['machine_busy_before_pct'] = wait_quiet(timeout_s=1.0 if args.quick else 8.0)
            setup = Setup(name, root / f'{name}-{tasks}')
            try:
                await asyncio.to_thread(setup.start)
                if name == 'cluster':
                    report['haproxy_marked_c_down'] = setup.c_marked_down
                    log(f'cluster: HAProxy marked server c (port {setup.dead_port}, nothing there) down: '
                        f'{setup.c_marked_down}')
                report['runs'].append(await measure_size(setup, plan, tasks, log))
            except Exception as error:  # noqa: BLE001
                report['problems'].append(f'{name}, N={tasks}: {type(error).__name__}: {error}'[:500])
                log(f'cluster: {name} failed: {error}')
            finally:
                if setup.tracebacks():
                    report['problems'].append(f'{name}, N={tasks}: the nodes logged {setup.tracebacks()} traceback(s): '
                                              + ' | '.join(n.log()[-800:] for n in setup.nodes.values()
                                                           if 'Traceback' in n.log()))
                if setup.balancer:
                    report.setdefault('haproxy_down_lines', []).extend(setup.balancer.down_lines()[:8])
                    report.setdefault('node_log_notes', []).extend(_notes(setup))
                await asyncio.to_thread(setup.stop)
    report['logs'] = str(root)  # every process's log (and Redis's AOF), kept for a look afterwards
    report['summary'] = summarize(report['runs'], plan)
    report['took_s'] = round(time.monotonic() - began, 1)
    return report


# ---- figures -----------------------------------------------------------------------------------------------------

def _notes(setup: Setup) -> list[str]:
    """What the cluster nodes said about their lease and Redis (a lost lease, a timeout), a few lines of each."""
    notes = []
    for name, node in setup.nodes.items():
        lines = [line for line in node.log().splitlines() if re.search(r'lease|Redis|took over|steps down', line)]
        notes += [f'node {name}: {line[-200:]}' for line in lines[:6]]
    return notes


def _run(runs: list[dict[str, Any]], setup: str, tasks: int) -> dict[str, Any] | None:
    return next((r for r in runs if r['setup'] == setup and r['tasks'] == tasks), None)


def _costed(run: dict[str, Any]) -> list[dict[str, Any]]:
    """The steps whose costs count: measured, and no viewer cut off (a cut viewer costs nothing any more)."""
    return [s for s in run['steps'] if 'cpu_pct' in s and not any(
        s.get(kind, {}).get('errors') for kind in ('page', 'ws') if isinstance(s.get(kind), dict))]


def _per_100(run: dict[str, Any], name: str, what: str) -> float | None:
    """The least-squares slope of a figure over the viewers of the costed steps (0 included), per 100 viewers."""
    points = [(s['viewers'], s[what][name]) for s in _costed(run) if name in s[what]]
    if len({v for v, _ in points}) < 2:
        return None
    mean_v = sum(v for v, _ in points) / len(points)
    mean_y = sum(y for _, y in points) / len(points)
    slope = sum((v - mean_v) * (y - mean_y) for v, y in points) / sum((v - mean_v) ** 2 for v, _ in points)
    return round(100 * slope, 2)


def summarize(runs: list[dict[str, Any]], plan: Plan) -> dict[str, Any]:
    summary: dict[str, Any] = {}
    for tasks in plan.sizes:
        single, cluster = _run(runs, 'single', tasks), _run(runs, 'cluster', tasks)
        figures: dict[str, Any] = {}
        if single:
            base = single['steps'][0]
            top = _top(single)
            figures.update({
                'single_held': single['held_max'], 'single_capped': single['capped'],
                'single_cpu_0_pct': base['cpu_pct'].get('node single'),
                'single_top_viewers': top['viewers'] if top else None,
                'single_cpu_top_pct': top['cpu_pct'].get('node single') if top else None,
                'single_cpu_per_100': _per_100(single, 'node single', 'cpu_pct'),
                'single_rss_0_mb': base['rss_mb'].get('node single'),
                'single_rss_per_100_mb': _per_100(single, 'node single', 'rss_mb'),
                'generator_cpu_single_top_pct': top['cpu_pct']['generator'] if top else None})
        if cluster:
            base = cluster['steps'][0]
            top = _top(cluster)
            figures.update({
                'cluster_held': cluster['held_max'], 'cluster_capped': cluster['capped'],
                'engine_cpu_0_pct': base.get('engine_cpu_pct'), 'mirror_cpu_0_pct': base.get('mirror_cpu_pct'),
                'top_viewers': top['viewers'] if top else None,
                'engine_cpu_top_pct': top.get('engine_cpu_pct') if top else None,
                'mirror_cpu_top_pct': top.get('mirror_cpu_pct') if top else None,
                'redis_cpu_0_pct': base['cpu_pct'].get('redis'), 'haproxy_cpu_0_pct': base['cpu_pct'].get('haproxy'),
                'redis_rss_0_mb': base['rss_mb'].get('redis'), 'haproxy_rss_0_mb': base['rss_mb'].get('haproxy'),
                'redis_cpu_per_100': _per_100(cluster, 'redis', 'cpu_pct'),
                'haproxy_cpu_per_100': _per_100(cluster, 'haproxy', 'cpu_pct'),
                'redis_rss_per_100_mb': _per_100(cluster, 'redis', 'rss_mb'),
                'haproxy_rss_per_100_mb': _per_100(cluster, 'haproxy', 'rss_mb'),
                'generator_cpu_top_pct': top['cpu_pct']['generator'] if top else None})
        if single and cluster and single['held_max']:
            figures['ratio'] = round(cluster['held_max'] / single['held_max'], 2)
            figures['ratio_is_lower_bound'] = cluster['capped']
        figures['model'] = model(figures)
        summary[str(tasks)] = figures
    return summary


def _top(run: dict[str, Any]) -> dict[str, Any] | None:
    """The step with the most viewers measured, held or not, with none of them cut off."""
    return max((s for s in _costed(run) if s['viewers']), key=lambda s: s['viewers'], default=None)


def model(f: dict[str, Any]) -> dict[str, Any] | None:
    """Processes and cores for TARGET_VIEWERS viewers of the measured mix (half pages, half /ws?mode=changes) at the
    same task count, from the per-viewer costs. Assumptions, each a simplification:
    - a process's CPU grows linearly with its viewers: the slope of the single process from 0 viewers to its
      largest step; a Python process uses at most one core;
    - two ways to fill a process: `by_cpu`, up to NODE_BUSY_PCT % of a core (headroom for run starts and page
      loads); `by_hold`, the viewers one process was seen to hold on this shared 2-core machine (when it held the
      first step and not the cap), the lower and safer figure;
    - every process is a cluster process: its cost with no viewer is the mirror's (following Redis), and the
      engine's extra work (engine - mirror with no viewer) is paid once;
    - Redis grows with processes, not viewers (each follows the one stream): its no-viewer CPU at 2 processes / 2
      per process; its memory does not grow with viewers;
    - HAProxy grows with viewers: its measured slope (it relays every byte of every viewer).
    - the load generator is not in it (viewers are elsewhere)."""
    slope = f.get('single_cpu_per_100')
    base = f.get('single_cpu_0_pct')
    if not slope or slope <= 0 or base is None:
        return None
    mirror_base = f.get('mirror_cpu_0_pct') if f.get('mirror_cpu_0_pct') is not None else base
    engine_extra = max(0.0, (f.get('engine_cpu_0_pct') or mirror_base) - mirror_base)
    rss_slope = max(0.0, f.get('single_rss_per_100_mb') or 0)
    haproxy_cores = ((f.get('haproxy_cpu_0_pct') or 0) + max(0.0, f.get('haproxy_cpu_per_100') or 0)
                     * TARGET_VIEWERS / 100) / 100
    fills = {'by_cpu': int(100 * (NODE_BUSY_PCT - mirror_base) / slope)}
    if f.get('single_held') and not f.get('single_capped'):
        fills['by_hold'] = f['single_held']
    result: dict[str, Any] = {'haproxy_cores': round(haproxy_cores, 2),
                              'haproxy_rss_mb': round((f.get('haproxy_rss_0_mb') or 0) + max(
                                  0.0, f.get('haproxy_rss_per_100_mb') or 0) * TARGET_VIEWERS / 100)}
    for name, per_process in fills.items():
        per_process = max(1, per_process)
        processes = math.ceil(TARGET_VIEWERS / per_process)
        node_cores = (processes * (mirror_base + per_process * slope / 100) + engine_extra) / 100
        redis_cores = (f.get('redis_cpu_0_pct') or 0) / 2 * processes / 100
        result[name] = {'viewers_per_process': per_process, 'processes': processes,
                        'node_cores': round(node_cores, 1), 'redis_cores': round(redis_cores, 2),
                        'cores': round(node_cores + redis_cores + haproxy_cores, 1),
                        'node_rss_gb': round(processes * ((f.get('single_rss_0_mb') or 0)
                                                          + per_process * rss_slope / 100) / 1024, 1)}
    return result


def _fmt(value: Any, unit: str = '', digits: int = 1) -> str:
    if value is None:
        return 'n/a'
    if isinstance(value, float):
        return f'{value:.{digits}f}{unit}'
    return f'{value}{unit}'


def render(report: dict[str, Any]) -> str:
    """One table: a row per figure, a column per task count."""
    sizes = [int(n) for n in report['summary']]
    runs = report['runs']

    def step_cell(setup: str, tasks: int, viewers: int) -> str:
        run = _run(runs, setup, tasks)
        step = next((s for s in run['steps'] if s['viewers'] == viewers), None) if run else None
        if step is None:
            return '-'
        if 'page' not in step:
            return 'FAILED: ' + '; '.join(step.get('why', []))[:80]
        cpu = step['cpu_pct']
        nodes = '+'.join(f'{cpu[k]:.0f}' for k in cpu if k.startswith('node '))
        page, ws = step['page'], step['ws']
        return (f'{"ok" if step["held"] else "NO"}: fresh p95 page/ws {_fmt(page["freshness"]["p95_ms"], "", 0)}'
                f'/{_fmt(ws["freshness"]["p95_ms"], "", 0)} ms, kept {page["kept_up"] + ws["kept_up"]}/{viewers}; '
                f'CPU node {nodes}, gen {cpu["generator"]:.0f}, others {cpu["others"]:.0f} %; longest stall of a '
                f'node at run start / in window {_stalls(step)} ms')

    rows: list[tuple[str, Callable[[int], str]]] = []
    all_steps = sorted({s['viewers'] for r in runs for s in r['steps'] if s['viewers']})
    for setup in ('single', 'cluster'):
        for viewers in all_steps:
            rows.append((f'{setup}: {viewers} viewers', lambda n, s=setup, v=viewers: step_cell(s, n, v)))
    s = report['summary']
    rows += [
        ('viewers held, 1 process (freshness and all kept up)', lambda n: _held(s[str(n)], 'single')),
        ('viewers held, 2 processes + Redis + HAProxy', lambda n: _held(s[str(n)], 'cluster')),
        ('2 processes / 1 process (target >= 1.5)', lambda n: _fmt(s[str(n)].get('ratio'), 'x', 2) + (
            ' (at least: the cap held)' if s[str(n)].get('ratio_is_lower_bound') else '')),
        ('1 process: CPU with 0 viewers / at most viewers (% of 1 core)', lambda n: (
            f'{_fmt(s[str(n)].get("single_cpu_0_pct"))} / {_fmt(s[str(n)].get("single_cpu_top_pct"))} % '
            f'(at {s[str(n)].get("single_top_viewers")}); +{_fmt(s[str(n)].get("single_cpu_per_100"))} % per 100')),
        ('cluster engine CPU, 0 viewers / at most viewers (% of 1 core)', lambda n: (
            f'{_fmt(s[str(n)].get("engine_cpu_0_pct"))} / {_fmt(s[str(n)].get("engine_cpu_top_pct"))} % '
            f'(at {s[str(n)].get("top_viewers")}; the mirror: {_fmt(s[str(n)].get("mirror_cpu_0_pct"))} / '
            f'{_fmt(s[str(n)].get("mirror_cpu_top_pct"))} %)')),
        ('Redis CPU: 0 viewers; per 100 viewers (% of 1 core)', lambda n: (
            f'{_fmt(s[str(n)].get("redis_cpu_0_pct"))} %; {_fmt(s[str(n)].get("redis_cpu_per_100"), " %", 2)}')),
        ('Redis RSS: 0 viewers; per 100 viewers (MB)', lambda n: (
            f'{_fmt(s[str(n)].get("redis_rss_0_mb"))}; {_fmt(s[str(n)].get("redis_rss_per_100_mb"), "", 2)}')),
        ('HAProxy CPU: 0 viewers; per 100 viewers (% of 1 core)', lambda n: (
            f'{_fmt(s[str(n)].get("haproxy_cpu_0_pct"))} %; {_fmt(s[str(n)].get("haproxy_cpu_per_100"), " %", 2)}')),
        ('HAProxy RSS: 0 viewers; per 100 viewers (MB)', lambda n: (
            f'{_fmt(s[str(n)].get("haproxy_rss_0_mb"))}; {_fmt(s[str(n)].get("haproxy_rss_per_100_mb"), "", 2)}')),
        ('load generator CPU at the top step, 1 / 2 processes (% of 1 core)', lambda n: (
            f'{_fmt(s[str(n)].get("generator_cpu_single_top_pct"))} / '
            f'{_fmt(s[str(n)].get("generator_cpu_top_pct"))} %')),
        ('payload per viewer, page / ws (KB/s of message text, at the top step of 1 process)', lambda n: (
            _payload(_run(runs, 'single', n)))),
        ('1 process: RSS with 0 viewers; per 100 viewers (MB)', lambda n: (
            f'{_fmt(s[str(n)].get("single_rss_0_mb"))}; {_fmt(s[str(n)].get("single_rss_per_100_mb"), "", 1)}')),
        (f'model, {TARGET_VIEWERS:,} viewers: processes x viewers each; cores (nodes + Redis + HAProxy)',
         lambda n: _model(s[str(n)].get('model'))),
    ]
    header = ['figure'] + [f'N={n:,}' for n in sizes]
    lines = ['| ' + ' | '.join(header) + ' |', '|' + '---|' * len(header)]
    for label, cell in rows:
        cells = []
        for n in sizes:
            try:
                cells.append(cell(n))
            except (KeyError, TypeError, ValueError) as error:
                cells.append(f'n/a ({error})')
        lines.append('| ' + ' | '.join([label, *cells]) + ' |')
    return '\n'.join(lines)


def _payload(run: dict[str, Any] | None) -> str:
    top = _top(run) if run else None
    if not top or 'chars_per_client_s' not in top.get('page', {}):
        return 'n/a'
    return f'{top["page"]["chars_per_client_s"] / 1000:.1f} / {top["ws"]["chars_per_client_s"] / 1000:.1f}'


def _stalls(step: dict[str, Any]) -> str:
    stalls = step.get('node_stall_ms', {}).values()
    return f'{max((v["start_max"] for v in stalls), default=0)} / {max((v["window_max"] for v in stalls), default=0)}'


def _held(figures: dict[str, Any], setup: str) -> str:
    held = figures.get(f'{setup}_held')
    if held is None:
        return 'not measured'
    return f'{held}' + (' (the cap: more may hold)' if figures.get(f'{setup}_capped') else '') + (
        ' (not even the first step)' if held == 0 else '')


def _model(m: dict[str, Any] | None) -> str:
    if not m:
        return 'n/a'
    parts = []
    for name, label in (('by_hold', 'as held here'), ('by_cpu', f'filled to {NODE_BUSY_PCT:.0f} % of a core')):
        if name in m:
            v = m[name]
            parts.append(f'{label}: {v["processes"]} x {v["viewers_per_process"]}, {v["cores"]} cores ('
                         f'{v["node_cores"]} + {v["redis_cores"]} + {m["haproxy_cores"]}), '
                         f'nodes ~{v["node_rss_gb"]} GB')
    return '; '.join(parts) + f'; HAProxy ~{m["haproxy_rss_mb"]} MB'

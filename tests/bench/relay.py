"""A byte-counting TCP relay on loopback, run as its own process so that its work does not share the GIL with
the clients being measured.

    python -m tests.bench.relay TARGET_PORT

It listens on a free 127.0.0.1 port, prints that port as its first stdout line, then forwards every accepted
connection to 127.0.0.1:TARGET_PORT, counting the TCP payload bytes in each direction (whatever the peers send,
compression included; TCP/IP headers are not counted). Backpressure is passed on: when one side stops reading,
the relay stops reading from the other, so a slow client stays slow for the server.

Commands on stdin, one a line: `stats` prints one JSON line {"conns": {id: [up, down]}} (up = client to
server); `quit` (or the end of stdin, i.e. the parent went away) stops the relay.
"""
from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from typing import Any

HOST = '127.0.0.1'
HIGH_WATER = 256 * 1024


class _Side(asyncio.Protocol):
    """One socket of a relayed connection; `peer` is the other side, `index` 0 counts up, 1 counts down."""

    def __init__(self, counts: list[int], index: int) -> None:
        self.counts = counts
        self.index = index
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self.buffered: list[bytes] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.set_write_buffer_limits(high=HIGH_WATER)

    def data_received(self, data: bytes) -> None:
        self.counts[self.index] += len(data)
        if self.peer is None or self.peer.transport is None:
            self.buffered.append(data)  # the upstream connection is still being opened
        else:
            self.peer.transport.write(data)

    def eof_received(self) -> bool:
        if self.peer is not None and self.peer.transport is not None and self.peer.transport.can_write_eof():
            self.peer.transport.write_eof()
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.close()

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()


class Relay:
    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.conns: dict[int, list[int]] = {}

    def accept(self) -> _Side:
        counts = [0, 0]
        self.conns[len(self.conns)] = counts
        side = _Side(counts, 0)
        asyncio.get_running_loop().create_task(self._link(side, counts))
        return side

    async def _link(self, client: _Side, counts: list[int]) -> None:
        loop = asyncio.get_running_loop()
        try:
            _, upstream = await loop.create_connection(lambda: _Side(counts, 1), HOST, self.target_port)
        except OSError:
            if client.transport is not None:
                client.transport.close()
            return
        upstream.peer, client.peer = client, upstream
        for data in client.buffered:
            upstream.transport.write(data)
        client.buffered.clear()
        if client.transport is None or client.transport.is_closing():
            upstream.transport.close()

    def stats(self) -> dict[str, Any]:
        return {'time': time.time(), 'conns': {str(k): list(v) for k, v in self.conns.items()}}


async def serve(target_port: int) -> None:
    relay = Relay(target_port)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(relay.accept, HOST, 0, backlog=1024)
    print(server.sockets[0].getsockname()[1], flush=True)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    async with server:
        while True:
            line = (await reader.readline()).decode().strip()
            if line == 'stats':
                print(json.dumps(relay.stats()), flush=True)
            elif line in {'quit', ''}:
                return


class RelayProcess:
    """The relay as a child process, seen from the benchmark."""

    def __init__(self, target_port: int, *, cwd: str) -> None:
        self.process = subprocess.Popen([sys.executable, '-m', 'tests.bench.relay', str(target_port)], cwd=cwd,
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline()
        if not line.strip().isdigit():
            self.stop()
            raise RuntimeError(f'the relay did not start: {line!r}')
        self.port = int(line)

    @property
    def pid(self) -> int:
        return self.process.pid

    def stats(self) -> dict[str, list[int]]:
        """Bytes so far per connection id: [up, down]."""
        self.process.stdin.write('stats\n')
        self.process.stdin.flush()
        return json.loads(self.process.stdout.readline())['conns']

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                self.process.stdin.write('quit\n')
                self.process.stdin.flush()
                self.process.wait(timeout=5)
            except (OSError, subprocess.TimeoutExpired):
                self.process.kill()
                self.process.wait(timeout=5)


def delta(before: dict[str, list[int]], after: dict[str, list[int]]) -> dict[str, tuple[int, int]]:
    """Bytes per connection between two `stats()` answers."""
    return {k: (v[0] - before.get(k, [0, 0])[0], v[1] - before.get(k, [0, 0])[1]) for k, v in after.items()}


if __name__ == '__main__':
    asyncio.run(serve(int(sys.argv[1])))

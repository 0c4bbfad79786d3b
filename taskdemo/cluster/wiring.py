"""The services of a cluster process: the same routes and pages as one process, reading a simulator that mirrors
the run (or advances it, while this process is the engine), sending control through Redis, and reading the
history from Redis."""
from __future__ import annotations

from ..protocol import StatusCache
from ..services import Services
from ..settings import Settings
from ..simulator import Simulator
from ..stream import STREAM_INTERVAL_S, Broadcaster
from .commands import RedisCommands
from .history import RedisHistory
from .link import Link
from .node import ClusterNode


def cluster_services(sim: Simulator, settings: Settings) -> tuple[Services, ClusterNode]:
    assert settings.redis is not None
    link = Link(settings.redis.strip())
    broadcaster = Broadcaster(sim, interval=STREAM_INTERVAL_S)
    services = Services(view=sim, commands=RedisCommands(link), broadcaster=broadcaster,
                        statuses=StatusCache(sim, broadcaster.frames), settings=settings,
                        history=RedisHistory(link, keep_runs=settings.keep_runs))
    node = ClusterNode(sim, link, port=settings.port, keep_runs=settings.keep_runs,
                       resume_limit_s=settings.takeover_limit, presence=services.presence)
    services.cluster = node
    services.presence.where = node.id  # tab names are this process's: 'tab:7f3@host:8081' tells them apart
    return services, node


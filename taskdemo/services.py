"""What the routes work with, in one object on `app.state.services`, and the FastAPI dependencies that hand its
parts to a route.

A route asks for a part (`commands: CommandsDep`, that is `Annotated[Commands, Depends(get_commands)]`), never for
the simulator, so it serves whichever implementation the app was built with; a test swaps a part with
`app.dependency_overrides[get_commands]`, or all of them with `app.dependency_overrides[get_services]`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Protocol

from fastapi import Depends
from starlette.requests import HTTPConnection

from .activity import Activity
from .control import Commands, LocalCommands
from .history import History
from .presence import Presence
from .protocol import StatusCache
from .replays import Replays
from .settings import Settings
from .simulator import Simulator
from .stream import STREAM_INTERVAL_S, Broadcaster
from .view import RunView


@dataclass(eq=False)
class Services:
    view: RunView  # the run, read
    commands: Commands  # the run, changed
    broadcaster: Broadcaster  # the `/ws` frames
    statuses: StatusCache  # `GET /status`, built once per change
    settings: Settings  # the server's: the control token
    history: History | None = None  # None: no data folder
    cluster: ClusterInfo | None = None  # None: one process on its own (no --redis)
    replays: Replays = None  # type: ignore[assignment]  # made from the view and the history
    presence: Presence = None  # type: ignore[assignment]  # who is watching: made with the `/ws` listeners
    activity: Activity = None  # type: ignore[assignment]  # who did what: made from the view and the history

    def __post_init__(self) -> None:
        if self.replays is None:
            self.replays = Replays(self.view, self.history)
        if self.presence is None:
            self.presence = Presence(lambda: len(self.broadcaster.subscribers))
            self.broadcaster.on_count = self.presence.streams_changed
        if self.activity is None:
            self.activity = Activity(self.view, self.history)


class ClusterInfo(Protocol):
    """What `GET /cluster` reads: taskdemo.cluster.node.ClusterNode."""

    async def answer(self) -> dict[str, Any]:
        """The processes and their part in the run, read now; raises HTTPException(503) without Redis."""


def local_services(sim: Simulator, settings: Settings, *, history: History | None = None,
                   stream_interval: float = STREAM_INTERVAL_S) -> Services:
    """The services of one process that advances its own run with `sim`."""
    broadcaster = Broadcaster(sim, interval=stream_interval)
    statuses = StatusCache(sim, broadcaster.frames)  # 10,000 tasks: built once per change, not per request
    return Services(view=sim, commands=LocalCommands(sim), broadcaster=broadcaster, statuses=statuses,
                    settings=settings, history=history)


def get_services(connection: HTTPConnection) -> Services:
    """The services of the app serving this request (or WebSocket)."""
    return connection.app.state.services


def get_view(services: Annotated[Services, Depends(get_services)]) -> RunView:
    return services.view


def get_commands(services: Annotated[Services, Depends(get_services)]) -> Commands:
    return services.commands


def get_broadcaster(services: Annotated[Services, Depends(get_services)]) -> Broadcaster:
    return services.broadcaster


def get_statuses(services: Annotated[Services, Depends(get_services)]) -> StatusCache:
    return services.statuses


def get_settings(services: Annotated[Services, Depends(get_services)]) -> Settings:
    return services.settings


def get_history(services: Annotated[Services, Depends(get_services)]) -> History | None:
    return services.history


def get_replays(services: Annotated[Services, Depends(get_services)]) -> Replays:
    return services.replays


def get_presence(services: Annotated[Services, Depends(get_services)]) -> Presence:
    return services.presence


def get_activity(services: Annotated[Services, Depends(get_services)]) -> Activity:
    return services.activity


def get_cluster(services: Annotated[Services, Depends(get_services)]) -> ClusterInfo | None:
    return services.cluster


# what a route's parameters say, e.g. `async def reset(commands: CommandsDep)`
ViewDep = Annotated[RunView, Depends(get_view)]
CommandsDep = Annotated[Commands, Depends(get_commands)]
BroadcasterDep = Annotated[Broadcaster, Depends(get_broadcaster)]
StatusesDep = Annotated[StatusCache, Depends(get_statuses)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
HistoryDep = Annotated[History | None, Depends(get_history)]
ClusterDep = Annotated[ClusterInfo | None, Depends(get_cluster)]
ReplaysDep = Annotated[Replays, Depends(get_replays)]
PresenceDep = Annotated[Presence, Depends(get_presence)]
ActivityDep = Annotated[Activity, Depends(get_activity)]

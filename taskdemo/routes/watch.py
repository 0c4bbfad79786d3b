"""`GET /status` and the WebSocket `/ws`: the run as it stands, from the caches that build each shape once per
change however many clients ask."""
from __future__ import annotations

import asyncio
import contextlib
from typing import Annotated

from fastapi import APIRouter, Header, Query, WebSocket
from fastapi.responses import Response
from starlette.websockets import WebSocketDisconnect

from ..activity import KEEP
from ..services import ActivityDep, BroadcasterDep, PresenceDep, StatusesDep
from .models import ActivityReply, Problem, StatusReply

SEND_TIMEOUT_S = 10.0

router = APIRouter()


@router.get('/status', response_model=None, tags=['watch'],
            responses={200: {'model': StatusReply, 'description': 'the whole state'}})
async def status(statuses: StatusesDep, broadcaster: BroadcasterDep, presence: PresenceDep,
                 accept_encoding: Annotated[str, Header(include_in_schema=False)] = '') -> Response:
    """The whole state: a `/ws` frame plus the state of the run, and who is watching (board tabs, `/ws` clients)."""
    now = {'streams': len(broadcaster.subscribers), 'viewers': presence.viewers.as_dict()}
    if 'gzip' in accept_encoding.lower():  # compressed here, from a cache: not again per request downstream
        return Response(statuses.gzip(**now), media_type='application/json',
                        headers={'Content-Encoding': 'gzip', 'Vary': 'Accept-Encoding'})
    return Response(statuses.text(**now), media_type='application/json')


@router.get('/activity', response_model=ActivityReply, tags=['watch'],
            responses={422: {'model': Problem, 'description': f'`limit` is not a whole number from 1 to {KEEP}'}})
async def activity(activity: ActivityDep,
                   limit: Annotated[int, Query(ge=1, le=KEEP, description='how many, newest first')] = 50) -> dict:
    """What was done to the runs and from where, newest first: every command (start, reset, cancel, resume,
    retry, a task cancelled or retried), a run completing, a restart finding a run cut off, and in a cluster the
    run moving to another process."""
    return {'entries': [entry.as_dict() for entry in activity.recent(limit)]}


@router.websocket('/ws')
async def stream(websocket: WebSocket, broadcaster: BroadcasterDep, mode: Annotated[str, Query()] = 'full') -> None:
    """The seed's stream: a full frame at once, then one every 0.5 s. `?mode=changes` sends, after the first
    full frame, only the tasks changed since the frame before (plus the counters)."""
    if mode not in {'full', 'changes'}:
        await websocket.close(code=1008, reason='mode must be "full" or "changes"')
        return
    await websocket.accept()
    subscriber, first = broadcaster.subscribe(mode)  # type: ignore[arg-type]
    closed = asyncio.ensure_future(_wait_closed(websocket))
    dropped = asyncio.ensure_future(subscriber.dropped.wait())
    try:
        text = first
        while True:
            # a client that stops reading blocks only its own send, until its queue overflows: then it is
            # dropped (no more frames, its queue freed) while every other client keeps its cadence
            sending = asyncio.ensure_future(_send(websocket, text))
            await asyncio.wait({sending, dropped}, return_when=asyncio.FIRST_COMPLETED)
            if not sending.done():
                sending.cancel()
                return
            sending.result()
            frame = asyncio.ensure_future(subscriber.queue.get())
            await asyncio.wait({closed, dropped, frame}, return_when=asyncio.FIRST_COMPLETED)
            if not frame.done():
                frame.cancel()
                return
            text = frame.result()
    except (WebSocketDisconnect, RuntimeError, TimeoutError, OSError):
        return  # the client went away or stopped reading: drop it
    finally:
        broadcaster.unsubscribe(subscriber)
        closed.cancel()
        dropped.cancel()


async def _send(websocket: WebSocket, text: str) -> None:
    await asyncio.wait_for(websocket.send_text(text), timeout=SEND_TIMEOUT_S)


async def _wait_closed(websocket: WebSocket) -> None:
    """Read (and ignore) what the client sends until it goes away."""
    with contextlib.suppress(WebSocketDisconnect, RuntimeError):
        while True:
            message = await websocket.receive()
            if message['type'] == 'websocket.disconnect':
                return

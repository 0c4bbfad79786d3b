"""The HTTP and WebSocket API on an app: the seed's contract (POST /start, POST /reset, WS /ws) and our extensions.

The routes (routes/) read and drive the run through the app's `Services` (services.py): `install_routes` puts
them on an app with the services it serves, whichever implementation those are; `install_api` does it for a
simulator in this process. Errors are short JSON `detail` texts that name what was wrong; no traceback ever
reaches a client.
"""
from __future__ import annotations

from fastapi import FastAPI
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.requests import Request
from starlette.routing import BaseRoute

from .history import History
from .routes import ROUTERS
from .services import Services, local_services
from .settings import Settings
from .simulator import Simulator
from .stream import STREAM_INTERVAL_S


def install_routes(app: FastAPI, services: Services) -> None:
    """Serve the routes on `app` with `services`. Called again (tests build NiceGUI's one app many times in one
    process), it replaces the services and the routes it put there before, so that each route is there once."""
    app.state.services = services
    routers = ROUTERS
    before = (*getattr(app.state, 'taskdemo_routers', ()), *routers)
    endpoints = {route.endpoint for router in before for route in router.routes if hasattr(route, 'endpoint')}

    def installed(route: BaseRoute) -> bool:  # FastAPI keeps an included router as one route; older ones copy them
        return getattr(route, 'original_router', None) in before or getattr(route, 'endpoint', None) in endpoints

    app.router.routes[:] = [route for route in app.router.routes if not installed(route)]
    for router in routers:
        app.include_router(router)
    app.state.taskdemo_routers = routers


def install_api(app: FastAPI, sim: Simulator, settings: Settings, *, history: History | None = None,
                stream_interval: float = STREAM_INTERVAL_S) -> Services:
    """Serve the routes on `app` (the NiceGUI app, or a bare FastAPI app in tests) for `sim`, which advances the
    run in this process; returns the services."""
    services = local_services(sim, settings, history=history, stream_interval=stream_interval)
    install_routes(app, services)
    return services


def install_error_handlers(app: FastAPI) -> None:
    """Validation errors as one readable `detail` line that names the field."""

    @app.exception_handler(RequestValidationError)
    async def validation_error(_request: Request, error: RequestValidationError) -> JSONResponse:
        problems = []
        for item in error.errors():
            if item.get('type') == 'json_invalid':  # its `loc` is a character offset, not a field
                reason = (item.get('ctx') or {}).get('error')
                problems.append('body: not valid JSON' + (f' ({reason})' if reason else ''))
                continue
            where = '.'.join(str(part) for part in item.get('loc', ()) if part != 'body') or 'body'
            problems.append(f'{where}: {item.get("msg", "invalid")}')
        return JSONResponse({'detail': '; '.join(problems) or 'invalid request'}, status_code=422)

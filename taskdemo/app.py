"""Wiring: one simulator, its driver, the API and the page, all on NiceGUI's app; `run(settings)` serves them."""
from __future__ import annotations

from collections.abc import Callable

from fastapi.exception_handlers import http_exception_handler
from fastapi.middleware.cors import CORSMiddleware
from nicegui import app, background_tasks, ui
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .api import install_api, install_error_handlers
from .driver import Driver
from .settings import Settings
from .simulator import Simulator
from .ui.page import TITLE, create_root

PAGE_PATHS = {'/'}
NATIVE_WINDOW_SIZE = (1200, 820)
API_DOCS = {
    'title': 'taskdemo API',
    'version': '0.1.0',
    'description': (
        'The seed\'s contract, served beside the board: `POST /start`, `POST /reset` and the WebSocket `/ws`, '
        'plus `GET /status` and `POST /cancel`.\n\n'
        '**WebSocket `/ws`** (not listed below: OpenAPI does not describe WebSockets) sends a JSON frame at once '
        'on connect and then every 0.5 s: `{"total", "completed", "failed", "individual": {"0": {"status", '
        '"progress", "error"?}, ...}}`. With `/ws?mode=changes` every frame after the first holds only the tasks '
        'that changed since the frame before, plus the counters and `"mode": "changes"`.\n\n'
        'When the server runs with a control token, `/start`, `/reset` and `/cancel` need '
        '`Authorization: Bearer <token>`.'
    ),
}


def build(settings: Settings, *, sim: Simulator | None = None, drive: bool = True,
          stream_interval: float | None = None) -> tuple[Simulator, Callable[[], None]]:
    """Register everything on NiceGUI's app; returns the simulator and the page's root function.

    Tests pass their own simulator and `drive=False`, and move time themselves with `sim.step(dt)`.
    """
    sim = sim or Simulator(settings.run)
    extra = {} if stream_interval is None else {'stream_interval': stream_interval}
    install_api(app, sim, settings, **extra)
    install_error_handlers(app)
    _answer_unknown_paths_with_404()
    app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                       allow_methods=['GET', 'POST'], allow_headers=['Authorization', 'Content-Type'])
    if drive:
        driver = Driver(sim)
        app.on_startup(lambda: background_tasks.create(driver.run(), name='taskdemo driver'))
    return sim, create_root(sim, control_token=settings.control_token)


def run(settings: Settings) -> None:
    _, root = build(settings)
    window = {'window_size': NATIVE_WINDOW_SIZE} if settings.native else {}
    ui.run(root, host=settings.host, port=settings.port, native=settings.native, title=TITLE, **window,
           reload=False, show=False, dark=None, favicon='📊', language='en-US', fastapi_docs=API_DOCS,
           show_welcome_message=False)


def _answer_unknown_paths_with_404() -> None:
    """NiceGUI's `ui.run(root)` builds the page for any unknown path; only the board's own path should."""
    nicegui_404 = app.exception_handlers.get(404)
    if getattr(nicegui_404, 'taskdemo', False):
        return  # installed already (tests build the app many times in one process)

    async def not_found(request: Request, error: Exception) -> Response:
        if request.url.path in PAGE_PATHS and nicegui_404 is not None:
            return await nicegui_404(request, error)
        if request.scope.get('endpoint') is not None and isinstance(error, StarletteHTTPException):
            return await http_exception_handler(request, error)
        return JSONResponse({'detail': f'Not found: {request.url.path}'}, status_code=404)

    not_found.taskdemo = True  # type: ignore[attr-defined]
    app.exception_handlers[404] = not_found

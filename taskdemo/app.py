"""Wiring: one simulator, its driver, the API and the page, all on NiceGUI's app; `run(settings)` serves them.

The routes and the page see the run only through `Services` (a `RunView` to read, `Commands` to change it, a
`History`): here those of one process that advances its own run.
"""
from __future__ import annotations

import gc
import logging
from collections.abc import Callable

from fastapi.exception_handlers import http_exception_handler
from fastapi.middleware.cors import CORSMiddleware
from nicegui import app, background_tasks, ui
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from . import __version__, disconnects
from .api import install_error_handlers, install_routes
from .driver import Driver
from .history import SqliteHistory
from .recorder import Recorder
from .security import install_security
from .services import Services, local_services
from .settings import Settings
from .simulator import Simulator
from .store import Store
from .ui.page import TITLE, create_root

log = logging.getLogger(__name__)

PAGE_PATHS = {'/'}
NATIVE_WINDOW_SIZE = (1200, 820)
API_DOCS = {
    'title': 'taskdemo API',
    'version': __version__,
    'description': (
        'The seed\'s contract, served beside the board: `POST /start`, `POST /reset` and the WebSocket `/ws`, '
        'plus `GET /status`, `POST /cancel`, `POST /retry`, `POST /resume`, the control of one task '
        '(`POST /tasks/{task_id}/cancel` and `/retry`) and the run history.\n\n'
        '**WebSocket `/ws`** (not listed below: OpenAPI does not describe WebSockets) sends a JSON frame at once '
        'on connect and then every 0.5 s: `{"total", "completed", "failed", "individual": {"0": {"status", '
        '"progress", "error"?, "stalled"?}, ...}}`. A stalled task (running, but it has not moved for longer than '
        'max(5 s, 3 of its usual intervals between steps), simulated) stays `in_progress` and has `"stalled": true`; '
        'no other entry has the field. With `/ws?mode=changes` every frame after the first holds only the tasks '
        'that changed since the frame before, plus the counters and `"mode": "changes"`: finished, pending and '
        'stalled tasks in `individual`, the other running ones as runs of consecutive ids in `"running": '
        '[[first_id, percent, percent, ...], ...]`. Every entry a frame holds replaces the one before, whole.\n\n'
        'When the server runs with a control token, every control route (`/start`, `/reset`, `/cancel`, `/resume`, '
        '`/retry`, `/tasks/{task_id}/cancel` and `/tasks/{task_id}/retry`) needs `Authorization: Bearer <token>`. '
        'A browser may call them only from the board\'s own origin or an allowed `--cors-origin`: sent from a '
        'page of any other site (its `Origin`, or without one its `Referer`, says so), '
        'they answer 403 and change nothing. Requests without either header (curl, scripts) are not affected.'
    ),
}


def build(settings: Settings, *, sim: Simulator | None = None,
          drive: bool = True) -> tuple[Simulator, Callable[[Request], None]]:
    """Register everything on NiceGUI's app; returns the simulator and the page's root function.

    With a data folder, runs are stored and the last one comes back (interrupted, if it was cut off).
    Tests pass their own simulator and `drive=False`, and move time themselves with `sim.step(dt)`.
    Raises DataDirError when the data folder cannot be written.
    """
    sim = sim or Simulator(settings.run)
    if settings.redis is not None:
        return sim, _build_cluster(sim, settings)
    history = None
    if settings.data_dir is not None:
        recorder = Recorder(sim, Store(settings.data_dir, keep_runs=settings.keep_runs))
        sim.number_runs_after(recorder.store.newest_run_id())
        if (last := recorder.store.last_run()) is not None:
            sim.restore(*last, recorder.store.events_to_restore(last[0]))
        app.on_startup(lambda: background_tasks.create(recorder.run(), name='taskdemo recorder'))
        app.on_shutdown(lambda: _stop_recording(sim, recorder))
        history = SqliteHistory(recorder)
    services = local_services(sim, settings, history=history)
    _serve(services, settings)
    if drive:
        driver = Driver(sim)
        app.on_startup(lambda: background_tasks.create(driver.run(), name='taskdemo driver'))
    return sim, create_root(services.view, services.commands, control_token=settings.control_token,
                       history=services.history, replays=services.replays,
                       presence=services.presence, activity=services.activity)


def _build_cluster(sim: Simulator, settings: Settings) -> Callable[[Request], None]:
    """Cluster mode (`--redis`): no store and no driver of its own; the cluster node mirrors the run, or advances
    it while this process holds the lease, and control and history go through Redis."""
    from .cluster.wiring import cluster_services
    services, node = cluster_services(sim, settings)
    _serve(services, settings)
    app.on_startup(lambda: background_tasks.create(node.run(), name='taskdemo cluster node'))
    app.on_shutdown(node.stop)
    return create_root(services.view, services.commands, control_token=settings.control_token,
                       history=services.history, cluster=node, replays=services.replays,
                       presence=services.presence, activity=services.activity)


def _serve(services: Services, settings: Settings) -> None:
    """The routes, their error handlers and the guards around them, for either mode."""
    install_routes(app, services)
    install_error_handlers(app)
    app.on_startup(lambda: background_tasks.create(_load_activity(services), name='taskdemo activity'))
    _answer_unknown_paths_with_404()
    # before CORS, which then wraps it: an allowed origin can read a 413 too; the same origins may change the board
    install_security(app, allowed_origins=settings.cors_origins)
    app.add_middleware(CORSMiddleware, allow_origins=list(settings.cors_origins),
                       allow_methods=['GET', 'POST'], allow_headers=['Authorization', 'Content-Type'])
    disconnects.install(app)  # outside everything, NiceGUI's middlewares (added by ui.run) included
    # Quasar's loading bar shows (an unnamed progressbar) whenever the page fetches anything; the board has its own
    app.config.quasar_config['loadingBar']['skipHijack'] = True


async def _load_activity(services: Services) -> None:
    try:
        await services.activity.load()
    except Exception as error:  # Redis away at start-up, say: the list starts with what happens from now on
        log.warning('the activity of stored runs could not be read (%s); it shows what happens from now on', error)


def _stop_recording(sim: Simulator, recorder: Recorder) -> None:
    """A clean stop: what runs now is interrupted (to be resumed), and everything is written before we go."""
    sim.interrupt()
    recorder.flush_now()
    recorder.close()


def run(settings: Settings) -> None:
    _, root = build(settings)
    app.on_startup(_freeze_what_lives_for_good)
    window = {'window_size': NATIVE_WINDOW_SIZE} if settings.native else {}
    ui.run(root, host=settings.host, port=settings.port, native=settings.native, title=TITLE, **window,
           reload=False, show=False, dark=None, favicon='📊', language='en-US', fastapi_docs=API_DOCS,
           show_welcome_message=False, ws_per_message_deflate=settings.compression)


def _freeze_what_lives_for_good() -> None:
    """Leave out of Python's full garbage collections what is there once the server has started (some 100,000
    objects of NiceGUI, FastAPI and the rest, and a restored run): each full collection walks every object, and with
    these it paused the server for about 70 ms every few scrubs of a 10,000-task replay (28 ms of them for the
    imports alone). Objects frozen still go when nothing refers to them; only cycles among them would stay."""
    gc.collect()
    gc.freeze()


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

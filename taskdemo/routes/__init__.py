"""The HTTP and WebSocket routes, as routers whose handlers get what they use from the app's `Services`
(services.py), never a simulator: control, watch (`/status`, `/ws`, `/cluster`) and history, in the order OpenAPI
lists them."""
from __future__ import annotations

from . import cluster, control, history, watch

ROUTERS = (control.router, watch.router, cluster.router, history.router)

"""`GET /cluster`: the processes alive, which one advances the run (and its lease epoch), how far behind the run
each one is, in versions and seconds, and how many viewers each serves."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request

from .link import UNREACHABLE
from .node import ClusterNode

router = APIRouter(tags=['watch'])


@router.get('/cluster', responses={503: {'description': 'Redis cannot be reached'}})
async def cluster(request: Request) -> dict[str, Any]:
    """Cluster mode: every process and its part in the run. Without `--redis`: 404."""
    node: ClusterNode | None = getattr(request.app.state, 'cluster_node', None)
    if node is None:
        raise HTTPException(404, 'This server runs alone (no --redis): there is no cluster.')
    try:
        return await node.read_view()
    except UNREACHABLE as error:
        node.link.failed(error)
        raise HTTPException(503, f'Cannot reach Redis since {node.link.since_text()}.',
                            headers={'Retry-After': '2'}) from None

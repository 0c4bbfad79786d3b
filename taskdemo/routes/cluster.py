"""`GET /cluster`: in cluster mode, the processes alive, which one advances the run (and its lease epoch), how far
behind the run each one is, in versions and seconds, and how many viewers each serves."""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException

from ..services import ClusterDep
from .models import Problem

router = APIRouter(tags=['watch'])


@router.get('/cluster', responses={404: {'model': Problem, 'description': 'one process on its own: no cluster'},
                                   503: {'model': Problem, 'description': 'Redis cannot be reached'}})
async def cluster(info: ClusterDep) -> dict[str, Any]:
    """The processes of the cluster and their part in the run (cluster mode, `--redis`; otherwise 404)."""
    if info is None:
        raise HTTPException(404, 'This server runs alone (no --redis): there is no cluster.')
    return await info.answer()

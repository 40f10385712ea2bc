"""``/api/health`` (liveness) and ``/api/health/full`` (the runbook's component report)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from kickflow import __version__
from kickflow.api import health
from kickflow.api.context import Svc

router = APIRouter(prefix="/api/health", tags=["health"])


@router.get("", summary="Liveness: the process answers (no auth, no database)")
async def liveness() -> dict[str, Any]:
    return {"status": "ok", "version": __version__}


@router.get("/full", summary="Every component's status (no auth, no tenant data)")
async def full(svc: Svc) -> dict[str, Any]:
    """A snapshot at most ``KICKFLOW_HEALTH_CACHE_SECONDS`` old; outbound probes carry the time
    of their last run (``details.checked_at``)."""
    components = await svc.health.components()
    return {"status": health.overall(components), "version": __version__, **components}

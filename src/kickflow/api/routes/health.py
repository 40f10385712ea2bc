"""``/api/health`` (liveness) and ``/api/health/full`` (the runbook's component report)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from kickflow import __version__
from kickflow.api import health
from kickflow.api.context import Services, Svc

router = APIRouter(prefix="/api/health", tags=["health"])


def _reaper(svc: Services) -> health.Component:
    next_run = svc.reaper.seconds_to_next_run() if svc.reaper else None
    return health.reaper(svc.store, svc.settings.reaper_interval_seconds, next_run)


@router.get("", summary="Liveness: the process answers (no auth, no database)")
async def liveness() -> dict[str, Any]:
    return {"status": "ok", "version": __version__}


@router.get("/full", summary="Every component's status (no auth, no tenant data)")
def full(svc: Svc) -> dict[str, Any]:
    s = svc.settings
    components = {
        "database": health.timed(lambda: health.database(svc.store)),
        "storage": health.timed(lambda: health.storage(svc.storage)),
        "qc_worker": health.timed(lambda: health.qc_worker(svc.store, svc.terminal_counts)),
        "ffmpeg": health.timed(lambda: health.ffmpeg(s.ffmpeg)),
        "groq_api": health.timed(lambda: health.groq_api(s.groq_api_key, s.groq_base_url)),
        "google_oauth": health.timed(lambda: health.google_oauth(s.google_client_id)),
        "reaper": health.timed(lambda: _reaper(svc)),
    }
    return {"status": health.overall(components), "version": __version__, **components}

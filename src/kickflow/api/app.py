"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from fastapi import FastAPI

from kickflow import __version__
from kickflow import web as dashboard
from kickflow.api import errors
from kickflow.api.context import ReaperSchedule, Services, WorkerControl
from kickflow.api.limits import RequestLimits
from kickflow.api.routes import (
    artifacts,
    control,
    debug,
    google,
    health,
    jobs,
    metrics,
    profiles,
    progress,
    sheets,
    web,
    webhooks,
    worker,
)
from kickflow.config import Settings, get_settings
from kickflow.jobs import JobStore, SqlJobStore
from kickflow.storage import open_storage, upload_limit_bytes
from kickflow.web import errors as page_errors
from kickflow.worker import protocol as wire

MAX_JSON_BYTES = 1024 * 1024
UPLOAD_PATH = "/api/qc/jobs"
UPLOAD_FORM_PATH = "/submit"  # the Submit page's form without JavaScript
DESCRIPTION = """Media QC as a service. Every `/api/qc/*` route needs
`Authorization: Bearer <token>` (create one with `kickflow admin create-token`). Errors are
always `{"error": {"code": ..., "message": ...}}`."""


def create_app(
    settings: Settings | None = None,
    *,
    store: JobStore | None = None,
    workers: WorkerControl | None = None,
    reaper: ReaperSchedule | None = None,
    background: Callable[[], Callable[[], None]] | None = None,
) -> FastAPI:
    """The API. ``background`` is started with the app and returns its stop function
    (``kickflow serve`` uses it for the reaper and the embedded worker slots)."""
    settings = settings or get_settings()
    store = store or SqlJobStore(settings=settings)
    storage = open_storage(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        stop = background() if background else None
        try:
            yield
        finally:
            if stop:
                stop()

    app = FastAPI(
        title="KickFlow QC", version=__version__, description=DESCRIPTION, lifespan=lifespan
    )
    app.state.services = Services(settings, store, storage, workers, reaper)
    errors.install(app)
    app.add_middleware(
        RequestLimits,
        max_json_bytes=MAX_JSON_BYTES,
        max_upload_bytes=upload_limit_bytes(settings),
        upload_path=UPLOAD_PATH,
        body_idle_seconds=settings.http_body_idle_seconds,
        body_min_bytes_per_second=settings.http_body_min_bytes_per_second,
        json_limits_by_prefix={wire.PREFIX: wire.MAX_BODY_BYTES},
        form_upload_paths=frozenset({UPLOAD_FORM_PATH}),
    )
    for module in (health, jobs, profiles, progress, control, debug, metrics, web, worker):
        app.include_router(module.router)
    app.include_router(google.router)
    app.include_router(webhooks.router)
    app.include_router(sheets.router)
    app.include_router(artifacts.router)
    for page_router in dashboard.routers():
        app.include_router(page_router)
    web.mount_static(app)
    page_errors.install(app)
    return app


def app_from_env() -> FastAPI:
    """``uvicorn --factory kickflow.api.app:app_from_env``: the API alone, settings from env."""
    return create_app()

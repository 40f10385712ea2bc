"""One module per page (or group of pages), each exposing ``router``; :func:`routers` lists
them (add yours: one import name and one list line)."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    """The page routers, in the order the app includes them."""
    # Imported here, not at the top: the app imports this package early, the pages late.
    from kickflow.web.pages import (
        auth,
        google,
        job,
        jobs,
        ops,
        profiles,
        settings,
        submit,
        webhooks,
    )

    return [
        auth.router,
        settings.router,
        google.router,
        webhooks.router,
        ops.router,
        profiles.router,
        job.router,
        jobs.router,
        submit.router,
    ]

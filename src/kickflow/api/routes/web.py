"""The dashboard's entry point ``/`` and its static assets under ``/static``."""

from __future__ import annotations

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from kickflow.web.session import page_user

router = APIRouter(include_in_schema=False)


@router.get("/")
def home(request: Request) -> RedirectResponse:
    """The jobs when signed in, else the sign-in page."""
    return RedirectResponse("/jobs" if page_user(request) else "/login", status_code=303)


@router.get("/favicon.ico")
def favicon() -> RedirectResponse:
    """Browsers ask for it on their own (pages link the SVG icon; this is for the rest)."""
    return RedirectResponse("/static/favicon.svg", status_code=308)


class PackageAssets(StaticFiles):
    """The package's ``web/static`` files. Their URLs carry a content hash (``?v=``), so a
    versioned URL may be cached for good; ``nosniff`` keeps a browser from guessing types."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers["X-Content-Type-Options"] = "nosniff"
        if response.status_code == 200 and b"v=" in scope.get("query_string", b""):
            response.headers["Cache-Control"] = "public, max-age=31536000, immutable"
        return response


def mount_static(app: FastAPI) -> None:
    """Serve ``/static/…`` from the package."""
    app.mount("/static", PackageAssets(packages=[("kickflow.web", "static")]), name="static")

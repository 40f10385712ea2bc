"""The dashboard placeholder at ``/``."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from kickflow.web import index_html

router = APIRouter(include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def dashboard() -> HTMLResponse:
    return HTMLResponse(index_html())

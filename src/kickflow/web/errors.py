"""Errors on pages: the same handlers as the API, answered as an HTML page.

:func:`install` wraps each handler :mod:`kickflow.api.errors` registered: for a page path the
JSON answer (status, one-sentence message, Retry-After) becomes the error page, so the mapping
of exceptions to statuses and messages stays in one place. Signed out on a GET: a redirect to
the sign-in page that comes back here afterwards.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from http import HTTPStatus
from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from kickflow.errors import KickflowError
from kickflow.web.session import SAFE_METHODS, page_user
from kickflow.web.templating import render

NOT_PAGES = ("/api/", "/static/", "/metrics", "/openapi.json", "/docs", "/redoc")
KEPT_HEADERS = ("retry-after",)
PLAIN_WORDS = {
    404: "This page does not exist, or you do not have access to it.",
    405: "This page does not accept that kind of request.",
    500: "Something went wrong on our side; the details are in the service log.",
}

Handler = Callable[[Request, Exception], Any]


def is_page(path: str) -> bool:
    """Whether ``path`` is a dashboard page (its errors are HTML) rather than the API."""
    return not path.startswith(NOT_PAGES)


def sign_in_url(request: Request) -> str:
    """``/login?next=…`` coming back to this request's page."""
    here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return "/login?next=" + quote(here, safe="")


def error_page(request: Request, status: int, message: str, headers: dict[str, str]) -> Response:
    """The page for an error: a redirect to sign in for a signed-out GET, else the message."""
    if status == 401 and request.method in SAFE_METHODS and request.url.path != "/login":
        return RedirectResponse(sign_in_url(request), status_code=303)
    try:
        page_user(request)  # the nav shows when the session is fine
    except KickflowError:
        request.state.page_user = None  # the database may be the error: show the page anyway
    title = _phrase(status)
    default = message in ("", title) or status == 500
    context = {
        "status": status,
        "title": title,
        "message": PLAIN_WORDS.get(status, message) if default else message,
        "sign_in": status == 401,
    }
    return render(request, "error.html", context, status_code=status, headers=headers)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _pages_first(json_handler: Handler) -> Handler:
    def handle(request: Request, exc: Exception) -> Response:
        answer: Response = json_handler(request, exc)
        if not is_page(request.url.path):
            return answer
        body = json.loads(bytes(answer.body))
        kept = {k: v for k, v in answer.headers.items() if k in KEPT_HEADERS}
        return error_page(request, answer.status_code, body["error"]["message"], kept)

    return handle


def install(app: FastAPI) -> None:
    """Wrap the API's exception handlers (install those first) so pages get HTML."""
    for cls, handler in list(app.exception_handlers.items()):
        app.add_exception_handler(cls, _pages_first(handler))

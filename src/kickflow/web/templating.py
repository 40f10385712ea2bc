"""Server-rendered pages: one Jinja2 environment and :func:`render`.

Every page goes through :func:`render`, so every page gets the same base context (the signed-in
user, the CSRF token, the navigation, ``static()``) and the same security headers. The policy
allows no inline script or style: each page's JavaScript and CSS are package files under
``/static``.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import quote, unquote

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, Undefined, select_autoescape

from kickflow.jobs import Role
from kickflow.web.session import PageUser, clear_cookie, form_token, page_user

STATIC_PREFIX = "/static/"
FLASH_COOKIE = "kf_flash"
FLASH_KINDS = ("ok", "error", "warn", "info")
FLASH_MAX = 300
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
    # Pages show per-user data: never from a shared cache, and not from history after sign-out.
    "Cache-Control": "no-store",
}


@dataclass(frozen=True)
class NavItem:
    """One entry of the top navigation; shown to users whose role includes ``role``."""

    label: str
    href: str
    role: Role = "viewer"

    def active(self, path: str) -> bool:
        return path == self.href or path.startswith(self.href + "/")


NAV = (
    NavItem("Jobs", "/jobs"),
    NavItem("Submit", "/submit", "member"),
    NavItem("Operations", "/ops", "admin"),
    NavItem("Profiles", "/profiles"),
    NavItem("Settings", "/settings"),
)


@cache
def asset_version(path: str) -> str:
    """A short hash of a static file's bytes: its URL changes when the file does, so browsers
    may cache assets for good. Missing files get a constant (the link 404s visibly)."""
    node = resources.files("kickflow.web").joinpath("static", *path.split("/"))
    try:
        return hashlib.sha256(node.read_bytes()).hexdigest()[:12]
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return "missing"


def static(path: str) -> str:
    """The URL of a package asset (``static("app.css")``) with its cache-busting version."""
    clean = path.lstrip("/")
    return f"{STATIC_PREFIX}{clean}?v={asset_version(clean)}"


class OptionalUndefined(Undefined):
    """A missing variable is false in ``{% if %}`` (optional context such as ``error``), but
    printing or iterating it fails the render: a misspelt name does not pass silently."""

    __slots__ = ()
    __str__ = __iter__ = __len__ = Undefined._fail_with_undefined_error


def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("kickflow.web", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=OptionalUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["static"] = static
    env.filters["when"] = format_time
    return env


def format_time(epoch: float | None) -> str:
    """Epoch seconds as UTC ``2024-05-01 14:03``; an em dash for None (never happened)."""
    if epoch is None:
        return "—"
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(epoch))


ENV = _environment()


def nav_for(user: PageUser | None, path: str) -> list[dict[str, Any]]:
    """The navigation the user may use, with the current section marked."""
    if user is None:
        return []
    return [
        {"label": item.label, "href": item.href, "active": item.active(path)}
        for item in NAV
        if user.may(item.role)
    ]


def render(
    request: Request,
    template_name: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """The page ``template_name`` rendered with the base context plus ``context``.

    The base context: ``request``, ``user`` (the :class:`PageUser` or None), ``csrf_token``
    (the session's, or before sign-in the double-submit token, whose cookie this response
    sets when the browser has none), ``nav`` and ``static()``.
    """
    user = page_user(request)
    token, new_cookie = (user.csrf_token, None) if user else form_token(request)
    base = {
        "request": request,
        "user": user,
        "csrf_token": token,
        "nav": nav_for(user, request.url.path),
    }
    flash, flash_kind = _flash_from_cookie(request)
    base |= {"flash": flash, "flash_kind": flash_kind}
    html = ENV.get_template(template_name).render(base | (context or {}))
    response = HTMLResponse(
        html, status_code=status_code, headers=SECURITY_HEADERS | (headers or {})
    )
    if new_cookie is not None:
        new_cookie.set_on(response)
    if flash:
        clear_cookie(request, response, FLASH_COOKIE)
    return response


def sentence(message: str) -> str:
    """A message as a sentence on a page: capital first letter, final full stop (store and
    validation messages are written to sit inside a longer line)."""
    text = message[:1].upper() + message[1:]
    return text if text.endswith((".", "!", "?")) else text + "."


def redirect(url: str, flash: str | None = None, kind: str = "ok") -> RedirectResponse:
    """303 to ``url`` (POST, redirect, GET), with an optional one-sentence message that the
    next rendered page shows once (``kind``: ok, error, warn, info)."""
    response = RedirectResponse(url, status_code=303)
    if flash:
        value = quote(f"{kind if kind in FLASH_KINDS else 'ok'}:{flash[:FLASH_MAX]}", safe="")
        response.set_cookie(
            FLASH_COOKIE, value, max_age=60, path="/", httponly=True, samesite="lax"
        )
    return response


def _flash_from_cookie(request: Request) -> tuple[str | None, str]:
    """The message a redirect left for this page; the page text is escaped like any other."""
    kind, _, text = unquote(request.cookies.get(FLASH_COOKIE, "")).partition(":")
    if not text or kind not in FLASH_KINDS:
        return None, "ok"
    return text[:FLASH_MAX], kind

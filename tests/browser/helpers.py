"""Helpers for the browser tests: Debian's Chromium, what every page is watched for, sign-in.

Every page the fixtures hand out is watched: console errors, uncaught page errors and every
request URL are recorded, and the test fails at teardown when a page logged an error or asked a
host other than the server for anything. A test that provokes an error on purpose (a refused
``fetch`` logs "Failed to load resource") says so with :func:`expect_console_error`.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import (
    APIResponse,
    BrowserContext,
    ConsoleMessage,
    Page,
    ViewportSize,
    expect,
)

from tests.browser.dashboard import Person

CHROMIUM = os.environ.get("KICKFLOW_TEST_CHROMIUM", "/usr/bin/chromium")
# Headless, no sandbox (containers), and none of Chromium's own traffic (updates, sync,
# safe browsing): the only requests left are the pages' own, which the tests check.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-quic",
    "--no-first-run",
    "--disable-component-update",
    "--disable-sync",
]
# The machine is shared and loaded: waits are long, and end as soon as the condition holds.
TIMEOUT_MS = 30_000
NAVIGATION_TIMEOUT_MS = 60_000
LAPTOP: ViewportSize = {"width": 1280, "height": 800}
TABLET: ViewportSize = {"width": 820, "height": 1180}
LOCAL_SCHEMES = ("data:", "blob:", "about:")


def chromium_or_skip() -> str:
    """The Chromium executable; without it the browser tests skip, or fail when ``CI=true``."""
    if os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    message = f"Chromium not found at {CHROMIUM} (install it with scripts/test-deps.sh)"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: browser tests must run)", pytrace=False)
    pytest.skip(message)


@dataclass
class PageWatch:
    """What the pages of one browser context did that a test must not let pass."""

    origin: str
    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    expected: list[re.Pattern[str]] = field(default_factory=list)

    def attach(self, context: BrowserContext) -> None:
        """Record from every page of ``context``, popups included."""
        context.on("console", self._console)
        context.on("weberror", lambda error: self.errors.append(f"page error: {error.error}"))
        context.on("request", lambda request: self.requests.append(request.url))
        context.on("page", self._page)

    def _page(self, page: Page) -> None:
        page.on("websocket", lambda socket: self.requests.append(socket.url))

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location.get("url") or "?"
            self.errors.append(f"console error: {message.text} (at {where})")

    def unexpected_errors(self) -> list[str]:
        return [e for e in self.errors if not any(p.search(e) for p in self.expected)]

    def foreign_requests(self) -> list[str]:
        """Requests to anything but the server (``data:``/``blob:`` URLs are local)."""
        return [u for u in self.requests if not is_local(u, self.origin)]

    def problems(self) -> list[str]:
        foreign = [f"request to another host: {u}" for u in self.foreign_requests()]
        return self.unexpected_errors() + foreign


def is_local(url: str, origin: str) -> bool:
    """Whether ``url`` stays in the browser or goes to the server at ``origin``."""
    if url.startswith(LOCAL_SCHEMES):
        return True
    parts, server = urlsplit(url), urlsplit(origin)
    return (parts.scheme, parts.netloc) == (server.scheme, server.netloc)


_WATCHES: dict[int, PageWatch] = {}


def watch_context(context: BrowserContext, origin: str) -> PageWatch:
    """Start watching ``context`` (the fixtures do this for every page they hand out)."""
    watch = PageWatch(origin)
    watch.attach(context)
    _WATCHES[id(context)] = watch
    return watch


def forget_context(context: BrowserContext) -> None:
    _WATCHES.pop(id(context), None)


def watch_of_context(context: BrowserContext) -> PageWatch:
    try:
        return _WATCHES[id(context)]
    except KeyError:
        raise LookupError("this page was not made by the browser fixtures") from None


def watch_of(page: Page) -> PageWatch:
    """The watch of the context ``page`` belongs to."""
    return watch_of_context(page.context)


def expect_console_error(page: Page, pattern: str) -> None:
    """Let console errors matching ``pattern`` (a regular expression) pass at teardown: for a
    test that provokes one on purpose, e.g. a refused request (``"status of 403"``)."""
    watch_of(page).expected.append(re.compile(pattern))


def new_watched_page(context: BrowserContext, origin: str) -> Page:
    """A page of ``context`` with the generous timeouts of a loaded machine."""
    watch_context(context, origin)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(NAVIGATION_TIMEOUT_MS)
    return context.new_page()


def save_screenshots(context: BrowserContext, folder: Path, label: str) -> list[Path]:
    """A full-page screenshot of every open page of ``context`` under ``folder``."""
    saved = []
    for index, page in enumerate(context.pages):
        if page.is_closed():
            continue
        target = folder / f"{label}-{index}.png"
        page.screenshot(path=str(target), full_page=True)
        saved.append(target)
    return saved


def sign_in(page: Page, base_url: str, person: Person) -> None:
    """Sign ``person`` in through the real sign-in form and wait until it lets them in."""
    page.goto(f"{base_url}/login")
    fill_sign_in(page, person.email, person.password)
    stuck = f"the sign-in of {person.email} did not get past /login"
    expect(page, stuck).not_to_have_url(re.compile(r"/login(\?|$)"))


def fill_sign_in(page: Page, email: str, password: str) -> None:
    """Type into the sign-in form and send it (the page must be showing the form)."""
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def csrf_token(page: Page) -> str:
    """The page's CSRF token, as its scripts read it (``<meta name="csrf-token">``)."""
    token = page.locator('meta[name="csrf-token"]').get_attribute("content")
    assert token, f"no csrf-token meta tag on {page.url}"
    return token


def post_from_page(
    page: Page,
    path: str,
    *,
    form: dict[str, Any] | None = None,
    json: Any = None,
    csrf: bool = True,
    headers: dict[str, str] | None = None,
) -> APIResponse:
    """A POST with the page's cookies (a request of the signed-in person, outside the page's
    own scripts): with the page's CSRF token in ``X-CSRF-Token`` and in the form, or with
    none at all when ``csrf`` is false — how the tests forge requests the server must refuse.
    Redirects are not followed (a form route's 303 is its answer)."""
    headers, body = dict(headers or {}), dict(form) if form is not None else None
    if csrf:
        token = csrf_token(page)
        headers["X-CSRF-Token"] = token
        if body is not None:
            body["csrf_token"] = token
    base = urlsplit(page.url)
    url = f"{base.scheme}://{base.netloc}{path}"
    return page.request.post(url, headers=headers, form=body, data=json, max_redirects=0)

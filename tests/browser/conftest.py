"""Fixtures of the real-browser tests: Debian's Chromium through Playwright (sync API) against a
real ``kickflow serve``.

- ``browser``: one Chromium for the whole ``tests/browser`` package, per xdist worker (package
  scope: pytest stops it when the worker moves on to other tests, because the sync API keeps an
  event loop running in the thread and other tests' ``asyncio.run`` would refuse to start).
- ``dashboard``: a server per test module (:mod:`tests.browser.dashboard`), with org A's admin,
  member and viewer and org B's admin; override ``dashboard_options`` in a module to change it.
- ``page_for(person)``, ``signed_in_page(role, org)``, ``anonymous_page()``: a page in a fresh
  context (its own cookies), signed in through the real form. At teardown each context's pages
  are saved as full-page screenshots under the test's ``tmp_path``, and the test fails if a page
  logged a console error or a page error, or asked another host than the server for anything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    Page,
    ViewportSize,
    expect,
    sync_playwright,
)

from tests.browser import helpers
from tests.browser.dashboard import ORG_A, Dashboard, DashboardOptions, Person, start_dashboard

expect.set_options(timeout=helpers.TIMEOUT_MS)

PageFactory = Callable[..., Page]
HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test of this package is a browser test (``-m "not browser"`` leaves them out)."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="package")
def browser() -> Iterator[Browser]:
    """Headless Chromium (a fresh temporary profile per launch, which Playwright makes)."""
    executable = helpers.chromium_or_skip()
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=executable, args=helpers.CHROMIUM_ARGS, timeout=120_000
        )
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture(scope="module")
def dashboard_options() -> DashboardOptions:
    """SQLite, one embedded worker slot, the fast test timings (override per module)."""
    return DashboardOptions()


@pytest.fixture(scope="module")
def dashboard(
    dashboard_options: DashboardOptions,
    tmp_path_factory: pytest.TempPathFactory,
    empty_database_url: Callable[[str], str],
) -> Iterator[Dashboard]:
    """A real ``kickflow serve`` for one test module, with the people of org A and org B."""
    base = tmp_path_factory.mktemp("dashboard")
    running = start_dashboard(
        base, empty_database_url(dashboard_options.backend), dashboard_options
    )
    try:
        yield running
    finally:
        running.server.stop()


@pytest.fixture
def new_page(browser: Browser, dashboard: Dashboard, tmp_path: Path) -> Iterator[PageFactory]:
    """``new_page(label, viewport=None, javascript=True)``: a watched page in a fresh context.
    At teardown every context is screenshot and the test fails on what its pages did."""
    made: list[tuple[str, BrowserContext]] = []

    def make(label: str, viewport: ViewportSize | None = None, javascript: bool = True) -> Page:
        context = browser.new_context(
            viewport=viewport or helpers.LAPTOP, java_script_enabled=javascript
        )
        made.append((f"{len(made):02d}-{label}", context))
        return helpers.new_watched_page(context, dashboard.url)

    yield make
    problems = []
    for label, context in made:
        try:
            helpers.save_screenshots(context, tmp_path, label)
        finally:
            context.close()
        problems += [f"{label}: {p}" for p in helpers.watch_of_context(context).problems()]
        helpers.forget_context(context)
    assert not problems, "the browser saw:\n" + "\n".join(problems)


@pytest.fixture
def anonymous_page(new_page: PageFactory) -> PageFactory:
    """``anonymous_page(viewport=None, javascript=True)``: a page nobody is signed in to."""

    def make(viewport: ViewportSize | None = None, javascript: bool = True) -> Page:
        return new_page("anonymous", viewport, javascript)

    return make


@pytest.fixture
def page_for(new_page: PageFactory, dashboard: Dashboard) -> PageFactory:
    """``page_for(person, viewport=None, javascript=True)``: a page signed in as ``person``
    through the sign-in form, showing where the sign-in lands (``/jobs``)."""

    def make(person: Person, viewport: ViewportSize | None = None, javascript: bool = True) -> Page:
        page = new_page(person.email.replace("@", "-at-"), viewport, javascript)
        helpers.sign_in(page, dashboard.url, person)
        return page

    return make


@pytest.fixture
def signed_in_page(page_for: PageFactory, dashboard: Dashboard) -> PageFactory:
    """``signed_in_page(role="admin", org=ORG_A, viewport=None, javascript=True)``."""

    def make(
        role: str = "admin",
        org: str = ORG_A,
        viewport: ViewportSize | None = None,
        javascript: bool = True,
    ) -> Page:
        return page_for(dashboard.person(role, org), viewport, javascript)

    return make

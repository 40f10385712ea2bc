"""Settings → Connect Google Drive in Chromium: the real ``kickflow serve`` sends the browser to
a fake Google's consent page (a real HTTP server on loopback), Allow brings it back, and
Settings says who is connected."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

import pytest
from playwright.sync_api import Page, expect

from tests.browser import helpers
from tests.browser.dashboard import Dashboard, create_people
from tests.fakes.google_server import FakeGoogle
from tests.fixtures_server import free_port, start_server

PageFactory = Callable[..., Page]
ACCOUNT = "member.drive@example.com"


@pytest.fixture(scope="module")
def fake_google() -> Iterator[FakeGoogle]:
    with FakeGoogle() as google:
        google.add_user(ACCOUNT)
        google.add_user("someone.else@example.com")
        yield google


@pytest.fixture(scope="module")
def dashboard(
    fake_google: FakeGoogle,
    tmp_path_factory: pytest.TempPathFactory,
    empty_database_url: Callable[[str], str],
) -> Iterator[Dashboard]:
    """The fixtures' server, pointed at the fake Google. Its port is chosen first: Google
    sends the browser back to the public URL, which must be this server's."""
    port = free_port()
    env = fake_google.env() | {"KICKFLOW_PUBLIC_URL": f"http://127.0.0.1:{port}"}
    base = tmp_path_factory.mktemp("dashboard")
    server = start_server(base, empty_database_url("sqlite"), workers=0, port=port, env=env)
    try:
        yield Dashboard(server, create_people(server))
    finally:
        server.stop()


def forgive_fake_google(page: Page, google: FakeGoogle) -> None:
    """The consent page is the one other host this test means to visit (and the fake serves
    no favicon): the fixtures' checks still see every other host and every other error."""
    helpers.expect_console_error(page, re.escape(f"(at {google.url}/favicon.ico)"))
    watch = helpers.watch_of(page)
    watch.requests[:] = [u for u in watch.requests if not u.startswith(google.url + "/")]


def test_connect_google_drive_from_settings(
    signed_in_page: PageFactory, dashboard: Dashboard, fake_google: FakeGoogle
) -> None:
    page = signed_in_page("member")
    page.goto(f"{dashboard.url}/settings")
    drive = page.locator("#google-drive")
    expect(drive).to_contain_text("not connected")
    drive.get_by_role("link", name="Connect Google Drive").click()

    expect(page).to_have_url(re.compile(re.escape(fake_google.url) + "/"))
    page.locator("#email").select_option(ACCOUNT)
    page.locator("#allow").click()

    expect(page).to_have_url(f"{dashboard.url}/settings#integrations")
    expect(page.locator("#flash")).to_have_text(f"Google Drive is connected as {ACCOUNT}.")
    expect(drive.locator('[data-google-connected="user"]')).to_have_text(f"Connected as {ACCOUNT}")
    expect(drive.get_by_role("button", name="Disconnect")).to_be_visible()
    expect(
        drive.get_by_role("link", name="Connect Google Drive for the organisation")
    ).to_have_count(0)  # a member may not make the organisation's connection
    forgive_fake_google(page, fake_google)

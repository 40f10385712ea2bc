"""Signing in, the Settings page's tokens and signing out, in a real browser."""

from __future__ import annotations

import re
from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.browser.dashboard import Dashboard
from tests.browser.helpers import TABLET, expect_console_error, fill_sign_in

PageFactory = Callable[..., Page]


def test_wrong_password_then_sign_in(anonymous_page: PageFactory, dashboard: Dashboard) -> None:
    admin = dashboard.person("admin")
    page = anonymous_page()
    page.goto(f"{dashboard.url}/login?next=/settings")
    expect_console_error(page, r"status of 401")  # the wrong password's page is a 401
    fill_sign_in(page, admin.email, "not the password")
    expect(page.get_by_role("alert")).to_have_text("Wrong email or password.")
    expect(page.get_by_label("Email")).to_have_value(admin.email)
    expect(page.get_by_label("Password", exact=True)).to_be_focused()
    fill_sign_in(page, admin.email, admin.password)
    expect(page).to_have_url(f"{dashboard.url}/settings")
    expect(page.get_by_role("heading", name=re.compile("Settings of"))).to_be_visible()


def test_a_token_is_shown_once_and_revoked_after_confirming(
    signed_in_page: PageFactory, dashboard: Dashboard
) -> None:
    page = signed_in_page("admin")
    page.goto(f"{dashboard.url}/settings")
    page.locator("#token-name").fill("browser-test-bot")
    page.locator("#token-role").select_option("viewer")
    page.get_by_role("button", name="Create token").click()
    secret = page.locator("#new-token")
    expect(secret).to_have_text(re.compile(r"^kf_"))
    expect(page.get_by_role("button", name="Copy token")).to_be_visible()  # shown by app.js
    page.goto(f"{dashboard.url}/settings")
    expect(page.locator("#new-token")).to_have_count(0)
    row = page.locator("#tokens tr", has_text="browser-test-bot")
    row.get_by_role("button", name="Revoke").click()
    dialog = page.locator("dialog.confirm-dialog")
    expect(dialog).to_contain_text("browser-test-bot")
    dialog.get_by_role("button", name="Revoke").click()
    expect(page.locator("#flash")).to_have_text("The token is revoked.")
    expect(row).to_contain_text("revoked")


def test_sign_out_from_the_user_menu_on_a_tablet(
    signed_in_page: PageFactory, dashboard: Dashboard
) -> None:
    page = signed_in_page("member", viewport=TABLET)
    page.goto(f"{dashboard.url}/account")
    expect(page.get_by_role("link", name="Jobs")).to_be_visible()
    page.locator(".user-menu summary").click()
    page.get_by_role("menuitem", name="Sign out").click()
    expect(page).to_have_url(f"{dashboard.url}/login")
    expect(page.locator("#flash")).to_have_text("You are signed out.")
    page.goto(f"{dashboard.url}/account")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Faccount$"))

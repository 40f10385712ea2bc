"""The Sheets export's API and the job page's "Export to Google Sheets" button, in-process on a
real database with the fake Google on loopback: who may set up and export, which Google
connection an export uses (an admin's own from the dashboard, the organisation's from a
token), tenant scoping, and one sentence for each kind of bad input."""

from __future__ import annotations

import html
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from anyio.from_thread import BlockingPortal, start_blocking_portal
from fastapi import FastAPI

from kickflow.api.app import create_app
from kickflow.config import Settings
from kickflow.integrations.google.oauth import OAuthClient
from kickflow.integrations.google.tokens import GoogleTokens
from kickflow.integrations.google.types import DRIVE_SCOPE, ORG_OWNER, SHEETS_SCOPE
from kickflow.jobs import Job, Role, SqlJobStore
from kickflow.security.passwords import hash_password
from tests.fakes.api import AppClient
from tests.fakes.google_server import FakeGoogle
from tests.fakes.web import PASSWORD, Browser, Person

REDIRECT = "http://127.0.0.1:8000/settings/google/callback"
ORG_ACCOUNT, ADMIN_ACCOUNT = "studio@example.com", "admin@example.com"
PROJECT = "Season 1"
BASE = "/api/qc/projects/Season%201/sheets"


@dataclass
class Site:
    sql: SqlJobStore
    settings: Settings
    g: FakeGoogle
    org: str
    app: FastAPI
    portal: BlockingPortal
    clients: list[AppClient]

    def client(self) -> AppClient:
        client = AppClient(self.app, self.portal)
        self.clients.append(client)
        return client

    def token(self, role: Role, org: str | None = None) -> dict[str, str]:
        secret = self.sql.create_token(org or self.org, role).secret
        return {"Authorization": f"Bearer {secret}"}

    def call(self, method: str, path: str, role: Role = "admin", **kw: Any) -> Any:
        headers = kw.pop("headers", None) or self.token(role)
        return self.client().request(method, path, headers=headers, **kw)

    def connect(self, user_id: str, email: str, scopes: Any = (DRIVE_SCOPE, SHEETS_SCOPE)) -> str:
        self.g.add_user(email)
        client = OAuthClient(self.settings)
        request = client.authorization_request(REDIRECT, scopes)
        back = parse_qs(urlsplit(self.g.approve_url(request.url, email)).query)
        grant = client.exchange_code(back["code"][0], request.code_verifier, REDIRECT)
        return GoogleTokens(self.sql, self.settings).connect(self.org, user_id, grant, email).id

    def person(self, email: str, role: Role) -> Person:
        user = self.sql.create_user(email, hash_password(PASSWORD), email.partition("@")[0])
        self.sql.set_membership(user.id, self.org, role)
        return Person(user.id, user.email, PASSWORD, self.org, role)

    def signed_in(self, person: Person) -> Browser:
        browser = Browser(self.client())
        assert browser.sign_in(person).status_code == 303
        return browser

    def finish(self, file_name: str, verdict: str, project: str = PROJECT) -> Job:
        self.sql.enqueue(self.org, "path", f"/m/{file_name}", file_name=file_name, project=project)
        (claimed,) = self.sql.claim("w-api", limit=1)
        report = {"verdict": verdict, "findings": [], "delivery": {"file_name": file_name}}
        return self.sql.complete(claimed.lease, verdict, report)


@pytest.fixture
def site(job_settings: Settings) -> Iterator[Site]:
    with FakeGoogle() as g:
        overrides = g.settings_overrides() | {
            "google_sheets_export": True,
            "secret_key": "sheets api test key",
            "public_url": "http://testserver",
        }
        settings = job_settings.model_copy(update=overrides)
        sql = SqlJobStore(settings.database_url, settings)
        app = create_app(settings, store=sql)
        with start_blocking_portal() as portal:
            site = Site(sql, settings, g, sql.ensure_org("studio"), app, portal, [])
            try:
                yield site
            finally:
                for client in site.clients:
                    client.close()
                sql.close()


def body(spreadsheet: str, **extra: Any) -> dict[str, Any]:
    return {"spreadsheet": spreadsheet, "vendor": "Vendor A", "seriesTitle": "S", **extra}


def error_of(response: Any) -> tuple[int, str, str]:
    err = response.json()["error"]
    return response.status_code, err["code"], err["message"]


def test_a_token_sets_up_with_the_organisation_connection(site: Site) -> None:
    sheet = site.g.sheets.add_spreadsheet(ORG_ACCOUNT)
    link = f"https://docs.google.com/spreadsheets/d/{sheet}/edit#gid=0"
    status, code, message = error_of(site.call("PUT", BASE, json=body(link)))
    assert (status, code) == (400, "google_not_connected")
    assert message.startswith("This organisation has no Google Drive connection")
    connection_id = site.connect(ORG_OWNER, ORG_ACCOUNT)
    assert site.call("PUT", BASE, "member", json=body(link)).status_code == 403
    saved = site.call("PUT", BASE, json=body(link, onCompletion=False))
    assert saved.status_code == 200, saved.text
    view = saved.json()
    assert view["spreadsheetId"] == sheet and view["tab"] == PROJECT
    assert view["connection"] == {
        "id": connection_id,
        "email": ORG_ACCOUNT,
        "level": "organisation",
    }
    assert view["onCompletion"] is False and view["lastError"] is None
    assert "token" not in saved.text.lower(), "never a token in an answer"
    assert site.call("GET", BASE, "viewer").json() == view

    job = site.finish("EP01.mov", "passed")
    done = site.call("POST", BASE + "/export", "member")
    assert done.status_code == 200, done.text
    assert done.json() | {"url": ""} == {
        "spreadsheetId": sheet, "tab": PROJECT, "added": 1, "updated": 0, "url": "",
    }  # fmt: skip
    again = site.call("POST", f"/api/qc/jobs/{job.id}/export/sheets", "member").json()
    assert (again["added"], again["updated"]) == (0, 1)
    assert site.call("POST", BASE + "/export", "viewer").status_code == 403
    assert site.g.sheets.tab(sheet, PROJECT).row(1)[6] == "EP01.mov"

    other = site.sql.ensure_org("elsewhere")
    theirs = site.token("admin", other)
    status, code, message = error_of(site.call("GET", BASE, headers=theirs))
    assert (status, code) == (404, "sheets_export_not_configured")
    assert message.startswith("This project has no Google Sheets export")
    path = f"/api/qc/jobs/{job.id}/export/sheets"
    assert site.call("POST", path, headers=theirs).status_code == 404, "another org's job"

    assert site.call("DELETE", BASE).status_code == 204
    assert site.call("GET", BASE).status_code == 404
    assert site.call("DELETE", BASE).status_code == 404


def test_bad_input_is_one_sentence_and_nothing_is_saved(site: Site) -> None:
    site.connect(ORG_OWNER, ORG_ACCOUNT)
    hidden = site.g.sheets.add_spreadsheet("someone@else.example")
    cases = [
        (body("https://evil.example/spreadsheets/d/abcdefghijklmnop/edit"), "spreadsheet_invalid"),
        (body("not a link"), "spreadsheet_invalid"),
        (body(hidden), "spreadsheet_access_denied"),
        (body("1" * 44), "spreadsheet_not_found"),
        (body(hidden, connection="mine"), "invalid_request"),
        (body(hidden, vendor="a\x07b"), "validation_error"),
        ({**body(hidden), "extra": 1}, "validation_error"),
    ]
    for payload, expected in cases:
        status, code, message = error_of(site.call("PUT", BASE, json=payload))
        assert (status, code) == (400 if expected != "validation_error" else 422, expected)
        assert message and "Traceback" not in message and "/" not in message.split(":")[0]
    assert site.sql.list_sheet_exports(site.org) == []
    status, code, message = error_of(site.call("POST", BASE + "/export", "member"))
    assert (status, code) == (404, "sheets_export_not_configured")


def test_export_is_refused_when_the_connection_lacks_sheets(site: Site) -> None:
    site.connect(ORG_OWNER, ORG_ACCOUNT, scopes=(DRIVE_SCOPE,))
    sheet = site.g.sheets.add_spreadsheet(ORG_ACCOUNT)
    status, code, message = error_of(site.call("PUT", BASE, json=body(sheet)))
    assert (status, code) == (400, "sheets_scope_missing")
    assert "reconnect Google Drive in Settings" in message


def test_dashboard_admin_uses_their_own_connection_and_the_job_page_button(site: Site) -> None:
    admin = site.person(ADMIN_ACCOUNT, "admin")
    viewer = site.person("viewer@example.com", "viewer")
    own = site.connect(admin.user_id, ADMIN_ACCOUNT)
    sheet = site.g.sheets.add_spreadsheet(ADMIN_ACCOUNT)
    job = site.finish("EP07.mov", "failed")
    browser = site.signed_in(admin)
    page = browser.get(f"/jobs/{job.id}")
    assert page.status_code == 200 and "Export to Google Sheets" not in page.text, "none set up"
    saved = browser.request("PUT", BASE, json=body(sheet), headers={"X-CSRF-Token": browser.csrf})
    assert saved.status_code == 200, saved.text
    assert saved.json()["connection"]["id"] == own
    assert saved.json()["connection"]["level"] == "user"

    page = browser.get(f"/jobs/{job.id}")
    assert "Export to Google Sheets" in page.text
    assert browser.post(f"/jobs/{job.id}/export/sheets", csrf=False).status_code == 403
    pressed = browser.post(f"/jobs/{job.id}/export/sheets")
    assert pressed.status_code == 303, pressed.text
    shown = browser.get(pressed.headers["location"])
    assert f'the row was added to the tab "{PROJECT}"' in html.unescape(shown.text)
    assert site.g.sheets.tab(sheet, PROJECT).row(1)[14] == "FAIL"

    site.g.sheets.spreadsheets[sheet].editors.clear()  # the share was taken away
    refused = browser.post(f"/jobs/{job.id}/export/sheets")
    assert refused.status_code == 400
    assert "share it with that account as an editor" in html.unescape(refused.text)
    assert "Export to Google Sheets" not in site.signed_in(viewer).get(f"/jobs/{job.id}").text

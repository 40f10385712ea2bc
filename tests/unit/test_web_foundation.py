"""The pieces every page stands on: templates, static URLs, error pages, page dependencies."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import Request
from jinja2 import UndefinedError

from kickflow.errors import DatabaseError, JobNotFound
from kickflow.web.session import MemberPage
from kickflow.web.templating import ENV, format_time, static
from tests.fakes.web import WebRig, web_rig


@pytest.fixture
def rig(tmp_path: Path) -> Any:
    with web_rig(tmp_path) as rig:

        @rig.api.app.get("/test-pages/boom")
        def boom() -> None:
            raise RuntimeError("secret detail /srv/kickflow/app.py")

        @rig.api.app.get("/test-pages/job")
        def missing_job() -> None:
            raise JobNotFound("no such job: 123")

        @rig.api.app.get("/test-pages/db")
        def database_down() -> None:
            raise DatabaseError("the database is not reachable")

        @rig.api.app.post("/test-pages/member-action")
        def member_action(request: Request, user: MemberPage) -> dict[str, str]:
            return {"done": user.email}

        yield rig


def test_an_optional_variable_is_false_but_a_misspelt_one_fails() -> None:
    template = ENV.from_string("{% if maybe %}yes{% endif %}[{{ missing }}]")
    with pytest.raises(UndefinedError):
        template.render()
    assert ENV.from_string("{% if maybe %}yes{% endif %}ok").render() == "ok"


def test_templates_escape_what_they_show() -> None:
    assert ENV.from_string("{{ x }}").render(x="<script>") == "&lt;script&gt;"


def test_static_urls_change_with_the_file() -> None:
    url = static("app.css")
    assert url.startswith("/static/app.css?v=") and len(url.split("v=")[1]) == 12
    assert static("app.js") != url.replace("app.css", "app.js")  # its own hash
    assert static("no-such-file.js").endswith("v=missing")


def test_times_read_in_utc() -> None:
    assert format_time(0.0) == "1970-01-01 00:00 UTC" and format_time(None) == "—"


def test_an_unexpected_error_on_a_page_hides_its_details(rig: WebRig) -> None:
    browser = rig.browser()
    # Starlette re-raises after answering (for the server's log): take the answer.
    transport = httpx.ASGITransport(app=rig.api.app, raise_app_exceptions=False)
    browser.client.close()
    browser.client.http = httpx.AsyncClient(transport=transport, base_url="http://testserver")
    page = browser.get("/test-pages/boom")
    assert page.status_code == 500 and "text/html" in page.headers["content-type"]
    assert "Something went wrong on our side" in page.text
    assert "secret detail" not in page.text and "/srv/" not in page.text


def test_product_errors_on_a_page_keep_status_and_sentence(rig: WebRig) -> None:
    missing = rig.browser().get("/test-pages/job")
    assert missing.status_code == 404 and "no such job: 123" in missing.text
    down = rig.browser().get("/test-pages/db")
    assert down.status_code == 503 and "the database is not reachable" in down.text
    assert "content-security-policy" in down.headers


def test_a_page_post_checks_role_and_csrf(rig: WebRig) -> None:
    viewer = rig.browser()
    viewer.sign_in(rig.person("vic@studio.test", "viewer"))
    viewer.get("/account")
    assert viewer.post("/test-pages/member-action").status_code == 403
    member = rig.browser()
    member.sign_in(rig.person("meg@studio.test", "member"))
    member.get("/account")
    assert member.post("/test-pages/member-action", csrf=False).status_code == 403
    header = {"X-CSRF-Token": member.csrf}
    assert member.request("POST", "/test-pages/member-action", headers=header).json() == {
        "done": "meg@studio.test"
    }
    signed_out = rig.browser().post("/test-pages/member-action", csrf=False)
    assert signed_out.status_code == 401 and "Sign in" in signed_out.text

"""Signing in and out, sessions, CSRF and invitations, through the pages (in-process app on
the fake store; passwords really hashed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kickflow.api import auth as api_auth
from kickflow.web.session import FORM_COOKIE, SESSION_COOKIE
from kickflow.web.signin import safe_next
from tests.fakes.web import Browser, Person, WebRig, web_rig
from tests.web_helpers import signed_in

WRONG = "Wrong email or password."


@pytest.fixture
def rig(tmp_path: Path) -> Any:
    with web_rig(tmp_path) as rig:
        yield rig


@pytest.fixture
def ann(rig: WebRig) -> Person:
    return rig.person("ann@studio.test", "admin")


def session_id(rig: WebRig, browser: Browser) -> str:
    session = rig.store.session_by_secret(str(browser.cookie(SESSION_COOKIE)), 3600)
    assert session is not None
    return session.id


def set_cookie_header(response: Any, name: str) -> str:
    headers = [h for h in response.headers.get_list("set-cookie") if h.startswith(name + "=")]
    assert len(headers) == 1, response.headers.get_list("set-cookie")
    return str(headers[0])


# --- sign in ------------------------------------------------------------------------------------


def test_sign_in_sets_a_strict_session_cookie_and_goes_on(rig: WebRig, ann: Person) -> None:
    browser = rig.browser()
    browser.get("/login?next=/settings")
    answer = browser.post("/login", {"email": "ANN@studio.test ", "password": ann.password,
                                     "next": "/settings"})  # fmt: skip
    assert answer.status_code == 303 and answer.headers["location"] == "/settings"
    cookie = set_cookie_header(answer, SESSION_COOKIE).lower()
    assert "httponly" in cookie and "samesite=lax" in cookie and "path=/" in cookie
    assert "secure" not in cookie  # plain http, KICKFLOW_COOKIE_SECURE=auto
    page = browser.get("/settings")
    assert page.status_code == 200 and "ann@studio.test" in page.text


@pytest.mark.parametrize(
    ("mode", "headers", "secure"),
    [("auto", {"X-Forwarded-Proto": "https"}, True), ("auto", {}, False), ("true", {}, True),
     ("false", {"X-Forwarded-Proto": "https"}, False)],
)  # fmt: skip
def test_secure_flag_follows_the_setting(
    tmp_path: Path, mode: str, headers: dict[str, str], secure: bool
) -> None:
    with web_rig(tmp_path, cookie_secure=mode) as rig:
        answer = rig.browser().get("/login", headers=headers)
        assert ("secure" in set_cookie_header(answer, FORM_COOKIE).lower()) is secure


def test_over_https_the_session_cookie_is_secure(rig: WebRig, ann: Person) -> None:
    browser = rig.browser()
    browser.client.http.base_url = "https://testserver"
    browser.get("/login")
    answer = browser.post("/login", {"email": ann.email, "password": ann.password})
    assert answer.status_code == 303
    assert "secure" in set_cookie_header(answer, SESSION_COOKIE).lower()


def test_wrong_password_is_401_with_the_sentence_and_the_email_kept(
    rig: WebRig, ann: Person
) -> None:
    browser = rig.browser()
    browser.get("/login")
    answer = browser.post("/login", {"email": ann.email, "password": "not the password"})
    assert answer.status_code == 401
    assert WRONG in answer.text and f'value="{ann.email}"' in answer.text
    assert SESSION_COOKIE not in answer.headers.get("set-cookie", "")
    assert browser.get("/settings").status_code == 303  # still signed out


def test_unknown_email_reads_exactly_like_a_wrong_password(rig: WebRig, ann: Person) -> None:
    browser = rig.browser()
    browser.get("/login")
    answer = browser.post("/login", {"email": "nobody@studio.test", "password": ann.password})
    assert answer.status_code == 401 and WRONG in answer.text


def test_too_many_failures_for_an_account_lock_it_for_a_while(rig: WebRig, ann: Person) -> None:
    browser = rig.browser()
    browser.get("/login")
    for _ in range(5):
        assert browser.post("/login", {"email": ann.email, "password": "nope"}).status_code == 401
    answer = browser.post("/login", {"email": ann.email, "password": ann.password})
    assert answer.status_code == 429
    assert "Too many failed sign-ins for this account: try again in 15 minutes." in answer.text
    assert answer.headers["retry-after"] == "900"
    assert f'value="{ann.email}"' in answer.text
    rig.store.clock.advance(15 * 60 + 1)
    assert browser.post("/login", {"email": ann.email, "password": ann.password}).status_code == 303


def test_too_many_failures_from_an_address_stop_it(tmp_path: Path) -> None:
    with web_rig(tmp_path, sign_in_max_failures_per_address=3) as rig:
        ann = rig.person("ann@studio.test", "admin")
        browser = rig.browser()
        browser.get("/login")
        for n in range(3):
            browser.post("/login", {"email": f"guess{n}@studio.test", "password": "nope"})
        answer = browser.post("/login", {"email": ann.email, "password": ann.password})
        assert answer.status_code == 429 and "from your network address" in answer.text


def test_a_good_sign_in_clears_the_account_count(rig: WebRig, ann: Person) -> None:
    browser = rig.browser()
    browser.get("/login")
    for _ in range(4):
        browser.post("/login", {"email": ann.email, "password": "nope"})
    assert browser.post("/login", {"email": ann.email, "password": ann.password}).status_code == 303
    assert rig.store.sign_in_failures(f"account:{ann.email}", 900) == 0


def test_each_sign_in_is_a_new_session_and_ends_the_old_one(rig: WebRig, ann: Person) -> None:
    browser = signed_in(rig, ann)
    first = browser.cookie(SESSION_COOKIE)
    browser.sign_in(ann)
    second = browser.cookie(SESSION_COOKIE)
    assert first and second and first != second
    assert rig.store.session_by_secret(first, 3600) is None
    assert rig.store.session_by_secret(second, 3600) is not None


def test_a_disabled_account_is_refused_after_the_password(rig: WebRig, ann: Person) -> None:
    rig.store.edit_people("users", ann.user_id, disabled_at=rig.store.clock.current)
    browser = rig.browser()
    browser.get("/login")
    answer = browser.post("/login", {"email": ann.email, "password": ann.password})
    assert answer.status_code == 403 and "disabled" in answer.text


@pytest.mark.parametrize(
    "target",
    ["//evil.example/x", "https://evil.example/", "/\\evil.example", "javascript:alert(1)",
     "evil.example", "/\t/evil.example", "/login", ""],
)  # fmt: skip
def test_next_never_leaves_the_site(target: str) -> None:
    assert safe_next(target) == "/jobs"


def test_next_keeps_paths_and_queries_of_the_site() -> None:
    assert safe_next("/jobs/abc?tab=findings#f3") == "/jobs/abc?tab=findings#f3"


def test_an_open_redirect_through_the_form_is_refused(rig: WebRig, ann: Person) -> None:
    browser = rig.browser()
    browser.get("/login")
    answer = browser.post(
        "/login", {"email": ann.email, "password": ann.password, "next": "//evil.example/"}
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/jobs"


def test_a_signed_out_page_visit_comes_back_after_sign_in(rig: WebRig, ann: Person) -> None:
    browser = rig.browser()
    answer = browser.get("/settings?tab=x")
    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=%2Fsettings%3Ftab%3Dx"
    login = browser.get(answer.headers["location"])
    assert 'name="next" value="/settings?tab=x"' in login.text


# --- sign out, sessions -------------------------------------------------------------------------


def test_sign_out_revokes_the_session_on_the_server(rig: WebRig, ann: Person) -> None:
    browser = signed_in(rig, ann)
    browser.get("/account")
    stolen = browser.cookie(SESSION_COOKIE)
    answer = browser.post("/logout")
    assert answer.status_code == 303 and answer.headers["location"] == "/login"
    assert "max-age=0" in set_cookie_header(answer, SESSION_COOKIE).lower()
    replay = rig.browser()
    replay.client.http.cookies.set(SESSION_COOKIE, str(stolen))
    assert replay.get("/account").status_code == 303
    assert replay.get("/api/qc/jobs").status_code == 401
    assert "You are signed out." in browser.get("/login").text  # the flash, once


def test_account_lists_sessions_and_revokes_another_one(rig: WebRig, ann: Person) -> None:
    laptop, tablet = signed_in(rig, ann), signed_in(rig, ann)
    page = laptop.get("/account")
    assert page.text.count("/revoke") == 2 and "this browser" in page.text
    answer = laptop.post(f"/account/sessions/{session_id(rig, tablet)}/revoke")
    assert answer.status_code == 303
    assert tablet.get("/account").status_code == 303  # signed out there
    assert laptop.get("/account").status_code == 200  # not here


def test_another_users_session_cannot_be_revoked(rig: WebRig, ann: Person) -> None:
    bob = rig.person("bob@studio.test", "member")
    bob_browser = signed_in(rig, bob)
    browser = signed_in(rig, ann)
    browser.get("/account")
    assert (
        browser.post(f"/account/sessions/{session_id(rig, bob_browser)}/revoke").status_code == 404
    )
    assert bob_browser.get("/account").status_code == 200


def test_idle_sessions_end(rig: WebRig, ann: Person) -> None:
    browser = signed_in(rig, ann)
    rig.store.clock.advance(61 * 60)  # KICKFLOW_SESSION_IDLE_MINUTES = 60
    assert browser.get("/account").status_code == 303


def test_password_change_needs_the_current_one_and_ends_other_sessions(
    rig: WebRig, ann: Person
) -> None:
    here, elsewhere = signed_in(rig, ann), signed_in(rig, ann)
    here.get("/account")
    wrong = here.post("/account/password", {"current": "nope", "new": "a new secret 1",
                                             "confirm": "a new secret 1"})  # fmt: skip
    assert wrong.status_code == 400 and "The current password is wrong." in wrong.text
    short = here.post("/account/password", {"current": ann.password, "new": "short",
                                             "confirm": "short"})  # fmt: skip
    assert short.status_code == 400 and "at least 10 characters" in short.text
    done = here.post("/account/password", {"current": ann.password, "new": "a new secret 1",
                                            "confirm": "a new secret 1"})  # fmt: skip
    assert done.status_code == 303
    assert "1 other session was signed out" in here.get("/account").text
    assert elsewhere.get("/account").status_code == 303
    fresh = rig.browser()
    fresh.get("/login")
    assert (
        fresh.post("/login", {"email": ann.email, "password": "a new secret 1"}).status_code == 303
    )


def test_the_organisation_switcher_moves_the_session(rig: WebRig, ann: Person) -> None:
    rig.store.set_membership(ann.user_id, rig.other, "viewer")
    browser = signed_in(rig, ann)
    page = browser.get("/account")
    assert "Switch" in page.text and "elsewhere" in page.text
    answer = browser.post("/account/organisation", {"org_id": rig.other, "next": "/jobs/abc"})
    assert answer.status_code == 303 and answer.headers["location"] == "/jobs"
    assert "Settings of elsewhere" in browser.get("/settings").text
    stranger = rig.store.ensure_org("stranger")
    assert browser.post("/account/organisation", {"org_id": stranger}).status_code == 403


# --- CSRF ---------------------------------------------------------------------------------------


def test_a_form_post_without_the_token_is_refused(rig: WebRig, ann: Person) -> None:
    browser = signed_in(rig, ann)
    browser.get("/account")
    assert browser.post("/logout", csrf=False).status_code == 403
    assert browser.post("/logout", {"csrf_token": "forged"}).status_code == 403
    assert browser.get("/account").status_code == 200  # still signed in


def test_a_cross_site_post_is_refused_even_with_the_token(rig: WebRig, ann: Person) -> None:
    browser = signed_in(rig, ann)
    browser.get("/account")
    for headers in (
        {"Origin": "https://evil.example"},
        {"Origin": "https://testserver.evil.example"},
        {"Origin": "null"},
        {"Sec-Fetch-Site": "cross-site"},
    ):
        answer = browser.post("/logout", headers=headers)
        assert answer.status_code == 403 and "another site" in answer.text
    assert browser.post("/logout", headers={"Origin": "http://testserver:8080"}).status_code == 303


def test_the_sign_in_form_needs_its_double_submit_token(rig: WebRig, ann: Person) -> None:
    browser = rig.browser()
    login = browser.get("/login")
    assert FORM_COOKIE in login.headers.get("set-cookie", "")
    fields = {"email": ann.email, "password": ann.password}
    assert browser.post("/login", fields, csrf=False).status_code == 403
    assert browser.post("/login", fields | {"csrf_token": "x" * 43}).status_code == 403
    assert browser.post("/login", fields).status_code == 303


def test_the_api_takes_the_cookie_and_wants_the_header_for_changes(
    rig: WebRig, ann: Person, monkeypatch: pytest.MonkeyPatch
) -> None:
    marks: list[str] = []
    monkeypatch.setattr(api_auth.USAGE, "note", lambda _s, p: marks.append(p.token_id))
    browser = signed_in(rig, ann)
    browser.get("/account")
    assert browser.get("/api/qc/jobs").status_code == 200
    body = {"action": "trigger_worker"}
    refused = browser.request("POST", "/api/qc/debug", json=body)
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "csrf_refused"
    cross = {"X-CSRF-Token": browser.csrf, "Origin": "https://evil.example"}
    assert browser.request("POST", "/api/qc/debug", json=body, headers=cross).status_code == 403
    ok = browser.request("POST", "/api/qc/debug", json=body, headers={"X-CSRF-Token": browser.csrf})
    assert ok.status_code == 200
    assert marks == []  # a session is not a token: no usage mark
    rig.api.get("/api/qc/jobs", role="viewer")
    assert len(marks) == 1  # tokens still are marked


def test_the_api_refuses_a_viewer_session_an_admin_action(rig: WebRig) -> None:
    viewer = signed_in(rig, rig.person("vic@studio.test", "viewer"))
    viewer.get("/account")
    answer = viewer.request(
        "POST", "/api/qc/debug", json={"action": "retry_stuck"},
        headers={"X-CSRF-Token": viewer.csrf},
    )  # fmt: skip
    assert answer.status_code == 403


# --- invitations --------------------------------------------------------------------------------


def test_a_new_person_accepts_an_invitation_and_is_signed_in(rig: WebRig, ann: Person) -> None:
    issued = rig.store.create_invitation(rig.org, "new@studio.test", "member", ann.user_id, 3600)
    browser = rig.browser()
    page = browser.get(f"/invite/{issued.secret}")
    assert page.status_code == 200 and "studio" in page.text and "member" in page.text
    assert 'value="new@studio.test"' in page.text
    fields = {"name": "Nia", "email": "nia@studio.test", "password": "long enough 1",
              "confirm": "long enough 1"}  # fmt: skip
    answer = browser.post(f"/invite/{issued.secret}", fields)
    assert answer.status_code == 303 and answer.headers["location"] == "/jobs"
    settings = browser.get("/settings")
    assert settings.status_code == 200 and "nia@studio.test" in settings.text
    assert "Welcome to studio." in settings.text
    again = rig.browser().get(f"/invite/{issued.secret}")
    assert again.status_code == 410
    assert "expired or was already used" in again.text


def test_an_invitation_form_error_keeps_what_was_typed(rig: WebRig, ann: Person) -> None:
    issued = rig.store.create_invitation(rig.org, "new@studio.test", "member", ann.user_id, 3600)
    browser = rig.browser()
    browser.get(f"/invite/{issued.secret}")
    fields = {"name": "Nia", "email": "nia@studio.test", "password": "long enough 1",
              "confirm": "other thing 2"}  # fmt: skip
    answer = browser.post(f"/invite/{issued.secret}", fields)
    assert answer.status_code == 400 and "The two passwords differ." in answer.text
    assert 'value="nia@studio.test"' in answer.text and 'value="Nia"' in answer.text
    taken = fields | {"email": ann.email, "confirm": "long enough 1"}
    answer = browser.post(f"/invite/{issued.secret}", taken)
    assert answer.status_code == 409 and "already exists" in answer.text
    assert getattr(rig.store.invitation_by_secret(issued.secret), "state", None) == "pending"


def test_an_expired_invitation_is_gone(rig: WebRig, ann: Person) -> None:
    issued = rig.store.create_invitation(rig.org, "new@studio.test", "member", ann.user_id, 60)
    rig.store.clock.advance(61)
    page = rig.browser().get(f"/invite/{issued.secret}")
    assert page.status_code == 410 and "text/html" in page.headers["content-type"]
    assert "This invitation link has expired or was already used" in page.text
    assert rig.browser().get("/invite/not-a-secret").status_code == 410


def test_a_signed_in_user_joins_another_organisation(rig: WebRig) -> None:
    other_admin = rig.person("olga@elsewhere.test", "admin", org=rig.other)
    issued = rig.store.create_invitation(
        rig.other, "ann@studio.test", "member", other_admin.user_id, 3600
    )
    ann = rig.person("ann@studio.test", "admin")
    browser = signed_in(rig, ann)
    page = browser.get(f"/invite/{issued.secret}")
    assert "Accept the invitation" in page.text
    answer = browser.post(f"/invite/{issued.secret}")
    assert answer.status_code == 303
    assert {m.org_id for m in rig.store.memberships(ann.user_id)} == {rig.org, rig.other}
    assert "Settings of elsewhere" in browser.get("/settings").text


# --- pages in general ---------------------------------------------------------------------------


def test_pages_carry_the_security_headers(rig: WebRig) -> None:
    page = rig.browser().get("/login")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "form-action 'self'" in csp and "unsafe-inline" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assert page.headers["referrer-policy"] == "same-origin"
    assert "<script>" not in page.text and "style=" not in page.text


def test_unknown_pages_are_html_and_the_api_stays_json(rig: WebRig, ann: Person) -> None:
    browser = signed_in(rig, ann)
    page = browser.get("/no-such-page")
    assert page.status_code == 404 and "text/html" in page.headers["content-type"]
    assert "This page does not exist" in page.text and "Sign out" in page.text
    api = browser.get("/api/qc/jobs/no-such-job")
    assert api.status_code == 404 and api.headers["content-type"] == "application/json"


def test_home_goes_to_sign_in_or_to_the_jobs(rig: WebRig, ann: Person) -> None:
    assert rig.browser().get("/").headers["location"] == "/login"
    assert signed_in(rig, ann).get("/").headers["location"] == "/jobs"


def test_static_assets_are_served_from_the_package(rig: WebRig) -> None:
    page = rig.browser().get("/login")
    css = page.text.split('rel="stylesheet" href="')[1].split('"')[0]
    assert css.startswith("/static/app.css?v=")
    asset = rig.browser().get(css)
    assert asset.status_code == 200 and "text/css" in asset.headers["content-type"]
    assert "immutable" in asset.headers["cache-control"]
    assert rig.browser().get("/static/../pages/auth.py").status_code == 404

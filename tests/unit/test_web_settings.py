"""The Settings page: members, invitations, API tokens; roles and tenant scoping."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.fakes.web import Browser, Person, WebRig, web_rig
from tests.web_helpers import signed_in

TOKEN = re.compile(r'<code class="secret" id="new-token">(kf_[^<]+)</code>')
LINK = re.compile(r'<code class="secret" id="new-invitation-url">([^<]+)</code>')


@pytest.fixture
def rig(tmp_path: Path) -> Any:
    with web_rig(tmp_path) as rig:
        yield rig


@pytest.fixture
def ann(rig: WebRig) -> Person:
    return rig.person("ann@studio.test", "admin")


def open_settings(rig: WebRig, person: Person) -> Browser:
    browser = signed_in(rig, person)
    assert browser.get("/settings").status_code == 200
    return browser


# --- what each role sees ------------------------------------------------------------------------


def test_an_admin_sees_members_invitations_tokens_and_integrations(
    rig: WebRig, ann: Person
) -> None:
    rig.person("bob@studio.test", "member")
    page = open_settings(rig, ann).get("/settings").text
    for section in ('id="members"', 'id="invitations"', 'id="tokens"', 'id="integrations"'):
        assert section in page
    assert "bob@studio.test" in page and "/settings/members/" in page
    assert "Google Drive" in page and "not connected — coming with the integrations" in page


def test_a_viewer_sees_the_members_and_no_admin_controls(rig: WebRig, ann: Person) -> None:
    rig.store.create_token(rig.org, "member", "studio-bot-7")
    vic = rig.person("vic@studio.test", "viewer")
    page = open_settings(rig, vic).get("/settings").text
    assert "ann@studio.test" in page and 'id="integrations"' in page
    assert 'id="tokens"' not in page and 'id="invitations"' not in page
    assert "studio-bot-7" not in page and "/remove" not in page and "<select" not in page


def test_a_viewer_is_refused_every_admin_action(rig: WebRig, ann: Person) -> None:
    token = rig.store.create_token(rig.org, "member", "farm")
    before = len(rig.store.list_tokens(rig.org))
    browser = open_settings(rig, rig.person("vic@studio.test", "viewer"))
    for path, form in [
        ("/settings/tokens", {"name": "mine", "role": "admin"}),
        (f"/settings/tokens/{token.id}/revoke", {}),
        ("/settings/invitations", {"email": "x@studio.test", "role": "admin"}),
        (f"/settings/members/{ann.user_id}/role", {"role": "viewer"}),
        (f"/settings/members/{ann.user_id}/remove", {}),
    ]:
        answer = browser.post(path, form)
        assert answer.status_code == 403, path
        assert "needs the admin role" in answer.text
    assert rig.store.authenticate(token.secret) is not None
    assert len(rig.store.list_tokens(rig.org)) == before
    assert rig.store.list_invitations(rig.org) == []


def test_signed_out_settings_go_to_sign_in(rig: WebRig) -> None:
    answer = rig.browser().get("/settings")
    assert answer.status_code == 303 and answer.headers["location"] == "/login?next=%2Fsettings"


# --- API tokens ---------------------------------------------------------------------------------


def test_a_new_token_is_shown_once_and_works(rig: WebRig, ann: Person) -> None:
    browser = open_settings(rig, ann)
    answer = browser.post("/settings/tokens", {"name": "studio-bot-7", "role": "member"})
    assert answer.status_code == 200
    secret = TOKEN.search(answer.text)
    assert secret is not None
    principal = rig.store.authenticate(secret.group(1))
    assert principal is not None and principal.role == "member" and principal.org_id == rig.org
    later = browser.get("/settings").text
    assert secret.group(1) not in later and "studio-bot-7" in later


def test_a_token_form_error_keeps_the_input(rig: WebRig, ann: Person) -> None:
    browser = open_settings(rig, ann)
    answer = browser.post("/settings/tokens", {"name": "  ", "role": "member"})
    assert answer.status_code == 400 and "Name the token" in answer.text
    answer = browser.post("/settings/tokens", {"name": "farm", "role": "operator"})
    assert answer.status_code == 400 and "Choose a role among viewer, member, admin." in answer.text
    assert 'value="farm"' in answer.text
    assert not any(t.name == "farm" for t in rig.store.list_tokens(rig.org))


def test_revoking_a_token_stops_it_and_the_list_says_so(rig: WebRig, ann: Person) -> None:
    token = rig.store.create_token(rig.org, "member", "farm")
    browser = open_settings(rig, ann)
    answer = browser.post(f"/settings/tokens/{token.id}/revoke")
    assert answer.status_code == 303
    assert rig.store.authenticate(token.secret) is None
    page = browser.get("/settings").text
    assert "The token is revoked." in page and "badge-revoked" in page


def test_token_last_use_is_listed(rig: WebRig, ann: Person) -> None:
    token = rig.store.create_token(rig.org, "member", "farm")
    rig.store.mark_token_used(token.id)
    page = open_settings(rig, ann).get("/settings").text
    row = page.split("farm</td>")[1].split("</tr>")[0]
    assert "never" not in row and "UTC" in row


# --- invitations --------------------------------------------------------------------------------


def test_an_invitation_link_is_shown_once_and_lets_the_person_in(rig: WebRig, ann: Person) -> None:
    browser = open_settings(rig, ann)
    answer = browser.post("/settings/invitations", {"email": "Nia@Studio.test", "role": "viewer"})
    assert answer.status_code == 200
    link = LINK.search(answer.text)
    assert link is not None and link.group(1).startswith("http://testserver/invite/")
    assert link.group(1) not in browser.get("/settings").text
    newcomer = rig.browser()
    path = link.group(1).removeprefix("http://testserver")
    invite = newcomer.get(path)
    assert invite.status_code == 200 and 'value="nia@studio.test"' in invite.text
    fields = {"email": "nia@studio.test", "password": "long enough 1", "confirm": "long enough 1"}
    assert newcomer.post(path, fields).status_code == 303
    page = browser.get("/settings").text
    assert "nia@studio.test" in page and "badge-accepted" in page


def test_a_bad_invitation_address_keeps_the_input(rig: WebRig, ann: Person) -> None:
    browser = open_settings(rig, ann)
    answer = browser.post("/settings/invitations", {"email": "not an address", "role": "member"})
    assert answer.status_code == 400
    assert "The email address must look like name@example.com." in answer.text
    assert 'value="not an address"' in answer.text
    assert rig.store.list_invitations(rig.org) == []


def test_revoking_an_invitation_kills_the_link(rig: WebRig, ann: Person) -> None:
    issued = rig.store.create_invitation(rig.org, "x@studio.test", "member", ann.user_id, 3600)
    browser = open_settings(rig, ann)
    assert browser.post(f"/settings/invitations/{issued.invitation.id}/revoke").status_code == 303
    assert rig.browser().get(f"/invite/{issued.secret}").status_code == 410
    assert "badge-revoked" in browser.get("/settings").text


# --- members ------------------------------------------------------------------------------------


def test_an_admin_changes_a_role_and_removes_a_member(rig: WebRig, ann: Person) -> None:
    bob = rig.person("bob@studio.test", "member")
    bob_browser = open_settings(rig, bob)
    browser = open_settings(rig, ann)
    assert (
        browser.post(f"/settings/members/{bob.user_id}/role", {"role": "viewer"}).status_code == 303
    )
    assert [m.role for m in rig.store.memberships(bob.user_id)] == ["viewer"]
    assert browser.post(f"/settings/members/{bob.user_id}/remove").status_code == 303
    assert rig.store.memberships(bob.user_id) == []
    assert bob_browser.get("/settings").status_code == 303  # their session ended


def test_an_admin_cannot_lock_the_organisation_out(rig: WebRig, ann: Person) -> None:
    browser = open_settings(rig, ann)
    own = browser.post(f"/settings/members/{ann.user_id}/role", {"role": "viewer"})
    assert own.status_code == 403 and "ask another admin" in own.text
    boss = rig.person("boss@studio.test", "operator")
    answer = browser.post(f"/settings/members/{boss.user_id}/remove")
    assert answer.status_code == 403 and "Only an operator" in answer.text


def test_an_admin_cannot_hand_out_the_operator_role(rig: WebRig, ann: Person) -> None:
    bob = rig.person("bob@studio.test", "member")
    answer = open_settings(rig, ann).post(
        f"/settings/members/{bob.user_id}/role", {"role": "operator"}
    )
    assert answer.status_code == 400
    assert [m.role for m in rig.store.memberships(bob.user_id)] == ["member"]


# --- tenant scoping -----------------------------------------------------------------------------


def test_another_organisation_sees_none_of_this_one(rig: WebRig, ann: Person) -> None:
    rig.person("bob@studio.test", "member")
    rig.store.create_token(rig.org, "member", "studio farm")
    rig.store.create_invitation(rig.org, "x@studio.test", "member", ann.user_id, 3600)
    olga = rig.person("olga@elsewhere.test", "admin", org=rig.other)
    page = open_settings(rig, olga).get("/settings").text
    for secret_of_studio in ("ann@studio.test", "bob@studio.test", "studio farm", "x@studio.test"):
        assert secret_of_studio not in page


def test_another_organisations_ids_are_not_found(rig: WebRig, ann: Person) -> None:
    token = rig.store.create_token(rig.org, "member", "farm")
    issued = rig.store.create_invitation(rig.org, "x@studio.test", "member", ann.user_id, 3600)
    browser = open_settings(rig, rig.person("olga@elsewhere.test", "admin", org=rig.other))
    for path, form in [
        (f"/settings/tokens/{token.id}/revoke", {}),
        (f"/settings/invitations/{issued.invitation.id}/revoke", {}),
        (f"/settings/members/{ann.user_id}/role", {"role": "viewer"}),
        (f"/settings/members/{ann.user_id}/remove", {}),
    ]:
        answer = browser.post(path, form)
        assert answer.status_code == 404, path
        assert "text/html" in answer.headers["content-type"]
    assert rig.store.authenticate(token.secret) is not None
    assert getattr(rig.store.invitation_by_secret(issued.secret), "state", None) == "pending"
    assert [m.role for m in rig.store.memberships(ann.user_id)] == ["admin"]


def test_settings_posts_need_the_csrf_token(rig: WebRig, ann: Person) -> None:
    browser = open_settings(rig, ann)
    answer = browser.post("/settings/tokens", {"name": "farm", "role": "member"}, csrf=False)
    assert answer.status_code == 403
    assert not any(t.name == "farm" for t in rig.store.list_tokens(rig.org))

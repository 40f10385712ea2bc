"""What the first run of ``kickflow serve`` prints: a one-time sign-in link for the local
admin while the local organisation has no members (one valid link at a time), beside the
first-run API token."""

from __future__ import annotations

from kickflow.cli.serve import FIRST_ADMIN_EMAIL, banner, first_run_invitation
from kickflow.config import local_url
from tests.fakes import FakeJobStore


def test_a_sign_in_link_is_made_while_the_local_org_has_no_members() -> None:
    store = FakeJobStore()
    secret = first_run_invitation(store)
    assert secret is not None
    found = store.invitation_by_secret(secret)
    assert found is not None and found.state == "pending"
    assert (found.org_name, found.email, found.role) == ("local", FIRST_ADMIN_EMAIL, "admin")
    assert found.expires_at - found.created_at == 24 * 3600


def test_a_later_start_replaces_the_unused_link_and_a_member_ends_them() -> None:
    store = FakeJobStore()
    first = first_run_invitation(store)
    second = first_run_invitation(store)
    assert first and second and first != second
    old, new = store.invitation_by_secret(first), store.invitation_by_secret(second)
    assert old is not None and old.state == "revoked"
    assert new is not None and new.state == "pending"
    user = store.create_user("me@example.com", "$argon2id$stand-in")
    store.accept_invitation(second, user.id)
    assert first_run_invitation(store) is None
    assert len(store.list_invitations(store.ensure_org())) == 2, "nothing new made"


def test_an_invitation_by_an_admin_is_left_alone() -> None:
    store = FakeJobStore()
    org = store.ensure_org()
    theirs = store.create_invitation(org, FIRST_ADMIN_EMAIL, "viewer", "some-user", 3600)
    first_run_invitation(store)
    kept = store.invitation_by_secret(theirs.secret)
    assert kept is not None and kept.state == "pending"


def test_the_banner_shows_the_link_once() -> None:
    link = "http://127.0.0.1:8000/invite/s3cret"
    text = banner("http://127.0.0.1:8000", None, 2, link)
    assert text.count(link) == 1
    assert f"Open {link} to create the local admin account" in text
    assert "/invite/" not in banner("http://127.0.0.1:8000", None, 2)


def test_local_urls_open_in_a_browser_here() -> None:
    assert local_url("0.0.0.0", 8000) == "http://127.0.0.1:8000"
    assert local_url("::", "80") == "http://127.0.0.1:80"
    assert local_url("::1", 8000) == "http://[::1]:8000"
    assert local_url("qc.lan", 8080) == "http://qc.lan:8080"

"""Part of the USER contract (``TestUserContract`` inherits it): the people of the dashboard —
users, memberships, browser sessions (lifetime, idle timeout, revocation, what ends them),
invitations (one-time, expiry, revocation, scoped to their organisation) and the failed
sign-ins that rate limiting counts.

Time is never waited out: :func:`set_columns` moves one row's times, as a test's ``UPDATE``
would (the fake's :meth:`~tests.fakes.people.FakePeople.edit_people` there). Password hashes
here are stand-ins: hashing is :mod:`kickflow.security.passwords`' business, not the store's.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
import sqlalchemy as sa

from kickflow.errors import (
    InvitationInvalid,
    NotAuthenticated,
    NotFound,
    OrganisationNotFound,
    PermissionDenied,
    RequestInvalid,
    UserExists,
    UserNotFound,
)
from kickflow.jobs import Role, SqlJobStore, User
from kickflow.jobs.db import write_tx
from kickflow.jobs.people import KEEP_ENDED_S, SESSION_TOUCH_S
from kickflow.jobs.schema import metadata, sign_in_failures
from tests.contract.harness import ContractStore
from tests.fakes import FakeJobStore

HASH = "$argon2id$v=19$m=65536,t=3,p=4$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"
OTHER_HASH = HASH.replace("aGFz", "b3Ro")
DAY = 86400.0
IDLE = 1800.0


def set_columns(store: ContractStore, table: str, row_id: str, **values: Any) -> None:
    """Overwrite columns of one row of a people table (by id), behind the store's back."""
    jobs = store.jobs
    if isinstance(jobs, FakeJobStore):
        jobs.edit_people(table, row_id, **values)
        return
    assert isinstance(jobs, SqlJobStore), "the people group runs on the fake and SQL stores"
    t = metadata.tables[table]
    with write_tx(jobs.engine) as conn:
        conn.execute(sa.update(t).where(t.c.id == row_id).values(**values))


def age_failures(store: ContractStore, key: str, seconds: float) -> None:
    """Make every recorded failure of ``key`` ``seconds`` older."""
    jobs = store.jobs
    if isinstance(jobs, FakeJobStore):
        with jobs.db.lock:
            t = jobs.db.tables
            t.sign_in_failures = [
                dataclasses.replace(f, at=f.at - seconds) if f.key == key else f
                for f in t.sign_in_failures
            ]
        return
    assert isinstance(jobs, SqlJobStore)
    f = sign_in_failures
    with write_tx(jobs.engine) as conn:
        conn.execute(sa.update(f).where(f.c.key == key).values(at=f.c.at - seconds))


class PeopleContract:
    def _member(
        self, store: ContractStore, email: str = "ann@example.com", role: Role = "member"
    ) -> User:
        user = store.jobs.create_user(email, HASH)
        store.jobs.set_membership(user.id, store.org, role)
        return user

    # --- users ------------------------------------------------------------------------------

    def test_a_user_is_found_by_address_whatever_its_case(self, store: ContractStore) -> None:
        jobs = store.jobs
        before = jobs.now()
        user = jobs.create_user("  Ann.Lee@Example.COM ", HASH, name="  Ann Lee ")
        assert (user.email, user.name, user.disabled) == ("ann.lee@example.com", "Ann Lee", False)
        assert user.created_at == user.password_changed_at >= before
        assert jobs.get_user(user.id) == user
        assert jobs.user_for_sign_in("ANN.LEE@example.com") == (user, HASH)
        assert jobs.user_for_sign_in("nobody@example.com") is None
        assert jobs.user_for_sign_in("not an address") is None, "no error: just nobody"
        assert HASH not in repr(user)
        assert jobs.create_user("admin@localhost", HASH, name=" ").name is None
        with pytest.raises(UserNotFound):
            jobs.get_user("no-such-user")

    def test_addresses_are_unique_and_checked(self, store: ContractStore) -> None:
        jobs = store.jobs
        jobs.create_user("ann@example.com", HASH)
        with pytest.raises(UserExists, match=r"ann@example\.com"):
            jobs.create_user("ANN@example.com ", OTHER_HASH)
        for bad in ("", "   ", "ann", "ann@", "@example.com", "a b@example.com", "a@b@c",
                    "ann@exa\x00mple.com", "a" * 250 + "@b.co"):  # fmt: skip
            with pytest.raises(RequestInvalid, match="email address"):
                jobs.create_user(bad, HASH)
        with pytest.raises(RequestInvalid, match="name"):
            jobs.create_user("bob@example.com", HASH, name="bad\x1bname")
        with pytest.raises(ValueError, match="never a password"):
            jobs.create_user("bob@example.com", "correct horse battery staple")
        assert jobs.user_for_sign_in("bob@example.com") is None, "refused: nothing stored"

    def test_set_password_ends_the_other_sessions(self, store: ContractStore) -> None:
        jobs = store.jobs
        user = self._member(store)
        here, phone, laptop = (jobs.create_session(user.id, store.org, DAY) for _ in range(3))
        jobs.revoke_session(user.id, laptop.id)
        other = self._member(store, "bob@example.com")
        theirs = jobs.create_session(other.id, store.org, DAY)
        store.clock_moves_past(user.password_changed_at)
        assert jobs.set_password(user.id, OTHER_HASH, keep_session_id=here.id) == 1
        assert jobs.user_for_sign_in(user.email) == (jobs.get_user(user.id), OTHER_HASH)
        assert jobs.get_user(user.id).password_changed_at > user.password_changed_at
        assert jobs.session_by_secret(here.secret, IDLE) is not None
        assert jobs.session_by_secret(phone.secret, IDLE) is None
        assert jobs.session_by_secret(theirs.secret, IDLE) is not None, "only that user's"
        assert jobs.set_password(user.id, HASH) == 1, "without a session to keep: every one"
        assert jobs.session_by_secret(here.secret, IDLE) is None
        with pytest.raises(UserNotFound):
            jobs.set_password("no-such-user", HASH)

    # --- memberships ------------------------------------------------------------------------

    def test_memberships_are_added_changed_and_listed(self, store: ContractStore) -> None:
        jobs = store.jobs
        ann = jobs.create_user("ann@example.com", HASH)
        bob = jobs.create_user("bob@example.com", HASH)
        zulu = jobs.create_org("zulu studio")
        added = jobs.set_membership(ann.id, zulu, "viewer")
        assert (added.user_id, added.org_id, added.org_name, added.role) == (
            ann.id, zulu, "zulu studio", "viewer",
        )  # fmt: skip
        jobs.set_membership(ann.id, store.org, "member")
        changed = jobs.set_membership(ann.id, zulu, "admin")
        assert changed.role == "admin" and changed.created_at == added.created_at
        assert [(m.org_name, m.role) for m in jobs.memberships(ann.id)] == [
            ("local", "member"), ("zulu studio", "admin"),
        ]  # fmt: skip
        jobs.set_membership(bob.id, zulu, "member")
        members = jobs.org_members(zulu)
        assert [(u.email, m.role) for u, m in members] == [
            ("ann@example.com", "admin"), ("bob@example.com", "member"),
        ]  # fmt: skip
        assert members[0][0] == ann and members[0][1].created_at == added.created_at
        assert jobs.memberships(jobs.create_user("cy@example.com", HASH).id) == []

    def test_membership_refuses_the_worker_role_and_unknown_rows(
        self, store: ContractStore
    ) -> None:
        jobs = store.jobs
        ann = jobs.create_user("ann@example.com", HASH)
        with pytest.raises(RequestInvalid, match="viewer, member, admin, operator"):
            jobs.set_membership(ann.id, store.org, "worker")
        with pytest.raises(OrganisationNotFound):
            jobs.set_membership(ann.id, "no-such-org", "member")
        with pytest.raises(UserNotFound):
            jobs.set_membership("no-such-user", store.org, "member")
        assert jobs.memberships(ann.id) == []

    def test_removing_a_membership_ends_its_sessions(self, store: ContractStore) -> None:
        jobs = store.jobs
        ann = self._member(store)
        other = jobs.create_org("other")
        jobs.set_membership(ann.id, other, "viewer")
        here = jobs.create_session(ann.id, store.org, DAY)
        there = jobs.create_session(ann.id, other, DAY)
        jobs.remove_membership(store.org, ann.id)
        assert jobs.session_by_secret(here.secret, IDLE) is None
        assert jobs.session_by_secret(there.secret, IDLE) is not None, "other orgs untouched"
        jobs.set_membership(ann.id, store.org, "admin")
        assert jobs.session_by_secret(here.secret, IDLE) is None, "revoked, not just hidden"
        with pytest.raises(UserNotFound):
            jobs.remove_membership(jobs.create_org("third"), ann.id)
        with pytest.raises(PermissionDenied):
            jobs.create_session(ann.id, jobs.create_org("fourth"), DAY)

    # --- sessions ---------------------------------------------------------------------------

    def test_a_session_carries_its_membership_now(self, store: ContractStore) -> None:
        jobs = store.jobs
        ann = jobs.create_user("ann@example.com", HASH, name="Ann")
        jobs.set_membership(ann.id, store.org, "member")
        before = jobs.now()
        issued = jobs.create_session(ann.id, store.org, 3600, "Firefox\x00/128" + "x" * 400,
                                     "127.0.0.1")  # fmt: skip
        assert len(issued.secret) >= 43 and issued.secret != issued.id
        session = jobs.session_by_secret(issued.secret, IDLE)
        assert session is not None and session.id == issued.id
        assert (session.user_id, session.org_id, session.org_name, session.role) == (
            ann.id, store.org, "local", "member",
        )  # fmt: skip
        assert (session.email, session.user_name, session.address) == (
            "ann@example.com", "Ann", "127.0.0.1",
        )  # fmt: skip
        assert session.user_agent is not None and session.user_agent.startswith("Firefox/128")
        assert len(session.user_agent) == 300, "control characters dropped, cut to size"
        assert before <= session.created_at == session.last_seen_at
        assert session.expires_at == pytest.approx(session.created_at + 3600)
        assert issued.secret not in repr(session)
        jobs.set_membership(ann.id, store.org, "admin")
        again = jobs.session_by_secret(issued.secret, IDLE)
        assert again is not None and again.role == "admin", "a changed role applies at once"
        assert jobs.session_by_secret(issued.secret + "x", IDLE) is None
        assert jobs.session_by_secret("", IDLE) is None

    def test_only_members_get_sessions(self, store: ContractStore) -> None:
        jobs = store.jobs
        ann = jobs.create_user("ann@example.com", HASH)
        with pytest.raises(PermissionDenied):
            jobs.create_session(ann.id, store.org, DAY)
        with pytest.raises(PermissionDenied):
            jobs.create_session("no-such-user", store.org, DAY)
        jobs.set_membership(ann.id, store.org, "viewer")
        with pytest.raises(RequestInvalid, match="lifetime"):
            jobs.create_session(ann.id, store.org, 0)
        assert jobs.list_sessions(ann.id) == []

    def test_a_session_ends_at_its_lifetime_or_when_idle(self, store: ContractStore) -> None:
        jobs = store.jobs
        ann = self._member(store)
        expiring = jobs.create_session(ann.id, store.org, DAY)
        idle = jobs.create_session(ann.id, store.org, DAY)
        set_columns(store, "web_sessions", expiring.id, expires_at=jobs.now() - 1)
        assert jobs.session_by_secret(expiring.secret, IDLE) is None
        set_columns(store, "web_sessions", idle.id, last_seen_at=jobs.now() - IDLE - 1)
        assert jobs.session_by_secret(idle.secret, IDLE) is None
        assert jobs.list_sessions(ann.id, idle_seconds=IDLE) == []
        assert [s.id for s in jobs.list_sessions(ann.id)] == [idle.id]
        assert jobs.session_by_secret(idle.secret, IDLE * 2) is not None, "its own idle limit"
        assert [s.id for s in jobs.list_sessions(ann.id, IDLE)] == [idle.id], "seen just now"

    def test_last_seen_is_written_at_most_once_a_minute(self, store: ContractStore) -> None:
        jobs = store.jobs
        ann = self._member(store)
        issued = jobs.create_session(ann.id, store.org, DAY)
        first = jobs.session_by_secret(issued.secret, IDLE)
        assert first is not None
        store.clock_moves_past(first.last_seen_at)
        second = jobs.session_by_secret(issued.secret, IDLE)
        assert second is not None and second.last_seen_at == first.last_seen_at
        earlier = jobs.now() - SESSION_TOUCH_S - 5
        set_columns(store, "web_sessions", issued.id, last_seen_at=earlier)
        seen = jobs.session_by_secret(issued.secret, IDLE)
        assert seen is not None and seen.last_seen_at == earlier, "this request read the old"
        [listed] = jobs.list_sessions(ann.id)
        assert listed.last_seen_at > earlier + SESSION_TOUCH_S, "and refreshed it"

    def test_a_disabled_user_has_no_session(self, store: ContractStore) -> None:
        jobs = store.jobs
        ann = self._member(store)
        issued = jobs.create_session(ann.id, store.org, DAY)
        set_columns(store, "users", ann.id, disabled_at=jobs.now())
        assert jobs.session_by_secret(issued.secret, IDLE) is None
        found = jobs.user_for_sign_in(ann.email)
        assert found is not None and found[0].disabled, "returned, so the page can say why"
        with pytest.raises(PermissionDenied):
            jobs.create_session(ann.id, store.org, DAY)

    def test_sessions_are_listed_and_revoked_by_their_own_user(self, store: ContractStore) -> None:
        jobs = store.jobs
        ann, bob = self._member(store), self._member(store, "bob@example.com")
        old = jobs.create_session(ann.id, store.org, DAY, "old browser")
        store.clock_moves_past(jobs.now())
        new = jobs.create_session(ann.id, store.org, DAY, "new browser")
        theirs = jobs.create_session(bob.id, store.org, DAY)
        assert [s.id for s in jobs.list_sessions(ann.id)] == [new.id, old.id], "newest first"
        with pytest.raises(NotFound):
            jobs.revoke_session(bob.id, old.id)
        with pytest.raises(NotFound):
            jobs.revoke_session(ann.id, "no-such-session")
        jobs.revoke_session(ann.id, old.id)
        jobs.revoke_session(ann.id, old.id)  # again: still ended, no error
        assert [s.id for s in jobs.list_sessions(ann.id)] == [new.id]
        assert jobs.session_by_secret(old.secret, IDLE) is None
        assert jobs.session_by_secret(theirs.secret, IDLE) is not None

    def test_a_session_switches_to_another_of_its_users_organisations(
        self, store: ContractStore
    ) -> None:
        jobs = store.jobs
        ann = self._member(store, role="viewer")
        studio = jobs.create_org("studio")
        jobs.set_membership(ann.id, studio, "admin")
        issued = jobs.create_session(ann.id, store.org, DAY)
        moved = jobs.switch_session_org(issued.id, studio)
        assert (moved.id, moved.org_id, moved.org_name, moved.role) == (
            issued.id, studio, "studio", "admin",
        )  # fmt: skip
        assert jobs.session_by_secret(issued.secret, IDLE) == moved
        stranger = jobs.create_org("stranger")
        with pytest.raises(OrganisationNotFound):
            jobs.switch_session_org(issued.id, stranger)
        with pytest.raises(OrganisationNotFound):
            jobs.switch_session_org(issued.id, "no-such-org")
        jobs.revoke_session(ann.id, issued.id)
        with pytest.raises(NotAuthenticated):
            jobs.switch_session_org(issued.id, store.org)
        with pytest.raises(NotAuthenticated):
            jobs.switch_session_org("no-such-session", store.org)

    # --- invitations ------------------------------------------------------------------------

    def test_an_invitation_is_used_once(self, store: ContractStore) -> None:
        jobs = store.jobs
        admin = self._member(store, "boss@example.com", "admin")
        issued = jobs.create_invitation(store.org, " New@Example.com", "member", admin.id, DAY)
        invitation = issued.invitation
        assert (invitation.org_id, invitation.org_name, invitation.email, invitation.role) == (
            store.org, "local", "new@example.com", "member",
        )  # fmt: skip
        assert (invitation.invited_by, invitation.state) == (admin.id, "pending")
        assert invitation.expires_at == pytest.approx(invitation.created_at + DAY)
        assert len(issued.secret) >= 43 and issued.secret not in repr(invitation)
        assert jobs.invitation_by_secret(issued.secret) is not None
        assert jobs.invitation_by_secret("nothing") is None
        newcomer = jobs.create_user("whoever@example.com", HASH)  # the page lets them choose
        joined = jobs.accept_invitation(issued.secret, newcomer.id)
        assert (joined.user_id, joined.org_id, joined.role) == (newcomer.id, store.org, "member")
        used = jobs.invitation_by_secret(issued.secret)
        assert used is not None and used.state == "accepted" and used.accepted_at is not None
        other = jobs.create_user("other@example.com", HASH)
        with pytest.raises(InvitationInvalid, match="ask your admin for a new one"):
            jobs.accept_invitation(issued.secret, other.id)
        assert jobs.memberships(other.id) == []
        with pytest.raises(InvitationInvalid):
            jobs.accept_invitation("no-such-secret", other.id)

    def test_expired_and_revoked_invitations_cannot_be_used(self, store: ContractStore) -> None:
        jobs = store.jobs
        ann = jobs.create_user("ann@example.com", HASH)
        expired = jobs.create_invitation(store.org, "a@example.com", "viewer", None, DAY)
        set_columns(store, "invitations", expired.invitation.id, expires_at=jobs.now() - 1)
        revoked = jobs.create_invitation(store.org, "b@example.com", "viewer", None, DAY)
        jobs.revoke_invitation(store.org, revoked.invitation.id)
        for issued, state in ((expired, "expired"), (revoked, "revoked")):
            found = jobs.invitation_by_secret(issued.secret)
            assert found is not None and found.state == state
            with pytest.raises(InvitationInvalid):
                jobs.accept_invitation(issued.secret, ann.id)
        assert jobs.memberships(ann.id) == []
        jobs.revoke_invitation(store.org, expired.invitation.id)  # an expired one may go too
        states = {i.id: i.state for i in jobs.list_invitations(store.org)}
        assert states == {expired.invitation.id: "revoked", revoked.invitation.id: "revoked"}

    def test_invitations_belong_to_their_organisation(self, store: ContractStore) -> None:
        jobs = store.jobs
        other = jobs.create_org("other")
        mine = jobs.create_invitation(store.org, "a@example.com", "admin", None, DAY)
        store.clock_moves_past(jobs.now())
        newer = jobs.create_invitation(store.org, "b@example.com", "viewer", None, DAY)
        theirs = jobs.create_invitation(other, "c@example.com", "member", None, DAY)
        listed = jobs.list_invitations(store.org)
        assert [i.id for i in listed] == [newer.invitation.id, mine.invitation.id]
        assert [i.id for i in jobs.list_invitations(other)] == [theirs.invitation.id]
        with pytest.raises(NotFound):
            jobs.revoke_invitation(store.org, theirs.invitation.id)
        with pytest.raises(NotFound):
            jobs.revoke_invitation(store.org, "no-such-invitation")
        found = jobs.invitation_by_secret(theirs.secret)
        assert found is not None and found.state == "pending", "left alone"

    def test_an_invitation_refuses_bad_input_and_accepted_ones_stay(
        self, store: ContractStore
    ) -> None:
        jobs = store.jobs
        with pytest.raises(RequestInvalid, match="email address"):
            jobs.create_invitation(store.org, "nobody", "member", None, DAY)
        with pytest.raises(RequestInvalid, match="role"):
            jobs.create_invitation(store.org, "a@example.com", "worker", None, DAY)
        with pytest.raises(RequestInvalid, match="lifetime"):
            jobs.create_invitation(store.org, "a@example.com", "member", None, -1)
        with pytest.raises(OrganisationNotFound):
            jobs.create_invitation("no-such-org", "a@example.com", "member", None, DAY)
        assert jobs.list_invitations(store.org) == []
        issued = jobs.create_invitation(store.org, "a@example.com", "member", None, DAY)
        jobs.accept_invitation(issued.secret, jobs.create_user("a@example.com", HASH).id)
        with pytest.raises(RequestInvalid, match="already accepted"):
            jobs.revoke_invitation(store.org, issued.invitation.id)
        fresh = jobs.create_invitation(store.org, "b@example.com", "member", None, DAY)
        with pytest.raises(UserNotFound):
            jobs.accept_invitation(fresh.secret, "no-such-user")
        found = jobs.invitation_by_secret(fresh.secret)
        assert found is not None and found.state == "pending", "a refused accept uses nothing"

    def test_accepting_never_demotes(self, store: ContractStore) -> None:
        jobs = store.jobs
        boss = self._member(store, "boss@example.com", "admin")
        issued = jobs.create_invitation(store.org, boss.email, "viewer", None, DAY)
        assert jobs.accept_invitation(issued.secret, boss.id).role == "admin"
        upgrade = jobs.create_invitation(store.org, boss.email, "operator", None, DAY)
        assert jobs.accept_invitation(upgrade.secret, boss.id).role == "operator"

    # --- failed sign-ins --------------------------------------------------------------------

    def test_failures_are_counted_per_key_within_the_window(self, store: ContractStore) -> None:
        jobs = store.jobs
        address, account = "address:192.0.2.7", "account:ann@example.com"
        jobs.note_sign_in_failure([address, account])
        jobs.note_sign_in_failure([address, address])  # one failure, however often named
        assert jobs.sign_in_failures(address, 900) == 2
        assert jobs.sign_in_failures(account, 900) == 1
        assert jobs.sign_in_failures("address:198.51.100.1", 900) == 0
        age_failures(store, address, 600)
        assert jobs.sign_in_failures(address, 900) == 2
        assert jobs.sign_in_failures(address, 300) == 0, "outside the window"
        jobs.clear_sign_in_failures(account)
        assert jobs.sign_in_failures(account, 900) == 0
        assert jobs.sign_in_failures(address, 900) == 2, "only that key"
        jobs.note_sign_in_failure([])
        long_key = "account:" + "x" * 400
        jobs.note_sign_in_failure([long_key])
        assert jobs.sign_in_failures(long_key, 900) == 1

    def test_failures_older_than_a_day_are_pruned_by_new_ones(self, store: ContractStore) -> None:
        jobs = store.jobs
        old, new = "address:192.0.2.1", "address:192.0.2.2"
        jobs.note_sign_in_failure([old])
        age_failures(store, old, KEEP_ENDED_S + 10)
        assert jobs.sign_in_failures(old, 2 * DAY) == 1, "still there until the next write"
        jobs.note_sign_in_failure([new])
        assert jobs.sign_in_failures(old, 2 * DAY) == 0
        assert jobs.sign_in_failures(new, 2 * DAY) == 1

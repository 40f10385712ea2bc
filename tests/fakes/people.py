"""Users, memberships, sessions, invitations and failed sign-ins of the fake store, with the
rules of :mod:`kickflow.jobs.people` (the very functions the SQL store applies: address
normalisation, user roles, names, lifetimes, header clipping, secret hashing, session liveness,
the last-seen resolution, invitation states, pruning ages); only the row handling is here.

Test hook beyond the port: :meth:`FakePeople.edit_people` (a test's ``UPDATE`` of one row)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Sequence
from typing import Any

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
from kickflow.jobs import (
    Invitation,
    IssuedInvitation,
    IssuedSession,
    Membership,
    Role,
    User,
    WebSession,
)
from kickflow.jobs.accounts import hash_token
from kickflow.jobs.people import (
    ADDRESS_MAX,
    KEEP_ENDED_S,
    USER_AGENT_MAX,
    check_lifetime,
    check_password_hash,
    clipped,
    failure_key,
    needs_touch,
    new_secret,
    normalise_email,
    parse_user_role,
    session_live,
    stronger_role,
    user_name,
)
from tests.fakes.base import FakeStoreBase
from tests.fakes.people_rows import FailureRow, InvitationRow, MembershipRow, SessionRow, UserRow


class FakePeople(FakeStoreBase):
    """The people half of the port in memory (part of :class:`~tests.fakes.FakeJobStore`)."""

    def edit_people(self, table: str, key: Any, **values: Any) -> None:
        """Test hook: overwrite columns of one row of ``users``, ``memberships`` (key: (user,
        org)), ``web_sessions`` or ``invitations``, nothing else (like a test's UPDATE)."""
        with self._tx("edit_people", table, key):
            rows = getattr(self._t, table)
            rows[key] = dataclasses.replace(rows[key], **values)

    # --- users ------------------------------------------------------------------------------

    def _user_row(self, user_id: str) -> UserRow:
        row = self._t.users.get(user_id)
        if row is None:
            raise UserNotFound(f"no user {user_id}")
        return row

    def _by_email(self, email: str) -> UserRow | None:
        return next((u for u in self._t.users.values() if u.email == email), None)

    def create_user(self, email: str, password_hash: str, name: str | None = None) -> User:
        with self._tx("create_user", email, name) as now:
            address, label = normalise_email(email), user_name(name)
            check_password_hash(password_hash)
            if self._by_email(address) is not None:
                raise UserExists(f"a user with the email address {address} already exists")
            row = UserRow(str(uuid.uuid4()), address, label, password_hash, now, now)
            self._t.users[row.id] = row
            return _user(row)

    def user_for_sign_in(self, email: str) -> tuple[User, str] | None:
        with self._tx("user_for_sign_in", email):
            try:
                row = self._by_email(normalise_email(email))
            except RequestInvalid:
                return None
            return None if row is None else (_user(row), row.password_hash)

    def get_user(self, user_id: str) -> User:
        with self._tx("get_user", user_id):
            return _user(self._user_row(user_id))

    def set_password(
        self, user_id: str, password_hash: str, keep_session_id: str | None = None
    ) -> int:
        with self._tx("set_password", user_id, keep_session_id) as now:
            check_password_hash(password_hash)
            row = self._user_row(user_id)
            self._t.users[user_id] = dataclasses.replace(
                row, password_hash=password_hash, password_changed_at=now
            )
            ending = [
                s
                for s in self._t.web_sessions.values()
                if s.user_id == user_id
                and s.revoked_at is None
                and s.expires_at > now
                and s.id != keep_session_id
            ]
            for s in ending:
                self._t.web_sessions[s.id] = dataclasses.replace(s, revoked_at=now)
            return len(ending)

    # --- memberships ------------------------------------------------------------------------

    def _org_name(self, org_id: str) -> str:
        org = self._t.orgs.get(org_id)
        if org is None:
            raise OrganisationNotFound(f"no organisation {org_id}")
        return org.name

    def _membership(self, row: MembershipRow) -> Membership:
        return Membership(
            row.user_id, row.org_id, self._org_name(row.org_id), row.role, row.created_at
        )

    def _set_membership(self, user_id: str, org_id: str, role: str, now: float) -> Membership:
        checked = parse_user_role(role)
        self._user_row(user_id)
        self._org_name(org_id)
        old = self._t.memberships.get((user_id, org_id))
        created = now if old is None else old.created_at
        row = MembershipRow(user_id, org_id, checked, created)
        self._t.memberships[(user_id, org_id)] = row
        return self._membership(row)

    def set_membership(self, user_id: str, org_id: str, role: Role) -> Membership:
        with self._tx("set_membership", user_id, org_id, role) as now:
            return self._set_membership(user_id, org_id, role, now)

    def remove_membership(self, org_id: str, user_id: str) -> None:
        with self._tx("remove_membership", org_id, user_id) as now:
            if self._t.memberships.pop((user_id, org_id), None) is None:
                raise UserNotFound(f"no member {user_id} in this organisation")
            for s in list(self._t.web_sessions.values()):
                if (s.user_id, s.org_id) == (user_id, org_id) and s.revoked_at is None:
                    self._t.web_sessions[s.id] = dataclasses.replace(s, revoked_at=now)

    def memberships(self, user_id: str) -> list[Membership]:
        with self._tx("memberships", user_id):
            mine = [
                self._membership(m) for m in self._t.memberships.values() if m.user_id == user_id
            ]
            return sorted(mine, key=lambda m: m.org_name)

    def org_members(self, org_id: str) -> list[tuple[User, Membership]]:
        with self._tx("org_members", org_id):
            members = [
                (_user(self._t.users[m.user_id]), self._membership(m))
                for m in self._t.memberships.values()
                if m.org_id == org_id
            ]
            return sorted(members, key=lambda pair: pair[0].email)

    # --- sessions ---------------------------------------------------------------------------

    def _enabled_member(self, user_id: str, org_id: str) -> MembershipRow | None:
        user = self._t.users.get(user_id)
        if user is None or user.disabled_at is not None:
            return None
        return self._t.memberships.get((user_id, org_id))

    def _session(self, row: SessionRow) -> WebSession | None:
        """The session as the SQL join sees it: None without its membership or enabled user."""
        member = self._enabled_member(row.user_id, row.org_id)
        if member is None:
            return None
        user = self._t.users[row.user_id]
        return WebSession(
            row.id, row.user_id, row.org_id, self._org_name(row.org_id), member.role,
            user.email, user.name, row.created_at, row.last_seen_at, row.expires_at,
            row.user_agent, row.address,
        )  # fmt: skip

    def _live(
        self, rows: list[SessionRow], now: float, idle_seconds: float | None
    ) -> list[tuple[SessionRow, WebSession]]:
        found = []
        for row in sorted(rows, key=lambda r: (-r.created_at, r.id)):  # the SQL ORDER BY
            session = self._session(row)
            live = session_live(row.revoked_at, row.expires_at, row.last_seen_at, now, idle_seconds)
            if session is not None and live:
                found.append((row, session))
        return found

    def create_session(
        self,
        user_id: str,
        org_id: str,
        lifetime_seconds: float,
        user_agent: str | None = None,
        address: str | None = None,
    ) -> IssuedSession:
        with self._tx("create_session", user_id, org_id, lifetime_seconds) as now:
            lifetime = check_lifetime(lifetime_seconds)
            if self._enabled_member(user_id, org_id) is None:
                raise PermissionDenied("you are not a member of that organisation")
            cutoff = now - KEEP_ENDED_S
            for s in list(self._t.web_sessions.values()):
                ended = s.expires_at < cutoff or (
                    s.revoked_at is not None and s.revoked_at < cutoff
                )
                if s.user_id == user_id and ended:
                    del self._t.web_sessions[s.id]
            issued = IssuedSession(str(uuid.uuid4()), new_secret())
            self._t.web_sessions[issued.id] = SessionRow(
                issued.id, user_id, org_id, hash_token(issued.secret), now, now, now + lifetime,
                clipped(user_agent, USER_AGENT_MAX), clipped(address, ADDRESS_MAX),
            )  # fmt: skip
            return issued

    def session_by_secret(self, secret: str, idle_seconds: float) -> WebSession | None:
        with self._tx("session_by_secret", idle_seconds) as now:
            digest = hash_token(secret)
            rows = [s for s in self._t.web_sessions.values() if s.secret_sha256 == digest]
            live = self._live(rows, now, idle_seconds)
            if not live:
                return None
            row, session = live[0]
            if needs_touch(row.last_seen_at, now):
                self._t.web_sessions[row.id] = dataclasses.replace(row, last_seen_at=now)
            return session

    def _live_session(self, session_id: str, now: float) -> WebSession:
        row = self._t.web_sessions.get(session_id)
        live = self._live([row] if row else [], now, None)
        if not live:
            raise NotAuthenticated("your session has ended: sign in again")
        return live[0][1]

    def switch_session_org(self, session_id: str, org_id: str) -> WebSession:
        with self._tx("switch_session_org", session_id, org_id) as now:
            session = self._live_session(session_id, now)
            if (session.user_id, org_id) not in self._t.memberships:
                raise OrganisationNotFound(f"no organisation {org_id} among yours")
            row = self._t.web_sessions[session_id]
            self._t.web_sessions[session_id] = dataclasses.replace(row, org_id=org_id)
            return self._live_session(session_id, now)

    def list_sessions(self, user_id: str, idle_seconds: float | None = None) -> list[WebSession]:
        with self._tx("list_sessions", user_id, idle_seconds) as now:
            mine = [s for s in self._t.web_sessions.values() if s.user_id == user_id]
            return [session for _, session in self._live(mine, now, idle_seconds)]

    def revoke_session(self, user_id: str, session_id: str) -> None:
        with self._tx("revoke_session", user_id, session_id) as now:
            row = self._t.web_sessions.get(session_id)
            if row is None or row.user_id != user_id:
                raise NotFound(f"no session {session_id}")
            if row.revoked_at is None:
                self._t.web_sessions[session_id] = dataclasses.replace(row, revoked_at=now)

    # --- invitations ------------------------------------------------------------------------

    def _invitation(self, row: InvitationRow, now: float) -> Invitation:
        return Invitation(
            row.id, row.org_id, self._org_name(row.org_id), row.email, row.role, row.invited_by,
            row.created_at, row.expires_at, row.accepted_at, row.revoked_at, now,
        )  # fmt: skip

    def _by_secret(self, secret: str) -> InvitationRow | None:
        digest = hash_token(secret)
        return next((i for i in self._t.invitations.values() if i.secret_sha256 == digest), None)

    def create_invitation(
        self,
        org_id: str,
        email: str,
        role: Role,
        invited_by: str | None,
        lifetime_seconds: float,
    ) -> IssuedInvitation:
        with self._tx("create_invitation", org_id, email, role, invited_by) as now:
            address, checked = normalise_email(email), parse_user_role(role)
            lifetime = check_lifetime(lifetime_seconds)
            self._org_name(org_id)
            secret = new_secret()
            row = InvitationRow(
                str(uuid.uuid4()), org_id, address, checked, hash_token(secret), invited_by, now,
                now + lifetime,
            )  # fmt: skip
            self._t.invitations[row.id] = row
            return IssuedInvitation(self._invitation(row, now), secret)

    def invitation_by_secret(self, secret: str) -> Invitation | None:
        with self._tx("invitation_by_secret") as now:
            row = self._by_secret(secret)
            return None if row is None else self._invitation(row, now)

    def accept_invitation(self, secret: str, user_id: str) -> Membership:
        with self._tx("accept_invitation", user_id) as now:
            row = self._by_secret(secret)
            if row is None or self._invitation(row, now).state != "pending":
                raise InvitationInvalid()
            self._user_row(user_id)
            self._t.invitations[row.id] = dataclasses.replace(
                row, accepted_at=now, accepted_by=user_id
            )
            current = self._t.memberships.get((user_id, row.org_id))
            role = row.role if current is None else stronger_role(current.role, row.role)
            return self._set_membership(user_id, row.org_id, role, now)

    def list_invitations(self, org_id: str) -> list[Invitation]:
        with self._tx("list_invitations", org_id) as now:
            mine = [i for i in self._t.invitations.values() if i.org_id == org_id]
            mine.sort(key=lambda i: (-i.created_at, i.id))
            return [self._invitation(i, now) for i in mine]

    def revoke_invitation(self, org_id: str, invitation_id: str) -> None:
        with self._tx("revoke_invitation", org_id, invitation_id) as now:
            row = self._t.invitations.get(invitation_id)
            if row is None or row.org_id != org_id:
                raise NotFound(f"no invitation {invitation_id}")
            if row.accepted_at is not None:
                raise RequestInvalid(
                    "that invitation was already accepted: remove the member instead"
                )
            if row.revoked_at is None:
                self._t.invitations[row.id] = dataclasses.replace(row, revoked_at=now)

    # --- failed sign-ins --------------------------------------------------------------------

    def note_sign_in_failure(self, keys: Sequence[str]) -> None:
        with self._tx("note_sign_in_failure", tuple(keys)) as now:
            kept = [f for f in self._t.sign_in_failures if f.at >= now - KEEP_ENDED_S]
            kept.extend(FailureRow(failure_key(k), now) for k in dict.fromkeys(keys))
            self._t.sign_in_failures = kept

    def sign_in_failures(self, key: str, window_seconds: float) -> int:
        with self._tx("sign_in_failures", key, window_seconds) as now:
            stored = failure_key(key)
            failures = self._t.sign_in_failures
            return sum(1 for f in failures if f.key == stored and f.at > now - window_seconds)

    def clear_sign_in_failures(self, key: str) -> None:
        with self._tx("clear_sign_in_failures", key):
            stored = failure_key(key)
            self._t.sign_in_failures = [f for f in self._t.sign_in_failures if f.key != stored]


def _user(row: UserRow) -> User:
    return User(
        row.id, row.email, row.name, row.created_at, row.password_changed_at,
        row.disabled_at is not None,
    )  # fmt: skip

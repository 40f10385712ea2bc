"""The people tables in SQL (see :mod:`kickflow.jobs.people` for what they hold and the rules),
and :class:`SqlPeople`, the methods :class:`~kickflow.jobs.store.SqlJobStore` gets from them.

``session_by_secret`` runs on every dashboard request: one indexed read (the session, its
membership, user and organisation in one join) and, at most once a minute per session, a
conditional write of ``last_seen_at``.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from kickflow.errors import (
    DatabaseBusy,
    DatabaseError,
    InvitationInvalid,
    NotAuthenticated,
    NotFound,
    OrganisationNotFound,
    PermissionDenied,
    RequestInvalid,
    UserExists,
    UserNotFound,
)
from kickflow.jobs.accounts import Role, hash_token
from kickflow.jobs.people import (
    ADDRESS_MAX,
    KEEP_ENDED_S,
    SESSION_TOUCH_S,
    USER_AGENT_MAX,
    Invitation,
    IssuedInvitation,
    IssuedSession,
    Membership,
    User,
    WebSession,
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
from kickflow.jobs.queries import database_now
from kickflow.jobs.schema import (
    invitations,
    memberships,
    organisations,
    sign_in_failures,
    users,
    web_sessions,
)
from kickflow.jobs.sqlfuncs import db_now

T = TypeVar("T")


# --- SQL: users ---------------------------------------------------------------------------------

_USER_COLUMNS = (
    users.c.id,
    users.c.email,
    users.c.name,
    users.c.created_at,
    users.c.password_changed_at,
    users.c.disabled_at,
)


def _user(row: Any) -> User:
    return User(
        str(row.id),
        str(row.email),
        row.name,
        float(row.created_at),
        float(row.password_changed_at),
        row.disabled_at is not None,
    )


def create_user(conn: Connection, email: str, password_hash: str, name: str | None = None) -> User:
    """A new user (UserExists when the address is taken, whatever its case)."""
    email = normalise_email(email)
    label = user_name(name)
    check_password_hash(password_hash)
    if conn.execute(sa.select(users.c.id).where(users.c.email == email)).first() is not None:
        raise UserExists(f"a user with the email address {email} already exists")
    now = database_now(conn)
    user = User(str(uuid.uuid4()), email, label, now, now, False)
    conn.execute(
        sa.insert(users).values(
            id=user.id,
            email=email,
            name=label,
            password_hash=password_hash,
            created_at=now,
            password_changed_at=now,
        )
    )
    return user


def user_for_sign_in(conn: Connection, email: str) -> tuple[User, str] | None:
    """The user with that address and their password hash; None when there is none (a
    malformed address included). A disabled user is returned: the caller says so."""
    try:
        email = normalise_email(email)
    except RequestInvalid:
        return None
    stmt = sa.select(*_USER_COLUMNS, users.c.password_hash).where(users.c.email == email)
    row = conn.execute(stmt).first()
    return None if row is None else (_user(row), str(row.password_hash))


def get_user(conn: Connection, user_id: str) -> User:
    row = conn.execute(sa.select(*_USER_COLUMNS).where(users.c.id == user_id)).first()
    if row is None:
        raise UserNotFound(f"no user {user_id}")
    return _user(row)


def set_password(
    conn: Connection, user_id: str, password_hash: str, keep_session_id: str | None = None
) -> int:
    """Store a new password hash and end the user's other live sessions; how many ended."""
    check_password_hash(password_hash)
    now = database_now(conn)
    changed = conn.execute(
        sa.update(users)
        .where(users.c.id == user_id)
        .values(password_hash=password_hash, password_changed_at=now)
    )
    if not changed.rowcount:
        raise UserNotFound(f"no user {user_id}")
    others = [web_sessions.c.id != keep_session_id] if keep_session_id else []
    ended = conn.execute(
        sa.update(web_sessions)
        .where(web_sessions.c.user_id == user_id, _unended(now), *others)
        .values(revoked_at=now)
    )
    return int(ended.rowcount)


def _unended(now: float) -> sa.ColumnElement[bool]:
    return sa.and_(web_sessions.c.revoked_at.is_(None), web_sessions.c.expires_at > now)


# --- SQL: memberships ---------------------------------------------------------------------------


def _org_name(conn: Connection, org_id: str) -> str:
    name = conn.execute(sa.select(organisations.c.name).where(organisations.c.id == org_id))
    found = name.scalar()
    if found is None:
        raise OrganisationNotFound(f"no organisation {org_id}")
    return str(found)


def _membership(row: Any) -> Membership:
    return Membership(
        str(row.user_id),
        str(row.org_id),
        str(row.org_name),
        parse_user_role(row.role),
        float(row.joined_at),
    )


_MEMBERSHIP_COLUMNS = (
    memberships.c.user_id,
    memberships.c.org_id,
    organisations.c.name.label("org_name"),
    memberships.c.role,
    memberships.c.created_at.label("joined_at"),  # beside a user's own created_at
)
_MEMBERSHIP_FROM = memberships.join(organisations, organisations.c.id == memberships.c.org_id)


def _role_in(conn: Connection, user_id: str, org_id: str) -> Role | None:
    stmt = sa.select(memberships.c.role).where(
        memberships.c.user_id == user_id, memberships.c.org_id == org_id
    )
    found = conn.execute(stmt).scalar()
    return None if found is None else parse_user_role(found)


def set_membership(conn: Connection, user_id: str, org_id: str, role: str) -> Membership:
    """Make the user a member of the organisation with ``role`` (or change their role)."""
    checked = parse_user_role(role)
    get_user(conn, user_id)
    org_name = _org_name(conn, org_id)
    key = (memberships.c.user_id == user_id, memberships.c.org_id == org_id)
    created = conn.execute(sa.select(memberships.c.created_at).where(*key)).scalar()
    if created is None:
        created = database_now(conn)
        conn.execute(
            sa.insert(memberships).values(
                user_id=user_id, org_id=org_id, role=checked, created_at=created
            )
        )
    else:
        conn.execute(sa.update(memberships).where(*key).values(role=checked))
    return Membership(user_id, org_id, org_name, checked, float(created))


def remove_membership(conn: Connection, org_id: str, user_id: str) -> None:
    """Take the user out of the organisation and end their sessions in it; UserNotFound when
    they are not a member (another organisation's user included)."""
    removed = conn.execute(
        sa.delete(memberships).where(
            memberships.c.user_id == user_id, memberships.c.org_id == org_id
        )
    )
    if not removed.rowcount:
        raise UserNotFound(f"no member {user_id} in this organisation")
    now = database_now(conn)
    conn.execute(
        sa.update(web_sessions)
        .where(
            web_sessions.c.user_id == user_id,
            web_sessions.c.org_id == org_id,
            web_sessions.c.revoked_at.is_(None),
        )
        .values(revoked_at=now)
    )


def user_memberships(conn: Connection, user_id: str) -> list[Membership]:
    """The user's organisations, by name."""
    stmt = (
        sa.select(*_MEMBERSHIP_COLUMNS)
        .select_from(_MEMBERSHIP_FROM)
        .where(memberships.c.user_id == user_id)
        .order_by(organisations.c.name)
    )
    return [_membership(r) for r in conn.execute(stmt)]


def org_members(conn: Connection, org_id: str) -> list[tuple[User, Membership]]:
    """The organisation's members, by email address."""
    stmt = (
        sa.select(*_USER_COLUMNS, *_MEMBERSHIP_COLUMNS)
        .select_from(_MEMBERSHIP_FROM.join(users, users.c.id == memberships.c.user_id))
        .where(memberships.c.org_id == org_id)
        .order_by(users.c.email)
    )
    return [(_user(r), _membership(r)) for r in conn.execute(stmt)]


# --- SQL: sessions ------------------------------------------------------------------------------

_S = web_sessions
# A session row with what it needs on every request: the membership (its role now; no row
# when it is gone), the user (disabled users have no sessions) and the organisation's name.
_SESSION_FROM = (
    _S.join(memberships, sa.and_(memberships.c.user_id == _S.c.user_id,
                                 memberships.c.org_id == _S.c.org_id))
    .join(users, users.c.id == _S.c.user_id)
    .join(organisations, organisations.c.id == _S.c.org_id)
)  # fmt: skip
_SESSION_COLUMNS = (
    _S.c.id,
    _S.c.user_id,
    _S.c.org_id,
    organisations.c.name.label("org_name"),
    memberships.c.role,
    users.c.email,
    users.c.name.label("user_name"),
    _S.c.created_at,
    _S.c.last_seen_at,
    _S.c.expires_at,
    _S.c.user_agent,
    _S.c.address,
    _S.c.revoked_at,
    db_now().label("now"),
)


@dataclass(frozen=True)
class _SessionRow:
    session: WebSession
    revoked_at: float | None
    now: float

    def live(self, idle_seconds: float | None) -> bool:
        s = self.session
        return session_live(self.revoked_at, s.expires_at, s.last_seen_at, self.now, idle_seconds)


def _session_rows(conn: Connection, *where: sa.ColumnElement[bool]) -> list[_SessionRow]:
    stmt = (
        sa.select(*_SESSION_COLUMNS)
        .select_from(_SESSION_FROM)
        .where(users.c.disabled_at.is_(None), *where)
        .order_by(_S.c.created_at.desc(), _S.c.id)
    )
    return [_session_row(r) for r in conn.execute(stmt)]


def _session_row(row: Any) -> _SessionRow:
    session = WebSession(
        str(row.id), str(row.user_id), str(row.org_id), str(row.org_name),
        parse_user_role(row.role), str(row.email), row.user_name, float(row.created_at),
        float(row.last_seen_at), float(row.expires_at), row.user_agent, row.address,
    )  # fmt: skip
    revoked = None if row.revoked_at is None else float(row.revoked_at)
    return _SessionRow(session, revoked, float(row.now))


def create_session(
    conn: Connection,
    user_id: str,
    org_id: str,
    lifetime_seconds: float,
    user_agent: str | None = None,
    address: str | None = None,
) -> IssuedSession:
    """A new session of a member (PermissionDenied otherwise, a disabled user included);
    the user's sessions that ended over a day ago are pruned on the way."""
    lifetime = check_lifetime(lifetime_seconds)
    member = sa.select(memberships.c.role).select_from(
        memberships.join(users, users.c.id == memberships.c.user_id)
    )
    found = member.where(
        memberships.c.user_id == user_id,
        memberships.c.org_id == org_id,
        users.c.disabled_at.is_(None),
    )
    if conn.execute(found).first() is None:
        raise PermissionDenied("you are not a member of that organisation")
    now = database_now(conn)
    _prune_sessions(conn, user_id, now)
    issued = IssuedSession(str(uuid.uuid4()), new_secret())
    conn.execute(
        sa.insert(_S).values(
            id=issued.id, user_id=user_id, org_id=org_id,
            secret_sha256=hash_token(issued.secret), created_at=now, last_seen_at=now,
            expires_at=now + lifetime, user_agent=clipped(user_agent, USER_AGENT_MAX),
            address=clipped(address, ADDRESS_MAX),
        )
    )  # fmt: skip
    return issued


def _prune_sessions(conn: Connection, user_id: str, now: float) -> None:
    cutoff = now - KEEP_ENDED_S
    ended = sa.or_(_S.c.expires_at < cutoff, _S.c.revoked_at < cutoff)
    conn.execute(sa.delete(_S).where(_S.c.user_id == user_id, ended))


def session_for_request(
    conn: Connection, secret: str, idle_seconds: float
) -> tuple[WebSession, bool] | None:
    """The live session behind a cookie and whether its ``last_seen_at`` is due a write; one
    indexed read (the secret's hash is unique)."""
    rows = _session_rows(conn, _S.c.secret_sha256 == hash_token(secret))
    if not rows or not rows[0].live(idle_seconds):
        return None
    return rows[0].session, needs_touch(rows[0].session.last_seen_at, rows[0].now)


def touch_session(conn: Connection, session_id: str) -> None:
    """Write ``last_seen_at`` unless written within SESSION_TOUCH_S (conditional, so two
    requests at once write once)."""
    stale = _S.c.last_seen_at <= db_now() - SESSION_TOUCH_S
    conn.execute(sa.update(_S).where(_S.c.id == session_id, stale).values(last_seen_at=db_now()))


def live_session(conn: Connection, session_id: str) -> WebSession:
    """The session by id if it is live (not revoked, not expired); NotAuthenticated else."""
    rows = _session_rows(conn, _S.c.id == session_id)
    if not rows or not rows[0].live(None):
        raise NotAuthenticated("your session has ended: sign in again")
    return rows[0].session


def switch_session_org(conn: Connection, session_id: str, org_id: str) -> WebSession:
    """Move a live session to another of its user's organisations (OrganisationNotFound
    for one they are not a member of: no hint that it exists)."""
    session = live_session(conn, session_id)
    if _role_in(conn, session.user_id, org_id) is None:
        raise OrganisationNotFound(f"no organisation {org_id} among yours")
    conn.execute(sa.update(_S).where(_S.c.id == session_id).values(org_id=org_id))
    return live_session(conn, session_id)


def list_sessions(
    conn: Connection, user_id: str, idle_seconds: float | None = None
) -> list[WebSession]:
    """The user's live sessions, newest first."""
    return [r.session for r in _session_rows(conn, _S.c.user_id == user_id) if r.live(idle_seconds)]


def revoke_session(conn: Connection, user_id: str, session_id: str) -> None:
    """End one of the user's own sessions (NotFound for anyone else's)."""
    own = (_S.c.id == session_id, _S.c.user_id == user_id)
    if conn.execute(sa.select(_S.c.id).where(*own)).first() is None:
        raise NotFound(f"no session {session_id}")
    now = database_now(conn)
    conn.execute(sa.update(_S).where(*own, _S.c.revoked_at.is_(None)).values(revoked_at=now))


# --- SQL: invitations ---------------------------------------------------------------------------

_I = invitations
_INVITATION_COLUMNS = (
    *(_I.c[name] for name in ("id", "org_id")),
    organisations.c.name.label("org_name"),
    *(_I.c[name] for name in ("email", "role", "invited_by", "created_at", "expires_at")),
    *(_I.c[name] for name in ("accepted_at", "revoked_at")),
    db_now().label("as_of"),
)
_INVITATION_FROM = _I.join(organisations, organisations.c.id == _I.c.org_id)


def _optional(value: Any) -> float | None:
    return None if value is None else float(value)


def _invitation(row: Any) -> Invitation:
    return Invitation(
        str(row.id), str(row.org_id), str(row.org_name), str(row.email),
        parse_user_role(row.role), row.invited_by, float(row.created_at), float(row.expires_at),
        _optional(row.accepted_at), _optional(row.revoked_at), float(row.as_of),
    )  # fmt: skip


def _invitations(conn: Connection, *where: sa.ColumnElement[bool]) -> list[Invitation]:
    stmt = sa.select(*_INVITATION_COLUMNS).select_from(_INVITATION_FROM).where(*where)
    rows = conn.execute(stmt.order_by(_I.c.created_at.desc(), _I.c.id))
    return [_invitation(r) for r in rows]


def create_invitation(
    conn: Connection,
    org_id: str,
    email: str,
    role: str,
    invited_by: str | None,
    lifetime_seconds: float,
) -> IssuedInvitation:
    """A one-time invitation into the organisation with ``role``, valid for the lifetime."""
    email = normalise_email(email)
    checked = parse_user_role(role)
    lifetime = check_lifetime(lifetime_seconds)
    org_name = _org_name(conn, org_id)
    now = database_now(conn)
    secret = new_secret()
    invitation = Invitation(
        str(uuid.uuid4()), org_id, org_name, email, checked, invited_by, now, now + lifetime,
        None, None, now,
    )  # fmt: skip
    conn.execute(
        sa.insert(_I).values(
            id=invitation.id, org_id=org_id, email=email, role=checked,
            secret_sha256=hash_token(secret), invited_by=invited_by, created_at=now,
            expires_at=invitation.expires_at,
        )
    )  # fmt: skip
    return IssuedInvitation(invitation, secret)


def invitation_by_secret(conn: Connection, secret: str) -> Invitation | None:
    """The invitation behind a link, in whatever state it is (the page says which)."""
    found = _invitations(conn, _I.c.secret_sha256 == hash_token(secret))
    return found[0] if found else None


def accept_invitation(conn: Connection, secret: str, user_id: str) -> Membership:
    """Use the invitation once: the user joins its organisation with its role (or keeps a
    stronger role they already have). InvitationInvalid when used, expired or revoked."""
    invitation = invitation_by_secret(conn, secret)
    if invitation is None or invitation.state != "pending":
        raise InvitationInvalid()
    get_user(conn, user_id)
    taken = conn.execute(
        sa.update(_I)
        .where(
            _I.c.id == invitation.id,
            _I.c.accepted_at.is_(None),
            _I.c.revoked_at.is_(None),
            _I.c.expires_at > invitation.as_of,
        )
        .values(accepted_at=invitation.as_of, accepted_by=user_id)
    )
    if not taken.rowcount:  # accepted by someone else between the read and the write
        raise InvitationInvalid()
    current = _role_in(conn, user_id, invitation.org_id)
    role = invitation.role if current is None else stronger_role(current, invitation.role)
    return set_membership(conn, user_id, invitation.org_id, role)


def list_invitations(conn: Connection, org_id: str) -> list[Invitation]:
    """Every invitation of the organisation, in any state, newest first."""
    return _invitations(conn, _I.c.org_id == org_id)


def revoke_invitation(conn: Connection, org_id: str, invitation_id: str) -> None:
    """Make a pending (or expired) invitation unusable; NotFound outside the organisation,
    RequestInvalid once it has been accepted (remove the member instead)."""
    found = _invitations(conn, _I.c.id == invitation_id, _I.c.org_id == org_id)
    if not found:
        raise NotFound(f"no invitation {invitation_id}")
    if found[0].accepted_at is not None:
        raise RequestInvalid("that invitation was already accepted: remove the member instead")
    conn.execute(
        sa.update(_I)
        .where(_I.c.id == invitation_id, _I.c.revoked_at.is_(None))
        .values(revoked_at=found[0].as_of)
    )


# --- SQL: failed sign-ins -----------------------------------------------------------------------

_F = sign_in_failures


def note_sign_in_failure(conn: Connection, keys: Sequence[str]) -> None:
    """Count one failed sign-in against each key; rows older than a day go on the way."""
    now = database_now(conn)
    conn.execute(sa.delete(_F).where(_F.c.at < now - KEEP_ENDED_S))
    rows = [{"key": failure_key(k), "at": now} for k in dict.fromkeys(keys)]
    if rows:
        conn.execute(sa.insert(_F), rows)


def count_sign_in_failures(conn: Connection, key: str, window_seconds: float) -> int:
    """Failed sign-ins against ``key`` within the last ``window_seconds``."""
    recent = sa.select(sa.func.count()).where(
        _F.c.key == failure_key(key), _F.c.at > db_now() - window_seconds
    )
    return int(conn.execute(recent).scalar_one())


def clear_sign_in_failures(conn: Connection, key: str) -> None:
    conn.execute(sa.delete(_F).where(_F.c.key == failure_key(key)))


# --- the SQL store's methods (SqlJobStore inherits them) ---------------------------------------


class _Transactions(Protocol):
    def _read(self, fn: Callable[[Connection], T]) -> T: ...
    def _write(self, fn: Callable[[Connection], T]) -> T: ...


class SqlPeople:
    """The people half of :class:`~kickflow.jobs.port.JobStore` on SQL (one transaction per
    call); documented on :class:`~kickflow.jobs.port.PeoplePort`."""

    def create_user(
        self: _Transactions, email: str, password_hash: str, name: str | None = None
    ) -> User:
        try:
            return self._write(lambda c: create_user(c, email, password_hash, name))
        except DatabaseError:
            # Lost a race on the unique address: say so rather than "database error".
            if self._read(lambda c: user_for_sign_in(c, email)) is not None:
                raise UserExists(f"a user with the email address {email} already exists") from None
            raise

    def user_for_sign_in(self: _Transactions, email: str) -> tuple[User, str] | None:
        return self._read(lambda c: user_for_sign_in(c, email))

    def get_user(self: _Transactions, user_id: str) -> User:
        return self._read(lambda c: get_user(c, user_id))

    def set_password(
        self: _Transactions, user_id: str, password_hash: str, keep_session_id: str | None = None
    ) -> int:
        return self._write(lambda c: set_password(c, user_id, password_hash, keep_session_id))

    def set_membership(self: _Transactions, user_id: str, org_id: str, role: Role) -> Membership:
        try:
            return self._write(lambda c: set_membership(c, user_id, org_id, role))
        except DatabaseError as exc:
            if isinstance(exc, DatabaseBusy):
                raise
            # Two first-time writes at once: the loser finds the row now and updates it.
            return self._write(lambda c: set_membership(c, user_id, org_id, role))

    def remove_membership(self: _Transactions, org_id: str, user_id: str) -> None:
        self._write(lambda c: remove_membership(c, org_id, user_id))

    def memberships(self: _Transactions, user_id: str) -> list[Membership]:
        return self._read(lambda c: user_memberships(c, user_id))

    def org_members(self: _Transactions, org_id: str) -> list[tuple[User, Membership]]:
        return self._read(lambda c: org_members(c, org_id))

    def create_session(
        self: _Transactions,
        user_id: str,
        org_id: str,
        lifetime_seconds: float,
        user_agent: str | None = None,
        address: str | None = None,
    ) -> IssuedSession:
        return self._write(
            lambda c: create_session(c, user_id, org_id, lifetime_seconds, user_agent, address)
        )

    def session_by_secret(
        self: _Transactions, secret: str, idle_seconds: float
    ) -> WebSession | None:
        found = self._read(lambda c: session_for_request(c, secret, idle_seconds))
        if found is None:
            return None
        session, due = found
        if due:
            # Best effort: a busy SQLite writer must not turn a page view into an error; the
            # next request a minute on tries again.
            with contextlib.suppress(DatabaseBusy):
                self._write(lambda c: touch_session(c, session.id))
        return session

    def switch_session_org(self: _Transactions, session_id: str, org_id: str) -> WebSession:
        return self._write(lambda c: switch_session_org(c, session_id, org_id))

    def list_sessions(
        self: _Transactions, user_id: str, idle_seconds: float | None = None
    ) -> list[WebSession]:
        return self._read(lambda c: list_sessions(c, user_id, idle_seconds))

    def revoke_session(self: _Transactions, user_id: str, session_id: str) -> None:
        self._write(lambda c: revoke_session(c, user_id, session_id))

    def create_invitation(
        self: _Transactions,
        org_id: str,
        email: str,
        role: Role,
        invited_by: str | None,
        lifetime_seconds: float,
    ) -> IssuedInvitation:
        return self._write(
            lambda c: create_invitation(c, org_id, email, role, invited_by, lifetime_seconds)
        )

    def invitation_by_secret(self: _Transactions, secret: str) -> Invitation | None:
        return self._read(lambda c: invitation_by_secret(c, secret))

    def accept_invitation(self: _Transactions, secret: str, user_id: str) -> Membership:
        return self._write(lambda c: accept_invitation(c, secret, user_id))

    def list_invitations(self: _Transactions, org_id: str) -> list[Invitation]:
        return self._read(lambda c: list_invitations(c, org_id))

    def revoke_invitation(self: _Transactions, org_id: str, invitation_id: str) -> None:
        self._write(lambda c: revoke_invitation(c, org_id, invitation_id))

    def note_sign_in_failure(self: _Transactions, keys: Sequence[str]) -> None:
        self._write(lambda c: note_sign_in_failure(c, keys))

    def sign_in_failures(self: _Transactions, key: str, window_seconds: float) -> int:
        return self._read(lambda c: count_sign_in_failures(c, key, window_seconds))

    def clear_sign_in_failures(self: _Transactions, key: str) -> None:
        self._write(lambda c: clear_sign_in_failures(c, key))

"""Webhooks in the job store: each organisation's receiver endpoints and the outbox of
deliveries (:mod:`kickflow.integrations.webhooks` decides what is sent, when and how).

An endpoint keeps its own cursor in the finished-jobs feed (:mod:`kickflow.jobs.finished`);
new deliveries and the cursor's move are written in one transaction that only succeeds if
the cursor is still where the reader saw it, and ``(endpoint, job, event)`` is unique, so a
restart or two service nodes neither lose nor duplicate an event. A send is claimed first:
the endpoint is marked busy with a token (one send per endpoint at a time, on every node) and
the delivery carries the same token, so only the claimer can record the attempt's outcome.
An endpoint whose receiver keeps failing is backed off as a whole (``retry_at``), so a dead
receiver gets one probe per backoff step however many deliveries wait for it.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from kickflow.errors import WebhookBusy, WebhookDeliveryNotFound, WebhookNotFound
from kickflow.jobs.schema import organisations, webhook_deliveries, webhook_endpoints
from kickflow.jobs.sqlfuncs import db_now

T = TypeVar("T")
Status = Literal["pending", "sending", "delivered", "failed"]
Outcome = Literal["delivered", "retry", "failed"]
WAITING = ("pending", "sending")  # a "sending" row whose claim has lapsed is sent again
ERROR_MAX = 500


@dataclass(frozen=True)
class WebhookEndpoint:
    """One receiver of an organisation. Never carries the secret (see ``webhook_secret``)."""

    id: str
    org_id: str
    org_name: str
    url: str
    description: str | None
    events: tuple[str, ...]
    active: bool
    cursor: tuple[float, str]  # (finished_at, job id) of the last job looked at
    failures: int  # consecutive failed attempts (0 once one succeeds)
    retry_at: float | None  # no send before this while it is failing
    created_at: float
    updated_at: float

    @classmethod
    def from_row(cls, row: Any) -> WebhookEndpoint:
        return cls(
            str(row.id), str(row.org_id), str(row.org_name), str(row.url), row.description,
            tuple(e for e in str(row.events).split(",") if e), bool(row.active),
            (float(row.cursor_finished_at), str(row.cursor_job_id)), int(row.failures),
            None if row.retry_at is None else float(row.retry_at),
            float(row.created_at), float(row.updated_at),
        )  # fmt: skip


@dataclass(frozen=True)
class WebhookDelivery:
    """One event for one endpoint and where its sending stands (the delivery log's row)."""

    id: str
    org_id: str
    endpoint_id: str
    job_id: str | None  # None for a test ping
    event: str
    payload: str  # the exact JSON body sent
    status: Status
    attempts: int
    first_attempt_at: float | None
    next_attempt_at: float | None  # None once delivered or failed
    last_attempt_at: float | None
    last_status_code: int | None
    last_error: str | None
    delivered_at: float | None
    created_at: float

    @classmethod
    def from_row(cls, row: Any) -> WebhookDelivery:
        done = row.status in ("delivered", "failed")
        return cls(
            str(row.id), str(row.org_id), str(row.endpoint_id), row.job_id, str(row.event),
            str(row.payload), row.status, int(row.attempts), row.first_attempt_at,
            None if done else float(row.next_attempt_at), row.last_attempt_at,
            row.last_status_code, row.last_error, row.delivered_at, float(row.created_at),
        )  # fmt: skip


@dataclass(frozen=True)
class NewDelivery:
    """A delivery to queue: its id (the ``KickFlow-Delivery`` header) and exact body."""

    id: str
    job_id: str | None
    event: str
    payload: str


@dataclass(frozen=True)
class ClaimedDelivery:
    """A delivery this caller may send now: the target and secret (a SecretBox token) and
    the claim ``token`` that fences the outcome it records."""

    delivery: WebhookDelivery
    url: str
    secret_enc: str
    endpoint_failures: int
    token: str


@dataclass(frozen=True)
class AttemptResult:
    """What one attempt came to. ``retry``: due again in ``retry_in`` seconds unless that is
    past ``window`` seconds after the first try (then failed); ``endpoint_retry_in``: how long
    the endpoint rests when the attempt failed to reach its receiver (None: no rest)."""

    outcome: Outcome
    status_code: int | None = None
    error: str | None = None
    retry_in: float = 0.0
    window: float = 86400.0
    endpoint_retry_in: float | None = None


class WebhooksPort(Protocol):
    """Webhook endpoints and their deliveries (part of JobStore). Every user-side call is
    scoped by ``org_id``: another organisation's id is WebhookNotFound /
    WebhookDeliveryNotFound, as if it did not exist."""

    def create_webhook_endpoint(
        self,
        org_id: str,
        url: str,
        events: Sequence[str],
        secret_enc: str,
        description: str | None = None,
    ) -> WebhookEndpoint:
        """A new active endpoint (url and events checked by the caller); its cursor starts
        at the store's now, so jobs finished before it was made are not sent to it."""
        ...

    def webhook_endpoints(self, org_id: str) -> list[WebhookEndpoint]:
        """The organisation's endpoints, oldest first."""
        ...

    def webhook_endpoint(self, org_id: str, endpoint_id: str) -> WebhookEndpoint:
        """One endpoint (WebhookNotFound)."""
        ...

    def update_webhook_endpoint(
        self,
        org_id: str,
        endpoint_id: str,
        *,
        url: str | None = None,
        events: Sequence[str] | None = None,
        active: bool | None = None,
        description: str | None = None,
    ) -> WebhookEndpoint:
        """Change what is given (None: unchanged); WebhookNotFound."""
        ...

    def delete_webhook_endpoint(self, org_id: str, endpoint_id: str) -> bool:
        """Delete the endpoint and its deliveries; whether it existed."""
        ...

    def webhook_secret(self, org_id: str, endpoint_id: str) -> str:
        """The endpoint's signing secret as stored (a SecretBox token); WebhookNotFound."""
        ...

    def webhook_secret_keys(self) -> list[tuple[str, str]]:
        """(org_id, endpoint id) of every endpoint, for key rotation."""
        ...

    def replace_webhook_secret(self, org_id: str, endpoint_id: str, secret_enc: str) -> None:
        """Store a re-encrypted secret (key rotation); WebhookNotFound."""
        ...

    def webhook_feed_endpoints(self) -> list[WebhookEndpoint]:
        """The active endpoints of every organisation (the dispatcher reads their feeds)."""
        ...

    def queue_webhook_deliveries(
        self,
        endpoint: WebhookEndpoint,
        cursor: tuple[float, str],
        deliveries: Sequence[NewDelivery],
    ) -> bool:
        """Add ``deliveries`` (an (endpoint, job, event) already there is skipped) and move
        the endpoint's cursor to ``cursor``, only if its cursor is still
        ``endpoint.cursor``; whether it was (False: another node got there first)."""
        ...

    def add_webhook_delivery(
        self, org_id: str, endpoint_id: str, delivery: NewDelivery
    ) -> WebhookDelivery:
        """One delivery due now (a test ping), the endpoint's backoff lifted; WebhookNotFound."""
        ...

    def due_webhook_endpoints(self, limit: int) -> list[str]:
        """Up to ``limit`` active endpoints, not busy and not backed off, with a delivery
        due: longest waiting first."""
        ...

    def claim_webhook_delivery(
        self, endpoint_id: str, claim_seconds: float, delivery_id: str | None = None
    ) -> ClaimedDelivery | None:
        """Claim the endpoint for ``claim_seconds`` and its oldest due delivery (or
        ``delivery_id`` when due) for one attempt, counted now; None when the endpoint is
        busy, backed off (unless ``delivery_id`` is given), inactive or has nothing due."""
        ...

    def finish_webhook_attempt(self, claimed: ClaimedDelivery, result: AttemptResult) -> bool:
        """Record the attempt and free the endpoint; False (nothing written) when the claim
        was lost (it lapsed and another node took the delivery)."""
        ...

    def webhook_deliveries(
        self, org_id: str, endpoint_id: str | None = None, limit: int = 50
    ) -> list[WebhookDelivery]:
        """The organisation's (or one endpoint's) deliveries, newest first."""
        ...

    def webhook_delivery(self, org_id: str, delivery_id: str) -> WebhookDelivery:
        """One delivery (WebhookDeliveryNotFound)."""
        ...

    def redeliver_webhook(self, org_id: str, delivery_id: str) -> WebhookDelivery:
        """Make the delivery due now with a fresh retry window, whatever its status, and lift
        its endpoint's backoff; WebhookBusy while it is being sent."""
        ...

    def expire_webhook_deliveries(self, window_seconds: float) -> int:
        """Fail the waiting deliveries whose first try (or, never tried, their becoming
        due) is more than ``window_seconds`` ago; how many."""
        ...


# --- SQL -------------------------------------------------------------------------------------

E, D = webhook_endpoints, webhook_deliveries


def _now(conn: Connection) -> float:
    return float(conn.execute(sa.select(db_now())).scalar_one())


def _endpoint_select() -> sa.Select[Any]:
    return sa.select(E, organisations.c.name.label("org_name")).join(
        organisations, organisations.c.id == E.c.org_id
    )


def _endpoint(conn: Connection, org_id: str, endpoint_id: str) -> WebhookEndpoint:
    stmt = _endpoint_select().where(E.c.id == endpoint_id, E.c.org_id == org_id)
    row = conn.execute(stmt).first()
    if row is None:
        raise WebhookNotFound(f"no webhook endpoint {endpoint_id}")
    return WebhookEndpoint.from_row(row)


def _delivery(conn: Connection, org_id: str, delivery_id: str) -> WebhookDelivery:
    row = conn.execute(sa.select(D).where(D.c.id == delivery_id, D.c.org_id == org_id)).first()
    if row is None:
        raise WebhookDeliveryNotFound(f"no webhook delivery {delivery_id}")
    return WebhookDelivery.from_row(row)


def create_endpoint(
    conn: Connection,
    org_id: str,
    url: str,
    events: Sequence[str],
    secret_enc: str,
    description: str | None,
) -> WebhookEndpoint:
    now, endpoint_id = _now(conn), str(uuid.uuid4())
    conn.execute(
        sa.insert(E).values(
            id=endpoint_id,
            org_id=org_id,
            url=url,
            description=description,
            events=",".join(events),
            secret_enc=secret_enc,
            active=True,
            cursor_finished_at=now,
            cursor_job_id="",
            failures=0,
            created_at=now,
            updated_at=now,
        )
    )
    return _endpoint(conn, org_id, endpoint_id)


def update_endpoint(
    conn: Connection, org_id: str, endpoint_id: str, changes: dict[str, Any]
) -> WebhookEndpoint:
    _endpoint(conn, org_id, endpoint_id)
    if changes:
        where = sa.and_(E.c.id == endpoint_id, E.c.org_id == org_id)
        conn.execute(sa.update(E).where(where).values(updated_at=_now(conn), **changes))
    return _endpoint(conn, org_id, endpoint_id)


def delete_endpoint(conn: Connection, org_id: str, endpoint_id: str) -> bool:
    where = sa.and_(E.c.id == endpoint_id, E.c.org_id == org_id)
    if conn.execute(sa.select(E.c.id).where(where)).first() is None:
        return False
    conn.execute(sa.delete(D).where(D.c.endpoint_id == endpoint_id))  # SQLite: no cascade
    conn.execute(sa.delete(E).where(where))
    return True


def secret(conn: Connection, org_id: str, endpoint_id: str) -> str:
    where = sa.and_(E.c.id == endpoint_id, E.c.org_id == org_id)
    value = conn.execute(sa.select(E.c.secret_enc).where(where)).scalar()
    if value is None:
        raise WebhookNotFound(f"no webhook endpoint {endpoint_id}")
    return str(value)


def replace_secret(conn: Connection, org_id: str, endpoint_id: str, secret_enc: str) -> None:
    where = sa.and_(E.c.id == endpoint_id, E.c.org_id == org_id)
    if conn.execute(sa.update(E).where(where).values(secret_enc=secret_enc)).rowcount == 0:
        raise WebhookNotFound(f"no webhook endpoint {endpoint_id}")


def queue_deliveries(
    conn: Connection,
    endpoint: WebhookEndpoint,
    cursor: tuple[float, str],
    deliveries: Sequence[NewDelivery],
) -> bool:
    at, job_id = endpoint.cursor
    moved = conn.execute(
        sa.update(E)
        .where(E.c.id == endpoint.id, E.c.cursor_finished_at == at, E.c.cursor_job_id == job_id)
        .values(cursor_finished_at=cursor[0], cursor_job_id=cursor[1])
    ).rowcount
    if moved == 0:
        return False
    now = _now(conn)
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    for new in deliveries:
        conn.execute(
            insert(D)
            .values(**_new_row(endpoint.org_id, endpoint.id, new, now))
            .on_conflict_do_nothing(index_elements=[D.c.endpoint_id, D.c.job_id, D.c.event])
        )
    return True


def _new_row(org_id: str, endpoint_id: str, new: NewDelivery, now: float) -> dict[str, Any]:
    return dict(
        id=new.id, org_id=org_id, endpoint_id=endpoint_id, job_id=new.job_id, event=new.event,
        payload=new.payload, status="pending", attempts=0, due_since=now, next_attempt_at=now,
        created_at=now,
    )  # fmt: skip


def add_delivery(
    conn: Connection, org_id: str, endpoint_id: str, new: NewDelivery
) -> WebhookDelivery:
    _endpoint(conn, org_id, endpoint_id)
    now = _now(conn)
    conn.execute(sa.insert(D).values(**_new_row(org_id, endpoint_id, new, now)))
    _lift_backoff(conn, endpoint_id, now)
    return _delivery(conn, org_id, new.id)


def _lift_backoff(conn: Connection, endpoint_id: str, now: float) -> None:
    conn.execute(sa.update(E).where(E.c.id == endpoint_id, E.c.retry_at > now).values(retry_at=now))


def _free(now: float) -> sa.ColumnElement[bool]:
    """No claim on the endpoint, or a lapsed one."""
    return sa.or_(E.c.busy_until.is_(None), E.c.busy_until < now)


def _ready(now: float) -> sa.ColumnElement[bool]:
    """An active endpoint that is neither busy nor backed off."""
    return sa.and_(
        E.c.active.is_(True), _free(now), sa.or_(E.c.retry_at.is_(None), E.c.retry_at <= now)
    )


def due_endpoints(conn: Connection, limit: int) -> list[str]:
    now = _now(conn)
    stmt = (
        sa.select(D.c.endpoint_id)
        .join(E, E.c.id == D.c.endpoint_id)
        .where(D.c.status.in_(WAITING), D.c.next_attempt_at <= now, _ready(now))
        .group_by(D.c.endpoint_id)
        .order_by(sa.func.min(D.c.next_attempt_at), D.c.endpoint_id)
        .limit(limit)
    )
    return [str(r[0]) for r in conn.execute(stmt)]


def claim(
    conn: Connection, endpoint_id: str, claim_seconds: float, delivery_id: str | None
) -> ClaimedDelivery | None:
    now, token = _now(conn), secrets.token_hex(16)
    ready = _ready(now)
    if delivery_id is not None:  # asked for now: the endpoint's backoff does not apply
        ready = sa.and_(
            E.c.active.is_(True), sa.or_(E.c.busy_until.is_(None), E.c.busy_until < now)
        )
    took = conn.execute(
        sa.update(E)
        .where(E.c.id == endpoint_id, ready)
        .values(busy_token=token, busy_until=now + claim_seconds)
    ).rowcount
    if took == 0:
        return None
    row = _next_due(conn, endpoint_id, now, delivery_id)
    if row is None:
        conn.execute(
            sa.update(E).where(E.c.id == endpoint_id).values(busy_token=None, busy_until=None)
        )
        return None
    conn.execute(
        sa.update(D)
        .where(D.c.id == row.id)
        .values(
            status="sending",
            claim_token=token,
            attempts=D.c.attempts + 1,
            last_attempt_at=now,
            first_attempt_at=sa.func.coalesce(D.c.first_attempt_at, now),
        )
    )
    endpoint = conn.execute(sa.select(E).where(E.c.id == endpoint_id)).one()
    sent = WebhookDelivery.from_row(conn.execute(sa.select(D).where(D.c.id == row.id)).one())
    url, secret_enc, failures = str(endpoint.url), str(endpoint.secret_enc), int(endpoint.failures)
    return ClaimedDelivery(sent, url, secret_enc, failures, token)


def _next_due(conn: Connection, endpoint_id: str, now: float, delivery_id: str | None) -> Any:
    where = [D.c.endpoint_id == endpoint_id, D.c.status.in_(WAITING), D.c.next_attempt_at <= now]
    if delivery_id is not None:
        where.append(D.c.id == delivery_id)
    stmt = sa.select(D.c.id).where(*where).order_by(D.c.next_attempt_at, D.c.created_at).limit(1)
    return conn.execute(stmt).first()


def finish(conn: Connection, claimed: ClaimedDelivery, result: AttemptResult) -> bool:
    now, sent = _now(conn), claimed.delivery
    values: dict[str, Any] = {
        "claim_token": None,
        "last_status_code": result.status_code,
        "last_error": None if result.error is None else result.error[:ERROR_MAX],
        **decide(result, now, sent.first_attempt_at or now),
    }
    mine = sa.and_(D.c.id == sent.id, D.c.claim_token == claimed.token, D.c.status == "sending")
    if conn.execute(sa.update(D).where(mine).values(**values)).rowcount == 0:
        return False
    endpoint: dict[str, Any] = {"busy_token": None, "busy_until": None}
    if result.endpoint_retry_in is None:
        endpoint.update(failures=0, retry_at=None)
    else:
        endpoint.update(failures=E.c.failures + 1, retry_at=now + result.endpoint_retry_in)
    held = sa.and_(E.c.id == sent.endpoint_id, E.c.busy_token == claimed.token)
    conn.execute(sa.update(E).where(held).values(**endpoint))
    return True


def decide(result: AttemptResult, now: float, first_try: float) -> dict[str, Any]:
    """The delivery's new status columns after an attempt (shared with the fake store)."""
    if result.outcome == "delivered":
        return {"status": "delivered", "delivered_at": now}
    due = now + result.retry_in
    if result.outcome == "failed" or due > first_try + result.window:
        return {"status": "failed"}
    return {"status": "pending", "next_attempt_at": due}


def list_deliveries(
    conn: Connection, org_id: str, endpoint_id: str | None, limit: int
) -> list[WebhookDelivery]:
    where = [D.c.org_id == org_id]
    if endpoint_id is not None:
        where.append(D.c.endpoint_id == endpoint_id)
    stmt = sa.select(D).where(*where).order_by(D.c.created_at.desc(), D.c.id.desc())
    rows = conn.execute(stmt.limit(max(1, min(limit, 500))))
    return [WebhookDelivery.from_row(r) for r in rows]


def redeliver(conn: Connection, org_id: str, delivery_id: str) -> WebhookDelivery:
    found = _delivery(conn, org_id, delivery_id)
    now = _now(conn)
    busy = conn.execute(
        sa.select(E.c.busy_until).where(E.c.id == found.endpoint_id, E.c.busy_until >= now)
    ).first()
    if found.status == "sending" and busy is not None:
        raise WebhookBusy(f"delivery {delivery_id} is being sent")
    conn.execute(
        sa.update(D)
        .where(D.c.id == delivery_id)
        .values(status="pending", due_since=now, first_attempt_at=None, next_attempt_at=now,
                claim_token=None, delivered_at=None)
    )  # fmt: skip
    _lift_backoff(conn, found.endpoint_id, now)
    return _delivery(conn, org_id, delivery_id)


def _expired(now: float, window_seconds: float) -> sa.ColumnElement[bool]:
    started = sa.func.coalesce(D.c.first_attempt_at, D.c.due_since)
    return sa.and_(D.c.status == "pending", started < now - window_seconds)


def any_expired(conn: Connection, window_seconds: float) -> bool:
    """Whether :func:`expire` has anything to do (read first: most passes write nothing)."""
    stmt = sa.select(D.c.id).where(_expired(_now(conn), window_seconds)).limit(1)
    return conn.execute(stmt).first() is not None


def expire(conn: Connection, window_seconds: float) -> int:
    where = _expired(_now(conn), window_seconds)
    stmt = sa.update(D).where(where).values(status="failed", last_error=GAVE_UP)
    return int(conn.execute(stmt).rowcount)


GAVE_UP = "not delivered within the retry window: gave up"


class _Transactions(Protocol):
    def _read(self, fn: Callable[[Connection], T]) -> T: ...
    def _write(self, fn: Callable[[Connection], T]) -> T: ...


class WebhookOperations:
    """The webhook methods of :class:`~kickflow.jobs.store.SqlJobStore` (see
    :class:`WebhooksPort`)."""

    def create_webhook_endpoint(
        self: _Transactions,
        org_id: str,
        url: str,
        events: Sequence[str],
        secret_enc: str,
        description: str | None = None,
    ) -> WebhookEndpoint:
        return self._write(
            lambda c: create_endpoint(c, org_id, url, events, secret_enc, description)
        )

    def webhook_endpoints(self: _Transactions, org_id: str) -> list[WebhookEndpoint]:
        stmt = _endpoint_select().where(E.c.org_id == org_id).order_by(E.c.created_at, E.c.id)
        return self._read(lambda c: [WebhookEndpoint.from_row(r) for r in c.execute(stmt)])

    def webhook_endpoint(self: _Transactions, org_id: str, endpoint_id: str) -> WebhookEndpoint:
        return self._read(lambda c: _endpoint(c, org_id, endpoint_id))

    def update_webhook_endpoint(
        self: _Transactions,
        org_id: str,
        endpoint_id: str,
        *,
        url: str | None = None,
        events: Sequence[str] | None = None,
        active: bool | None = None,
        description: str | None = None,
    ) -> WebhookEndpoint:
        changes = endpoint_changes(url, events, active, description)
        return self._write(lambda c: update_endpoint(c, org_id, endpoint_id, changes))

    def delete_webhook_endpoint(self: _Transactions, org_id: str, endpoint_id: str) -> bool:
        return self._write(lambda c: delete_endpoint(c, org_id, endpoint_id))

    def webhook_secret(self: _Transactions, org_id: str, endpoint_id: str) -> str:
        return self._read(lambda c: secret(c, org_id, endpoint_id))

    def webhook_secret_keys(self: _Transactions) -> list[tuple[str, str]]:
        stmt = sa.select(E.c.org_id, E.c.id).order_by(E.c.created_at)
        return self._read(lambda c: [(str(r[0]), str(r[1])) for r in c.execute(stmt)])

    def replace_webhook_secret(
        self: _Transactions, org_id: str, endpoint_id: str, secret_enc: str
    ) -> None:
        self._write(lambda c: replace_secret(c, org_id, endpoint_id, secret_enc))

    def webhook_feed_endpoints(self: _Transactions) -> list[WebhookEndpoint]:
        stmt = _endpoint_select().where(E.c.active.is_(True)).order_by(E.c.created_at, E.c.id)
        return self._read(lambda c: [WebhookEndpoint.from_row(r) for r in c.execute(stmt)])

    def queue_webhook_deliveries(
        self: _Transactions,
        endpoint: WebhookEndpoint,
        cursor: tuple[float, str],
        deliveries: Sequence[NewDelivery],
    ) -> bool:
        return self._write(lambda c: queue_deliveries(c, endpoint, cursor, deliveries))

    def add_webhook_delivery(
        self: _Transactions, org_id: str, endpoint_id: str, delivery: NewDelivery
    ) -> WebhookDelivery:
        return self._write(lambda c: add_delivery(c, org_id, endpoint_id, delivery))

    def due_webhook_endpoints(self: _Transactions, limit: int) -> list[str]:
        return self._read(lambda c: due_endpoints(c, limit))

    def claim_webhook_delivery(
        self: _Transactions, endpoint_id: str, claim_seconds: float, delivery_id: str | None = None
    ) -> ClaimedDelivery | None:
        return self._write(lambda c: claim(c, endpoint_id, claim_seconds, delivery_id))

    def finish_webhook_attempt(
        self: _Transactions, claimed: ClaimedDelivery, result: AttemptResult
    ) -> bool:
        return self._write(lambda c: finish(c, claimed, result))

    def webhook_deliveries(
        self: _Transactions, org_id: str, endpoint_id: str | None = None, limit: int = 50
    ) -> list[WebhookDelivery]:
        return self._read(lambda c: list_deliveries(c, org_id, endpoint_id, limit))

    def webhook_delivery(self: _Transactions, org_id: str, delivery_id: str) -> WebhookDelivery:
        return self._read(lambda c: _delivery(c, org_id, delivery_id))

    def redeliver_webhook(self: _Transactions, org_id: str, delivery_id: str) -> WebhookDelivery:
        return self._write(lambda c: redeliver(c, org_id, delivery_id))

    def expire_webhook_deliveries(self: _Transactions, window_seconds: float) -> int:
        if not self._read(lambda c: any_expired(c, window_seconds)):
            return 0  # no write transaction (on SQLite, no write lock) when nothing expired
        return self._write(lambda c: expire(c, window_seconds))


def endpoint_changes(
    url: str | None,
    events: Sequence[str] | None,
    active: bool | None,
    description: str | None,
) -> dict[str, Any]:
    """The columns an update sets (shared with the fake store)."""
    changes: dict[str, Any] = {}
    if url is not None:
        changes["url"] = url
    if events is not None:
        changes["events"] = ",".join(events)
    if active is not None:
        changes["active"] = active
    if description is not None:
        changes["description"] = description or None
    return changes

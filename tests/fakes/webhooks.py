"""Webhooks in the fake store, with the rules of :mod:`kickflow.jobs.webhooks`: rows are the
SQL columns as dicts (read through the same ``from_row``), the cursor moves only from where
the reader saw it, (endpoint, job, event) is unique, a claim marks the endpoint busy and
fences the outcome, and the status after an attempt is the SQL store's own ``decide``."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Sequence
from types import SimpleNamespace
from typing import Any

from kickflow.errors import DatabaseError, WebhookBusy, WebhookDeliveryNotFound, WebhookNotFound
from kickflow.jobs.webhooks import (
    ERROR_MAX,
    GAVE_UP,
    WAITING,
    AttemptResult,
    ClaimedDelivery,
    NewDelivery,
    WebhookDelivery,
    WebhookEndpoint,
    decide,
    endpoint_changes,
)
from tests.fakes.base import FakeStoreBase

Row = dict[str, Any]


class FakeWebhooks(FakeStoreBase):
    """Endpoints and deliveries by id (part of :class:`~tests.fakes.FakeJobStore`)."""

    # --- rows ---------------------------------------------------------------------------------

    def _endpoint_row(self, org_id: str | None, endpoint_id: str) -> Row:
        row = self._t.webhook_endpoints.get(endpoint_id)
        if row is None or (org_id is not None and row["org_id"] != org_id):
            raise WebhookNotFound(f"no webhook endpoint {endpoint_id}")
        return row

    def _as_endpoint(self, row: Row) -> WebhookEndpoint:
        name = self._t.orgs[row["org_id"]].name
        return WebhookEndpoint.from_row(SimpleNamespace(org_name=name, **row))

    def _delivery_row(self, org_id: str, delivery_id: str) -> Row:
        row = self._t.webhook_deliveries.get(delivery_id)
        if row is None or row["org_id"] != org_id:
            raise WebhookDeliveryNotFound(f"no webhook delivery {delivery_id}")
        return row

    @staticmethod
    def _as_delivery(row: Row) -> WebhookDelivery:
        return WebhookDelivery.from_row(SimpleNamespace(**row))

    def _set_endpoint(self, endpoint_id: str, **values: Any) -> None:
        self._t.webhook_endpoints[endpoint_id] = {
            **self._t.webhook_endpoints[endpoint_id],
            **values,
        }

    def _set_delivery(self, delivery_id: str, **values: Any) -> None:
        self._t.webhook_deliveries[delivery_id] = {
            **self._t.webhook_deliveries[delivery_id],
            **values,
        }

    # --- endpoints ----------------------------------------------------------------------------

    def create_webhook_endpoint(
        self,
        org_id: str,
        url: str,
        events: Sequence[str],
        secret_enc: str,
        description: str | None = None,
    ) -> WebhookEndpoint:
        with self._tx("create_webhook_endpoint", org_id, url) as now:
            if org_id not in self._t.orgs:
                raise DatabaseError("database error: FOREIGN KEY constraint failed (no org)")
            endpoint_id = str(uuid.uuid4())
            self._t.webhook_endpoints[endpoint_id] = dict(
                id=endpoint_id, org_id=org_id, url=url, description=description,
                events=",".join(events), secret_enc=secret_enc, active=True,
                cursor_finished_at=now, cursor_job_id="", failures=0, retry_at=None,
                busy_token=None, busy_until=None, created_at=now, updated_at=now,
            )  # fmt: skip
            return self._as_endpoint(self._t.webhook_endpoints[endpoint_id])

    def webhook_endpoints(self, org_id: str) -> list[WebhookEndpoint]:
        with self._tx("webhook_endpoints", org_id):
            rows = [r for r in self._t.webhook_endpoints.values() if r["org_id"] == org_id]
            return [self._as_endpoint(r) for r in sorted(rows, key=_by_age)]

    def webhook_endpoint(self, org_id: str, endpoint_id: str) -> WebhookEndpoint:
        with self._tx("webhook_endpoint", org_id, endpoint_id):
            return self._as_endpoint(self._endpoint_row(org_id, endpoint_id))

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
        changes = endpoint_changes(url, events, active, description)
        with self._tx("update_webhook_endpoint", org_id, endpoint_id) as now:
            self._endpoint_row(org_id, endpoint_id)
            if changes:
                self._set_endpoint(endpoint_id, updated_at=now, **changes)
            return self._as_endpoint(self._endpoint_row(org_id, endpoint_id))

    def delete_webhook_endpoint(self, org_id: str, endpoint_id: str) -> bool:
        with self._tx("delete_webhook_endpoint", org_id, endpoint_id):
            row = self._t.webhook_endpoints.get(endpoint_id)
            if row is None or row["org_id"] != org_id:
                return False
            del self._t.webhook_endpoints[endpoint_id]
            self._t.webhook_deliveries = {
                k: d
                for k, d in self._t.webhook_deliveries.items()
                if d["endpoint_id"] != endpoint_id
            }
            return True

    def webhook_secret(self, org_id: str, endpoint_id: str) -> str:
        with self._tx("webhook_secret", org_id, endpoint_id):
            return str(self._endpoint_row(org_id, endpoint_id)["secret_enc"])

    def webhook_secret_keys(self) -> list[tuple[str, str]]:
        with self._tx("webhook_secret_keys"):
            rows = sorted(self._t.webhook_endpoints.values(), key=_by_age)
            return [(r["org_id"], r["id"]) for r in rows]

    def replace_webhook_secret(self, org_id: str, endpoint_id: str, secret_enc: str) -> None:
        with self._tx("replace_webhook_secret", org_id, endpoint_id):
            self._endpoint_row(org_id, endpoint_id)
            self._set_endpoint(endpoint_id, secret_enc=secret_enc)

    # --- the outbox ---------------------------------------------------------------------------

    def webhook_feed_endpoints(self) -> list[WebhookEndpoint]:
        with self._tx("webhook_feed_endpoints"):
            rows = [r for r in self._t.webhook_endpoints.values() if r["active"]]
            return [self._as_endpoint(r) for r in sorted(rows, key=_by_age)]

    def queue_webhook_deliveries(
        self,
        endpoint: WebhookEndpoint,
        cursor: tuple[float, str],
        deliveries: Sequence[NewDelivery],
    ) -> bool:
        with self._tx("queue_webhook_deliveries", endpoint.id, cursor) as now:
            row = self._t.webhook_endpoints.get(endpoint.id)
            if row is None or (row["cursor_finished_at"], row["cursor_job_id"]) != endpoint.cursor:
                return False
            self._set_endpoint(endpoint.id, cursor_finished_at=cursor[0], cursor_job_id=cursor[1])
            taken = {
                (d["job_id"], d["event"])
                for d in self._t.webhook_deliveries.values()
                if d["endpoint_id"] == endpoint.id
            }
            for new in deliveries:
                if (new.job_id, new.event) not in taken:
                    self._insert_delivery(endpoint.org_id, endpoint.id, new, now)
                    taken.add((new.job_id, new.event))
            return True

    def _insert_delivery(self, org_id: str, endpoint_id: str, new: NewDelivery, now: float) -> None:
        if new.id in self._t.webhook_deliveries:
            raise DatabaseError("database error: UNIQUE constraint failed (delivery id)")
        self._t.webhook_deliveries[new.id] = dict(
            id=new.id, org_id=org_id, endpoint_id=endpoint_id, job_id=new.job_id,
            event=new.event, payload=new.payload, status="pending", attempts=0, due_since=now,
            first_attempt_at=None, next_attempt_at=now, last_attempt_at=None,
            last_status_code=None, last_error=None, claim_token=None, delivered_at=None,
            created_at=now,
        )  # fmt: skip

    def add_webhook_delivery(
        self, org_id: str, endpoint_id: str, delivery: NewDelivery
    ) -> WebhookDelivery:
        with self._tx("add_webhook_delivery", org_id, endpoint_id) as now:
            self._endpoint_row(org_id, endpoint_id)
            self._insert_delivery(org_id, endpoint_id, delivery, now)
            self._lift_backoff(endpoint_id, now)
            return self._as_delivery(self._t.webhook_deliveries[delivery.id])

    def _lift_backoff(self, endpoint_id: str, now: float) -> None:
        retry_at = self._t.webhook_endpoints[endpoint_id]["retry_at"]
        if retry_at is not None and retry_at > now:
            self._set_endpoint(endpoint_id, retry_at=now)

    @staticmethod
    def _free(row: Row, now: float) -> bool:
        return row["busy_until"] is None or row["busy_until"] < now

    def _ready(self, row: Row, now: float) -> bool:
        rests = row["retry_at"] is not None and row["retry_at"] > now
        return bool(row["active"]) and self._free(row, now) and not rests

    def _due(self, endpoint_id: str, now: float) -> list[Row]:
        found = [
            d
            for d in self._t.webhook_deliveries.values()
            if d["endpoint_id"] == endpoint_id
            and d["status"] in WAITING
            and d["next_attempt_at"] <= now
        ]
        return sorted(found, key=lambda d: (d["next_attempt_at"], d["created_at"]))

    def due_webhook_endpoints(self, limit: int) -> list[str]:
        with self._tx("due_webhook_endpoints", limit) as now:
            waiting: list[tuple[float, str]] = []
            for endpoint_id, row in self._t.webhook_endpoints.items():
                due = self._due(endpoint_id, now)
                if due and self._ready(row, now):
                    waiting.append((due[0]["next_attempt_at"], endpoint_id))
            return [endpoint_id for _, endpoint_id in sorted(waiting)[:limit]]

    def claim_webhook_delivery(
        self, endpoint_id: str, claim_seconds: float, delivery_id: str | None = None
    ) -> ClaimedDelivery | None:
        with self._tx("claim_webhook_delivery", endpoint_id, delivery_id) as now:
            row = self._t.webhook_endpoints.get(endpoint_id)
            if row is None:
                return None
            ok = (
                self._ready(row, now)
                if delivery_id is None
                else row["active"] and self._free(row, now)
            )
            if not ok:
                return None
            due = [d for d in self._due(endpoint_id, now) if delivery_id in (None, d["id"])]
            if not due:
                return None
            token = secrets.token_hex(16)
            self._set_endpoint(endpoint_id, busy_token=token, busy_until=now + claim_seconds)
            sent = due[0]
            self._set_delivery(
                sent["id"], status="sending", claim_token=token, attempts=sent["attempts"] + 1,
                last_attempt_at=now, first_attempt_at=sent["first_attempt_at"] or now,
            )  # fmt: skip
            delivery = self._as_delivery(self._t.webhook_deliveries[sent["id"]])
            return ClaimedDelivery(delivery, row["url"], row["secret_enc"], row["failures"], token)

    def finish_webhook_attempt(self, claimed: ClaimedDelivery, result: AttemptResult) -> bool:
        sent = claimed.delivery
        with self._tx("finish_webhook_attempt", sent.id, result.outcome) as now:
            row = self._t.webhook_deliveries.get(sent.id)
            if row is None or row["claim_token"] != claimed.token or row["status"] != "sending":
                return False
            error = None if result.error is None else result.error[:ERROR_MAX]
            self._set_delivery(
                sent.id, claim_token=None, last_status_code=result.status_code, last_error=error,
                **decide(result, now, sent.first_attempt_at or now),
            )  # fmt: skip
            endpoint = self._t.webhook_endpoints.get(sent.endpoint_id)
            if endpoint is None or endpoint["busy_token"] != claimed.token:
                return True
            rest: dict[str, Any] = {"failures": 0, "retry_at": None}
            if result.endpoint_retry_in is not None:
                rest = {
                    "failures": endpoint["failures"] + 1,
                    "retry_at": now + result.endpoint_retry_in,
                }
            self._set_endpoint(sent.endpoint_id, busy_token=None, busy_until=None, **rest)
            return True

    # --- the delivery log ---------------------------------------------------------------------

    def webhook_deliveries(
        self, org_id: str, endpoint_id: str | None = None, limit: int = 50
    ) -> list[WebhookDelivery]:
        with self._tx("webhook_deliveries", org_id, endpoint_id, limit):
            rows = [
                d
                for d in self._t.webhook_deliveries.values()
                if d["org_id"] == org_id and endpoint_id in (None, d["endpoint_id"])
            ]
            rows.sort(key=lambda d: (d["created_at"], d["id"]), reverse=True)
            return [self._as_delivery(d) for d in rows[: max(1, min(limit, 500))]]

    def webhook_delivery(self, org_id: str, delivery_id: str) -> WebhookDelivery:
        with self._tx("webhook_delivery", org_id, delivery_id):
            return self._as_delivery(self._delivery_row(org_id, delivery_id))

    def redeliver_webhook(self, org_id: str, delivery_id: str) -> WebhookDelivery:
        with self._tx("redeliver_webhook", org_id, delivery_id) as now:
            row = self._delivery_row(org_id, delivery_id)
            endpoint = self._t.webhook_endpoints[row["endpoint_id"]]
            if row["status"] == "sending" and not self._free(endpoint, now):
                raise WebhookBusy(f"delivery {delivery_id} is being sent")
            self._set_delivery(
                delivery_id, status="pending", due_since=now, first_attempt_at=None,
                next_attempt_at=now, claim_token=None, delivered_at=None,
            )  # fmt: skip
            self._lift_backoff(row["endpoint_id"], now)
            return self._as_delivery(self._t.webhook_deliveries[delivery_id])

    def expire_webhook_deliveries(self, window_seconds: float) -> int:
        with self._tx("expire_webhook_deliveries", window_seconds) as now:
            stale = [
                d["id"]
                for d in self._t.webhook_deliveries.values()
                if d["status"] == "pending"
                and (d["first_attempt_at"] or d["due_since"]) < now - window_seconds
            ]
            for delivery_id in stale:
                self._set_delivery(delivery_id, status="failed", last_error=GAVE_UP)
            return len(stale)


def _by_age(row: Row) -> tuple[float, str]:
    return (row["created_at"], row["id"])

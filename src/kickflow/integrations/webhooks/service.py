"""What the API and the dashboard do with webhooks, one organisation at a time.

Creating an endpoint generates its signing secret and returns it this once (the store keeps
it encrypted; no call returns it again). Redeliver and the test ping are attempted at once so
the person asking sees the answer: when another send to the endpoint is in progress (on any
node, perhaps of this very delivery, picked up by a dispatcher pass), the call waits for it to
end, at most one send's time limit. The dispatcher retries them like any delivery when they
fail.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from kickflow.config import Settings
from kickflow.errors import RequestInvalid
from kickflow.integrations.webhooks import payload
from kickflow.integrations.webhooks.dispatcher import WebhookDispatcher
from kickflow.integrations.webhooks.events import check_events
from kickflow.integrations.webhooks.secrets import new_secret
from kickflow.integrations.webhooks.urls import check_url
from kickflow.jobs import JobStore
from kickflow.jobs.webhooks import WebhookDelivery, WebhookEndpoint
from kickflow.net import OutboundPolicy
from kickflow.security.secrets import SecretBox

DESCRIPTION_MAX = 200
BUSY_POLL_S = 0.05  # how often a waiting redeliver or test looks at a busy endpoint again


@dataclass(frozen=True)
class CreatedEndpoint:
    """A new endpoint and its signing secret, in plain text: shown once, never again."""

    endpoint: WebhookEndpoint
    secret: str


def _description(text: str | None) -> str | None:
    if text is None:
        return None
    text = " ".join(text.split())
    if len(text) > DESCRIPTION_MAX or not text.isprintable():
        raise RequestInvalid(f"description: at most {DESCRIPTION_MAX} printable characters")
    return text


class Webhooks:
    """The webhook operations for one request (the store scopes every call by org_id)."""

    def __init__(
        self,
        store: JobStore,
        settings: Settings,
        *,
        box: SecretBox | None = None,
        policy: OutboundPolicy | None = None,
    ) -> None:
        self.store = store
        self.dispatcher = WebhookDispatcher(store, settings, box=box, policy=policy)

    def create(
        self, org_id: str, url: str, events: Sequence[str], description: str | None = None
    ) -> CreatedEndpoint:
        """A new active endpoint; UrlInvalid/UrlRefused for the URL, WebhookEventsInvalid."""
        chosen = check_events(events)  # first: a URL check may look a name up
        checked = check_url(url, self.dispatcher.policy)
        secret = new_secret()
        endpoint = self.store.create_webhook_endpoint(
            org_id, checked, chosen, self.dispatcher.box.encrypt(secret), _description(description)
        )
        return CreatedEndpoint(endpoint, secret)

    def update(
        self,
        org_id: str,
        endpoint_id: str,
        *,
        url: str | None = None,
        events: Sequence[str] | None = None,
        active: bool | None = None,
        description: str | None = None,
    ) -> WebhookEndpoint:
        """Change what is given; the URL and events are checked as on creation."""
        self.store.webhook_endpoint(org_id, endpoint_id)  # WebhookNotFound before any lookup
        return self.store.update_webhook_endpoint(
            org_id,
            endpoint_id,
            url=None if url is None else check_url(url, self.dispatcher.policy),
            events=None if events is None else check_events(events),
            active=active,
            description=_description(description),
        )

    def endpoints(self, org_id: str) -> list[WebhookEndpoint]:
        return self.store.webhook_endpoints(org_id)

    def endpoint(self, org_id: str, endpoint_id: str) -> WebhookEndpoint:
        return self.store.webhook_endpoint(org_id, endpoint_id)

    def delete(self, org_id: str, endpoint_id: str) -> bool:
        return self.store.delete_webhook_endpoint(org_id, endpoint_id)

    def deliveries(
        self, org_id: str, endpoint_id: str | None = None, limit: int = 50
    ) -> list[WebhookDelivery]:
        if endpoint_id is not None:
            self.store.webhook_endpoint(org_id, endpoint_id)  # WebhookNotFound
        return self.store.webhook_deliveries(org_id, endpoint_id, limit)

    def redeliver(self, org_id: str, delivery_id: str) -> WebhookDelivery:
        """A new attempt now (and the retries after it, should it fail)."""
        again = self.store.redeliver_webhook(org_id, delivery_id)
        return self._attempt_now(org_id, again)

    def test(self, org_id: str, endpoint_id: str) -> WebhookDelivery:
        """Send a ``ping`` to the endpoint now."""
        endpoint = self.store.webhook_endpoint(org_id, endpoint_id)
        ping = payload.ping(str(uuid.uuid4()), endpoint)
        queued = self.store.add_webhook_delivery(org_id, endpoint_id, ping)
        return self._attempt_now(org_id, queued)

    def _attempt_now(self, org_id: str, delivery: WebhookDelivery) -> WebhookDelivery:
        """Send ``delivery`` now; where it stands after the attempt, whoever made it."""
        limit = self.dispatcher.settings.webhook_total_timeout_seconds
        give_up = time.monotonic() + limit + 1.0
        while not self.dispatcher.send_next(delivery.endpoint_id, delivery.id):
            now = self.store.webhook_delivery(org_id, delivery.id)
            if now.attempts > delivery.attempts and now.status != "sending":
                return now  # another sender's attempt, made while this call waited
            if time.monotonic() > give_up:
                return now
            if not self.store.webhook_endpoint(org_id, delivery.endpoint_id).active:
                return now  # paused: the delivery waits for the endpoint
            time.sleep(BUSY_POLL_S)
        return self.store.webhook_delivery(org_id, delivery.id)

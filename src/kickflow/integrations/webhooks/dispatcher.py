"""The webhook dispatcher: a background loop of ``kickflow serve`` (safe on every node at once).

Each pass:

1. gives up on deliveries past the retry window (KICKFLOW_WEBHOOK_RETRY_WINDOW_SECONDS);
2. reads each active endpoint's finished-jobs feed from its cursor and queues a delivery per
   subscribed event, moving the cursor in the same transaction (only jobs finished at least
   KICKFLOW_WEBHOOK_SETTLE_SECONDS ago: a slower transaction may still commit a job with an
   earlier finish time, and the cursor must not have passed it);
3. sends what is due, one attempt per endpoint at a time (claimed in the store, so two nodes
   never send the same attempt), at most KICKFLOW_WEBHOOK_MAX_SENDS_PER_PASS in all; an
   endpoint that could not be reached is not tried again in the same pass.
"""

from __future__ import annotations

import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from kickflow.config import Settings
from kickflow.errors import KickflowError
from kickflow.integrations.webhooks import payload
from kickflow.integrations.webhooks.events import event_for
from kickflow.integrations.webhooks.sender import attempt
from kickflow.integrations.webhooks.urls import webhook_policy
from kickflow.jobs import Job, JobStore
from kickflow.jobs.webhooks import AttemptResult, ClaimedDelivery, NewDelivery, WebhookEndpoint
from kickflow.net import OutboundPolicy
from kickflow.security.secrets import SecretBox

log = logging.getLogger("kickflow.webhooks")
FEED_PAGE = 200
SENDERS = 4  # endpoints sent to in parallel within a pass


@dataclass(frozen=True)
class PassResult:
    """What one pass did."""

    queued: int
    sent: int
    expired: int


class WebhookDispatcher:
    """Queues and sends deliveries; :meth:`run_pass` once, or :meth:`start` a daemon loop."""

    def __init__(
        self,
        store: JobStore,
        settings: Settings,
        *,
        box: SecretBox | None = None,
        policy: OutboundPolicy | None = None,
    ) -> None:
        self.store, self.settings = store, settings
        self._box = box
        self.policy = policy or webhook_policy(settings)
        self.public_url = settings.resolved_public_url()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def box(self) -> SecretBox:
        """The secrets' box, opened on first use (the key file is made only when needed)."""
        if self._box is None:
            self._box = SecretBox.from_settings(self.settings)
        return self._box

    # --- the loop -------------------------------------------------------------------------

    def start(self) -> WebhookDispatcher:
        self._thread = threading.Thread(target=self._run, name="kickflow-webhooks", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.settings.webhook_total_timeout_seconds + 5)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.run_pass()
            except Exception as exc:  # a pass that fails is logged; the next one tries again
                log.warning("webhook pass failed: %s", getattr(exc, "message", type(exc).__name__))
            if self._stop.wait(self.settings.webhook_interval_seconds):
                return

    def run_pass(self) -> PassResult:
        expired = self.store.expire_webhook_deliveries(self.settings.webhook_retry_window_seconds)
        queued = sum(self.queue_endpoint(e) for e in self.store.webhook_feed_endpoints())
        return PassResult(queued, self.send_due(), expired)

    # --- feed -> outbox -------------------------------------------------------------------

    def queue_endpoint(self, endpoint: WebhookEndpoint) -> int:
        """Queue the endpoint's new events; how many deliveries were offered."""
        settled = self.store.now() - self.settings.webhook_settle_seconds
        offered = 0
        while True:
            page = self.store.finished_jobs_after(
                endpoint.org_id, endpoint.cursor, FEED_PAGE, with_report=False
            )
            ready = [j for j in page if j.finished_at is not None and j.finished_at <= settled]
            if not ready:
                return offered
            news = [d for j in ready if (d := self._delivery(endpoint, j)) is not None]
            last = ready[-1]
            assert last.finished_at is not None
            cursor = (last.finished_at, last.id)
            if not self.store.queue_webhook_deliveries(endpoint, cursor, news):
                return offered  # another node moved this cursor first: it queued these
            offered += len(news)
            if len(ready) < len(page) or len(page) < FEED_PAGE:
                return offered
            endpoint = self.store.webhook_endpoint(endpoint.org_id, endpoint.id)

    def _delivery(self, endpoint: WebhookEndpoint, job: Job) -> NewDelivery | None:
        event = event_for(job)
        if event is None or event not in endpoint.events:
            return None
        return payload.for_job(event, str(uuid.uuid4()), endpoint, job, self.public_url)

    # --- outbox -> receivers --------------------------------------------------------------

    def send_due(self) -> int:
        """Send due deliveries, one per endpoint at a time, up to the per-pass cap. An
        endpoint whose receiver could not be reached rests until the next pass at least,
        even when its backoff runs out within this one (a slow pass is no retry storm)."""
        cap, sent = self.settings.webhook_max_sends_per_pass, 0
        resting: set[str] = set()
        with ThreadPoolExecutor(SENDERS, thread_name_prefix="kickflow-webhook-send") as pool:
            while sent < cap and not self._stop.is_set():
                due = [e for e in self.store.due_webhook_endpoints(cap - sent) if e not in resting]
                outcomes = zip(due, pool.map(self._send, due), strict=True)
                tried = [(e, r) for e, r in outcomes if r is not None]
                if not tried:
                    break
                sent += len(tried)
                resting.update(e for e, r in tried if r.endpoint_retry_in is not None)
        return sent

    def send_next(self, endpoint_id: str, delivery_id: str | None = None) -> int:
        """Claim and send one delivery of the endpoint; 1 if one was sent, else 0."""
        return 0 if self._send(endpoint_id, delivery_id) is None else 1

    def _send(self, endpoint_id: str, delivery_id: str | None = None) -> AttemptResult | None:
        claimed = self.store.claim_webhook_delivery(
            endpoint_id, self.settings.webhook_claim_seconds, delivery_id
        )
        if claimed is None:
            return None
        return self.send_claimed(claimed)

    def send_claimed(self, claimed: ClaimedDelivery) -> AttemptResult:
        """Make the claimed attempt and record it; what it came to."""
        result = attempt(claimed, self.settings, self.box, self.policy)
        try:
            recorded = self.store.finish_webhook_attempt(claimed, result)
        except KickflowError as exc:  # the claim lapses and the attempt is made again
            log.warning("webhook attempt not recorded: %s", exc.message)
            return result
        log.info(
            "webhook %s delivery=%s endpoint=%s status=%s outcome=%s%s",
            claimed.delivery.event, claimed.delivery.id, claimed.delivery.endpoint_id,
            result.status_code, result.outcome, "" if recorded else " (claim lost)",
        )  # fmt: skip
        return result

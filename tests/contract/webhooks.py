"""Part of the USER contract (``TestUserContract`` inherits it): webhook endpoints and the
outbox of deliveries: scoping, the cursor's compare-and-set, the unique (endpoint, job,
event), claims that keep one send per endpoint and fence the outcome, backoff of a failing
endpoint, the retry window, redelivery and the log."""

from __future__ import annotations

import threading
import uuid

import pytest

from kickflow.errors import WebhookDeliveryNotFound, WebhookNotFound
from kickflow.jobs.webhooks import AttemptResult, ClaimedDelivery, NewDelivery, WebhookEndpoint
from tests.contract.harness import ContractStore

URL = "https://receiver.example/hooks"
EVENTS = ("job.completed", "job.failed")
LONG = 3600.0


def _endpoint(store: ContractStore, org: str | None = None) -> WebhookEndpoint:
    return store.jobs.create_webhook_endpoint(org or store.org, URL, EVENTS, "sealed-secret")


def _new(job_id: str | None = "job-1", event: str = "job.completed") -> NewDelivery:
    return NewDelivery(str(uuid.uuid4()), job_id, event, f'{{"event": "{event}"}}')


def _queued(store: ContractStore, endpoint: WebhookEndpoint, *news: NewDelivery) -> None:
    moved_to = (endpoint.cursor[0] + 1.0, "z")
    assert store.jobs.queue_webhook_deliveries(endpoint, moved_to, news)


def _claim(store: ContractStore, endpoint: WebhookEndpoint) -> ClaimedDelivery:
    claimed = store.jobs.claim_webhook_delivery(endpoint.id, LONG)
    assert claimed is not None
    return claimed


class WebhooksContract:
    def test_endpoints_are_scoped_to_their_organisation(self, store: ContractStore) -> None:
        jobs, other = store.jobs, store.jobs.ensure_org("other")
        made = _endpoint(store)
        assert made.active and made.events == EVENTS and made.url == URL and made.failures == 0
        assert made.cursor[0] >= jobs.now() - 60, "starts at the store's now"
        theirs = _endpoint(store, other)
        assert theirs.org_name == "other" and theirs.org_id == other
        assert [e.id for e in jobs.webhook_endpoints(store.org)] == [made.id]
        assert jobs.webhook_secret(store.org, made.id) == "sealed-secret"
        for call in (
            lambda: jobs.webhook_endpoint(other, made.id),
            lambda: jobs.webhook_secret(other, made.id),
            lambda: jobs.update_webhook_endpoint(other, made.id, active=False),
            lambda: jobs.replace_webhook_secret(other, made.id, "x"),
        ):
            with pytest.raises(WebhookNotFound):
                call()
        assert not jobs.delete_webhook_endpoint(other, made.id)
        changed = jobs.update_webhook_endpoint(
            store.org, made.id, events=["job.needs_review"], active=False, description="QC"
        )
        assert changed.events == ("job.needs_review",) and not changed.active
        assert changed.description == "QC" and changed.url == URL
        assert [e.id for e in jobs.webhook_feed_endpoints()] == [theirs.id], "active ones only"
        assert set(jobs.webhook_secret_keys()) == {(store.org, made.id), (other, theirs.id)}
        jobs.replace_webhook_secret(store.org, made.id, "resealed")
        assert jobs.webhook_secret(store.org, made.id) == "resealed"
        assert jobs.delete_webhook_endpoint(store.org, made.id)
        assert jobs.webhook_endpoints(store.org) == []

    def test_cursor_moves_only_from_where_it_was_read(self, store: ContractStore) -> None:
        endpoint = _endpoint(store)
        first, dup = _new("job-1"), _new("job-1")
        _queued(store, endpoint, first, _new("job-1", "job.failed"))
        assert not store.jobs.queue_webhook_deliveries(endpoint, (1e12, "z"), [_new("job-2")])
        moved = store.jobs.webhook_endpoint(store.org, endpoint.id)
        assert moved.cursor == (endpoint.cursor[0] + 1.0, "z")
        _queued(store, moved, dup, _new("job-3"))  # the duplicate event is skipped
        log = store.jobs.webhook_deliveries(store.org)
        assert sorted((d.job_id, d.event) for d in log) == [
            ("job-1", "job.completed"),
            ("job-1", "job.failed"),
            ("job-3", "job.completed"),
        ]
        assert {d.status for d in log} == {"pending"} and all(d.attempts == 0 for d in log)
        assert store.jobs.webhook_delivery(store.org, first.id).payload == first.payload
        with pytest.raises(WebhookDeliveryNotFound):
            store.jobs.webhook_delivery(store.jobs.ensure_org("other"), first.id)
        assert store.jobs.webhook_deliveries(store.jobs.ensure_org("other")) == []

    def test_one_send_per_endpoint_and_a_fenced_outcome(self, store: ContractStore) -> None:
        endpoint = _endpoint(store)
        older, newer = _new("job-1"), _new("job-2")
        _queued(store, endpoint, older)
        _queued(store, store.jobs.webhook_endpoint(store.org, endpoint.id), newer)
        assert store.jobs.due_webhook_endpoints(10) == [endpoint.id]
        claimed = _claim(store, endpoint)
        assert claimed.delivery.id == older.id and claimed.delivery.attempts == 1
        assert claimed.url == URL and claimed.secret_enc == "sealed-secret"
        assert store.jobs.claim_webhook_delivery(endpoint.id, LONG) is None, "busy"
        assert store.jobs.due_webhook_endpoints(10) == []
        forged = ClaimedDelivery(claimed.delivery, URL, "", 0, "0" * 32)
        assert not store.jobs.finish_webhook_attempt(forged, AttemptResult("delivered", 200))
        assert store.jobs.finish_webhook_attempt(claimed, AttemptResult("delivered", 200))
        done = store.jobs.webhook_delivery(store.org, older.id)
        assert done.status == "delivered" and done.delivered_at is not None
        assert done.last_status_code == 200 and done.next_attempt_at is None
        assert not store.jobs.finish_webhook_attempt(claimed, AttemptResult("failed", 400))
        assert _claim(store, endpoint).delivery.id == newer.id

    def test_claims_at_once_give_the_endpoint_to_one(self, store: ContractStore) -> None:
        endpoint = _endpoint(store)
        _queued(store, endpoint, *[_new(f"job-{i}") for i in range(4)])
        got: list[ClaimedDelivery] = []

        def claim() -> None:
            found = store.jobs.claim_webhook_delivery(endpoint.id, LONG)
            if found is not None:
                got.append(found)

        threads = [threading.Thread(target=claim) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert len(got) == 1

    def test_a_failing_endpoint_rests_and_a_delivery_retries(self, store: ContractStore) -> None:
        endpoint = _endpoint(store)
        first = _new("job-1")
        _queued(store, endpoint, first, _new("job-2"))
        claimed = _claim(store, endpoint)
        result = AttemptResult("retry", 503, "HTTP 503", retry_in=LONG, endpoint_retry_in=LONG)
        assert store.jobs.finish_webhook_attempt(claimed, result)
        waiting = store.jobs.webhook_delivery(store.org, first.id)
        assert waiting.status == "pending" and waiting.attempts == 1
        assert waiting.last_error == "HTTP 503" and waiting.last_status_code == 503
        assert waiting.next_attempt_at is not None and waiting.next_attempt_at > store.jobs.now()
        rested = store.jobs.webhook_endpoint(store.org, endpoint.id)
        assert rested.failures == 1 and rested.retry_at is not None
        assert store.jobs.due_webhook_endpoints(10) == [], "the other delivery waits too"
        assert store.jobs.claim_webhook_delivery(endpoint.id, LONG) is None

    def test_past_the_window_a_retry_fails(self, store: ContractStore) -> None:
        endpoint = _endpoint(store)
        delivery = _new("job-1")
        _queued(store, endpoint, delivery)
        claimed = _claim(store, endpoint)
        result = AttemptResult("retry", None, "cannot connect", retry_in=60.0, window=30.0)
        assert store.jobs.finish_webhook_attempt(claimed, result)
        assert store.jobs.webhook_delivery(store.org, delivery.id).status == "failed"

    def test_redeliver_and_a_ping_are_due_now(self, store: ContractStore) -> None:
        endpoint = _endpoint(store)
        delivery = _new("job-1")
        _queued(store, endpoint, delivery)
        claimed = _claim(store, endpoint)
        rest = AttemptResult("failed", 410, "HTTP 410", endpoint_retry_in=LONG)
        assert store.jobs.finish_webhook_attempt(claimed, rest)
        assert store.jobs.webhook_delivery(store.org, delivery.id).status == "failed"
        with pytest.raises(WebhookDeliveryNotFound):
            store.jobs.redeliver_webhook(store.jobs.ensure_org("other"), delivery.id)
        again = store.jobs.redeliver_webhook(store.org, delivery.id)
        assert again.status == "pending" and again.first_attempt_at is None
        assert store.jobs.due_webhook_endpoints(10) == [endpoint.id], "backoff lifted"
        second = store.jobs.claim_webhook_delivery(endpoint.id, LONG, delivery.id)
        assert second is not None and second.delivery.attempts == 2
        assert store.jobs.finish_webhook_attempt(second, AttemptResult("delivered", 204))
        ping = store.jobs.add_webhook_delivery(store.org, endpoint.id, _new(None, "ping"))
        assert ping.status == "pending" and ping.job_id is None
        store.jobs.add_webhook_delivery(store.org, endpoint.id, _new(None, "ping"))
        with pytest.raises(WebhookNotFound):
            store.jobs.add_webhook_delivery(
                store.jobs.ensure_org("other"), endpoint.id, _new(None, "ping")
            )
        assert len(store.jobs.webhook_deliveries(store.org, endpoint.id)) == 3

    def test_waiting_deliveries_expire_after_the_window(self, store: ContractStore) -> None:
        endpoint = _endpoint(store)
        delivery = _new("job-1")
        _queued(store, endpoint, delivery)
        assert store.jobs.expire_webhook_deliveries(LONG) == 0
        store.clock_moves_past(store.jobs.webhook_delivery(store.org, delivery.id).created_at)
        assert store.jobs.expire_webhook_deliveries(0.0) == 1
        gone = store.jobs.webhook_delivery(store.org, delivery.id)
        assert gone.status == "failed" and gone.last_error

    def test_a_lapsed_claim_is_taken_over_and_fenced(self, store: ContractStore) -> None:
        endpoint = _endpoint(store)
        delivery = _new("job-1")
        _queued(store, endpoint, delivery)
        crashed = store.jobs.claim_webhook_delivery(endpoint.id, -1.0)  # lapsed: a dead node
        assert crashed is not None
        taken = _claim(store, endpoint)
        assert taken.delivery.id == delivery.id and taken.delivery.attempts == 2
        assert not store.jobs.finish_webhook_attempt(crashed, AttemptResult("delivered", 200))
        assert store.jobs.finish_webhook_attempt(taken, AttemptResult("delivered", 200))
        assert store.jobs.webhook_delivery(store.org, delivery.id).status == "delivered"

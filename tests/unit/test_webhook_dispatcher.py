"""The dispatcher's feed-to-outbox step on the fake store (nothing is sent here): only
subscribed events are queued, jobs inside the settle window wait for a later pass, the cursor
makes a second pass (or a second dispatcher) queue nothing again, and a stale reader's
cursor is refused."""

from __future__ import annotations

from typing import Any

from kickflow.config import Settings
from kickflow.integrations.webhooks.dispatcher import WebhookDispatcher
from kickflow.jobs import Job
from kickflow.jobs.webhooks import WebhookEndpoint
from tests.fakes.clock import FakeClock
from tests.fakes.store import FakeJobStore

URL = "https://receiver.example/hooks"  # never contacted: these tests only queue


def rig(**settings: Any) -> tuple[FakeJobStore, WebhookEndpoint]:
    store = FakeJobStore(Settings(secret_key="k1", **settings), clock=FakeClock())
    made = store.create_webhook_endpoint(store.ensure_org(), URL, ["job.completed"], "sealed")
    return store, made


def finish(store: FakeJobStore, name: str, verdict: str = "passed") -> Job:
    store.enqueue(store.ensure_org(), "path", f"/m/{name}", file_name=name)
    return store.complete(store.claim("w1")[0].lease, verdict, {})


def test_subscribed_events_are_queued_once() -> None:
    store, endpoint = rig(webhook_settle_seconds=0.0)
    finish(store, "a.mov")
    finish(store, "b.mov", "needs_review")  # job.needs_review: not chosen
    finish(store, "c.mov", "failed")  # QC failed: job.completed
    dispatcher = WebhookDispatcher(store, store.settings)
    store.clock.advance(1.0)
    assert dispatcher.queue_endpoint(endpoint) == 2
    fresh = store.webhook_endpoint(endpoint.org_id, endpoint.id)
    assert dispatcher.queue_endpoint(fresh) == 0
    assert WebhookDispatcher(store, store.settings).queue_endpoint(fresh) == 0, "a restart"
    assert not store.queue_webhook_deliveries(endpoint, (1e12, "z"), []), "a stale cursor"
    log = store.webhook_deliveries(endpoint.org_id)
    assert sorted(d.event for d in log) == ["job.completed", "job.completed"]


def test_jobs_inside_the_settle_window_wait() -> None:
    store, endpoint = rig(webhook_settle_seconds=30.0)
    finish(store, "a.mov")
    dispatcher = WebhookDispatcher(store, store.settings)
    assert dispatcher.queue_endpoint(endpoint) == 0
    assert store.webhook_endpoint(endpoint.org_id, endpoint.id).cursor == endpoint.cursor
    store.clock.advance(31.0)
    assert dispatcher.queue_endpoint(endpoint) == 1

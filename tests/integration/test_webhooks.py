"""Webhooks end to end on SQLite and PostgreSQL, against a real loopback receiver that checks
every signature: a finished job is delivered once (also across a restart and with two
dispatchers at once), events follow the subscription, a 500 is retried with backoff until it
succeeds, a 4xx fails at once and is redelivered on request, a dead receiver gets one probe
per backoff step however many jobs wait, and a pass never sends more than its cap."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest

from kickflow.config import Settings
from kickflow.integrations.webhooks.dispatcher import WebhookDispatcher
from kickflow.integrations.webhooks.service import CreatedEndpoint, Webhooks
from kickflow.jobs import Job, JobStore, SqlJobStore
from tests.contract.harness import wait_for
from tests.integration.webhook_receiver import Receiver, closed_port_url

WAIT = 60.0
ALL = ["job.completed", "job.failed", "job.needs_review"]


@pytest.fixture
def hook_settings(job_settings: Settings) -> Settings:
    return job_settings.model_copy(
        update={
            "url_allow_networks": "127.0.0.0/8",
            "secret_key": "webhook-test-key",
            "webhook_settle_seconds": 0.0,
            "webhook_interval_seconds": 0.05,
            "webhook_retry_base_seconds": 0.2,
            "webhook_retry_max_seconds": 0.8,
            "webhook_max_sends_per_pass": 20,
            "public_url": "https://qc.example",
        }
    )


@pytest.fixture
def hooks(hook_settings: Settings) -> Iterator[JobStore]:
    store = SqlJobStore(hook_settings.database_url, hook_settings)
    try:
        yield store
    finally:
        store.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def endpoint(store: JobStore, receiver: Receiver, events: list[str] = ALL) -> CreatedEndpoint:
    made = Webhooks(store, store.settings).create(store.ensure_org(), receiver.url, events)
    receiver.secret = made.secret
    return made


def finish(store: JobStore, name: str, verdict: str | None = "passed") -> Job:
    """A job that ran and completed with ``verdict`` (None: the job failed)."""
    store.enqueue(store.ensure_org(), "path", f"/srv/media/{name}", file_name=name)
    lease = store.claim("w1")[0].lease
    if verdict is None:
        return store.fail(lease, "not_media", "not a media file", permanent=True)
    return store.complete(lease, verdict, {"n": 1})


def passes_until(dispatcher: WebhookDispatcher, what: str, done: object) -> None:
    def check() -> bool:
        dispatcher.run_pass()
        return bool(done())  # type: ignore[operator]

    wait_for(what, check, WAIT)


def test_a_finished_job_is_delivered_once_signed(hooks: JobStore, receiver: Receiver) -> None:
    made = endpoint(hooks, receiver)
    job = finish(hooks, "EP01.mov")
    dispatcher = WebhookDispatcher(hooks, hooks.settings)
    passes_until(dispatcher, "the delivery", lambda: receiver.received)
    for _ in range(3):
        dispatcher.run_pass()
    WebhookDispatcher(hooks, hooks.settings).run_pass()  # a restarted service: nothing again
    (got,) = receiver.received
    assert got.data is not None, "the signature verifies"
    assert got.event == "job.completed" and got.delivery == got.data["id"]
    assert got.data["job"]["id"] == job.id and got.data["job"]["fileName"] == "EP01.mov"
    assert got.data["job"]["verdict"] == "passed" and got.data["org"]["name"] == "local"
    assert b"/srv/media" not in got.body and made.secret.encode() not in got.body
    (logged,) = hooks.webhook_deliveries(hooks.ensure_org())
    assert (logged.status, logged.attempts, logged.last_status_code) == ("delivered", 1, 200)


def test_events_follow_the_subscription(hooks: JobStore, receiver: Receiver) -> None:
    endpoint(hooks, receiver, ["job.completed", "job.needs_review"])
    finish(hooks, "pass.mov")
    finish(hooks, "qc-failed.mov", "failed")
    finish(hooks, "review.mov", "needs_review")
    finish(hooks, "broken.mov", None)
    dispatcher = WebhookDispatcher(hooks, hooks.settings)
    passes_until(dispatcher, "three deliveries", lambda: len(receiver.received) == 3)
    seen = {(r.event, r.data["job"]["fileName"]) for r in receiver.received if r.data}
    assert seen == {
        ("job.completed", "pass.mov"),
        ("job.completed", "qc-failed.mov"),
        ("job.needs_review", "review.mov"),
    }, "a failed job is job.failed, which this endpoint did not choose"


def test_a_500_is_retried_with_backoff_then_delivered(hooks: JobStore, receiver: Receiver) -> None:
    endpoint(hooks, receiver)
    receiver.answers = [500, 503]
    finish(hooks, "EP01.mov")
    dispatcher = WebhookDispatcher(hooks, hooks.settings)
    passes_until(dispatcher, "three tries", lambda: len(receiver.received) == 3)
    first, second, third = receiver.received
    assert [r.answered for r in receiver.received] == [500, 503, 200]
    assert first.body == second.body == third.body and first.delivery == third.delivery
    assert second.at - first.at >= 0.2 * 0.8 - 0.02, "waited the first backoff step"
    assert third.at - second.at >= 0.4 * 0.8 - 0.02, "and a doubled one"
    (logged,) = hooks.webhook_deliveries(hooks.ensure_org())
    assert (logged.status, logged.attempts, logged.last_status_code) == ("delivered", 3, 200)


def test_a_dead_receiver_gets_no_retry_storm(hooks: JobStore) -> None:
    org = hooks.ensure_org()
    dead = Webhooks(hooks, hooks.settings).create(org, closed_port_url(), ALL)
    for i in range(50):
        finish(hooks, f"EP{i:02}.mov")
    dispatcher = WebhookDispatcher(hooks, hooks.settings)
    first = dispatcher.run_pass()
    assert first.queued == 50 and first.sent == 1, "one probe, then the endpoint rests"
    assert hooks.webhook_endpoint(org, dead.endpoint.id).failures == 1
    log = hooks.webhook_deliveries(org, limit=100)
    assert sum(d.attempts for d in log) == 1 and {d.status for d in log} == {"pending"}
    tried = next(d for d in log if d.attempts)
    assert tried.last_error and "cannot connect" in tried.last_error
    assert tried.last_status_code is None and tried.next_attempt_at is not None
    passes_until(dispatcher, "a second probe", lambda: _attempts(hooks, org) >= 2)
    assert _attempts(hooks, org) == 2, "still one send per backoff step"


def test_an_unreachable_endpoint_rests_for_the_rest_of_a_pass(hook_settings: Settings) -> None:
    """A backoff shorter than the pass itself: the endpoint is due again mid-pass, and a
    slow pass (a loaded node) must still not turn into one send after another."""
    quick = hook_settings.model_copy(
        update={"webhook_retry_base_seconds": 0.001, "webhook_retry_max_seconds": 0.001}
    )
    store = SqlJobStore(quick.database_url, quick)
    try:
        org = store.ensure_org()
        Webhooks(store, quick).create(org, closed_port_url(), ALL)
        for i in range(5):
            finish(store, f"EP{i:02}.mov")
        dispatcher = WebhookDispatcher(store, quick)
        assert dispatcher.run_pass().sent == 1
        wait_for("the backoff to run out", lambda: bool(store.due_webhook_endpoints(1)), WAIT)
        assert dispatcher.run_pass().sent == 1, "one probe per pass, however short the backoff"
        assert _attempts(store, org) == 2
    finally:
        store.close()


def _attempts(store: JobStore, org: str) -> int:
    return sum(d.attempts for d in store.webhook_deliveries(org, limit=100))


def test_a_pass_sends_no_more_than_its_cap(hook_settings: Settings, receiver: Receiver) -> None:
    store = SqlJobStore(
        hook_settings.database_url,
        hook_settings.model_copy(update={"webhook_max_sends_per_pass": 5}),
    )
    try:
        endpoint(store, receiver)
        for i in range(12):
            finish(store, f"EP{i:02}.mov")
        dispatcher = WebhookDispatcher(store, store.settings)
        assert dispatcher.run_pass().sent == 5
        assert len(receiver.received) == 5
        assert dispatcher.run_pass().sent == 5
        assert dispatcher.run_pass().sent == 2
        assert len({r.delivery for r in receiver.received}) == 12
    finally:
        store.close()


def test_a_test_ping_waits_for_a_send_in_progress_and_says_what_came_back(
    hooks: JobStore, receiver: Receiver
) -> None:
    made = endpoint(hooks, receiver)
    finish(hooks, "EP01.mov")
    dispatcher = WebhookDispatcher(hooks, hooks.settings)
    dispatcher.queue_endpoint(hooks.webhook_endpoint(made.endpoint.org_id, made.endpoint.id))
    in_progress = hooks.claim_webhook_delivery(made.endpoint.id, 60.0)  # another node's send
    assert in_progress is not None
    service = Webhooks(hooks, hooks.settings)
    found_busy = threading.Event()
    send_next = service.dispatcher.send_next

    def noting_busy(endpoint_id: str, delivery_id: str | None = None) -> int:
        sent = send_next(endpoint_id, delivery_id)
        if not sent:
            found_busy.set()
        return sent

    service.dispatcher.send_next = noting_busy  # type: ignore[method-assign]
    answers: list[str] = []
    asking = threading.Thread(
        target=lambda: answers.append(service.test(made.endpoint.org_id, made.endpoint.id).status)
    )
    asking.start()
    try:
        assert found_busy.wait(WAIT), "the ping found the endpoint busy"
        dispatcher.send_claimed(in_progress)
    finally:
        asking.join(WAIT)
    assert answers == ["delivered"]
    assert [r.event for r in receiver.received] == ["job.completed", "ping"]


def test_a_4xx_fails_at_once_and_redeliver_sends_again(hooks: JobStore, receiver: Receiver) -> None:
    org = hooks.ensure_org()
    endpoint(hooks, receiver)
    receiver.answers = [410]
    finish(hooks, "EP01.mov")
    dispatcher = WebhookDispatcher(hooks, hooks.settings)
    passes_until(dispatcher, "the refused try", lambda: receiver.received)
    for _ in range(3):
        dispatcher.run_pass()
    (refused,) = hooks.webhook_deliveries(org)
    assert (refused.status, refused.attempts, refused.last_status_code) == ("failed", 1, 410)
    assert refused.last_error and "410" in refused.last_error
    again = Webhooks(hooks, hooks.settings).redeliver(org, refused.id)
    assert (again.status, again.attempts, again.last_status_code) == ("delivered", 2, 200)
    assert [r.delivery for r in receiver.received] == [refused.id, refused.id]
    assert all(r.data is not None for r in receiver.received)


def test_a_test_ping_is_sent_now(hooks: JobStore, receiver: Receiver) -> None:
    made = endpoint(hooks, receiver)
    sent = Webhooks(hooks, hooks.settings).test(hooks.ensure_org(), made.endpoint.id)
    assert (sent.event, sent.status, sent.last_status_code) == ("ping", "delivered", 200)
    (got,) = receiver.received
    assert got.data is not None and got.data["event"] == "ping" and got.data["job"] is None


def test_only_jobs_finished_after_the_endpoint_was_made(
    hooks: JobStore, receiver: Receiver
) -> None:
    before = finish(hooks, "before.mov")
    wait_for("the clock to move", lambda: hooks.now() > (before.finished_at or 0.0), WAIT)
    endpoint(hooks, receiver)
    finish(hooks, "after.mov")
    dispatcher = WebhookDispatcher(hooks, hooks.settings)
    passes_until(dispatcher, "the delivery", lambda: receiver.received)
    dispatcher.run_pass()
    names = [json.loads(r.body)["job"]["fileName"] for r in receiver.received]
    assert names == ["after.mov"]


def test_two_dispatchers_at_once_send_each_event_once(
    hook_settings: Settings, hooks: JobStore, receiver: Receiver
) -> None:
    endpoint(hooks, receiver)
    for i in range(10):
        finish(hooks, f"EP{i:02}.mov")
    other = SqlJobStore(hook_settings.database_url, hook_settings)  # a second service node
    try:
        nodes = [WebhookDispatcher(hooks, hooks.settings), WebhookDispatcher(other, other.settings)]
        threads = [threading.Thread(target=n.run_pass) for n in nodes]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=WAIT)
        passes_until(nodes[1], "ten deliveries", lambda: len(receiver.received) >= 10)
        nodes[0].run_pass()
    finally:
        other.close()
    deliveries = [r.delivery for r in receiver.received]
    assert len(deliveries) == 10 == len(set(deliveries))
    assert len({r.data["job"]["id"] for r in receiver.received if r.data}) == 10

"""Webhooks, the pure parts: the signature and the receiver's check of it (replay window,
tampering, rotation), the retry schedule, which event a finished job is, what the body says
(and does not), and the URL check (addresses refused without connecting anywhere)."""

from __future__ import annotations

import dataclasses
import json

import pytest

from kickflow.config import Settings
from kickflow.errors import UrlInvalid, UrlRefused, WebhookEventsInvalid, WebhookSignatureInvalid
from kickflow.integrations.webhooks import payload
from kickflow.integrations.webhooks.backoff import retry_delay
from kickflow.integrations.webhooks.events import check_events, event_for
from kickflow.integrations.webhooks.secrets import new_secret
from kickflow.integrations.webhooks.signing import headers, signature_header
from kickflow.integrations.webhooks.urls import check_url, webhook_policy
from kickflow.integrations.webhooks.verify import verify
from kickflow.jobs import Job, JobState
from kickflow.jobs.webhooks import WebhookEndpoint
from kickflow.net.addresses import PRIVATE, TABLE
from tests.fakes.clock import FakeClock
from tests.fakes.store import FakeJobStore

SECRET = "whsec_test"
BODY = b'{"event":"job.completed","id":"d1"}'
T = 1_764_633_600


def test_a_signed_body_verifies_within_the_window() -> None:
    header = signature_header(SECRET, T, BODY)
    assert header.startswith(f"t={T},v1=") and len(header.split("v1=")[1]) == 64
    assert verify(SECRET, header, BODY, now=T + 299)["id"] == "d1"
    assert verify(SECRET, header, BODY, now=T - 299)["event"] == "job.completed"


@pytest.mark.parametrize("now", [T + 301, T - 301, T + 86400])
def test_a_replay_outside_the_window_is_refused(now: int) -> None:
    with pytest.raises(WebhookSignatureInvalid, match="too old"):
        verify(SECRET, signature_header(SECRET, T, BODY), BODY, now=now)


def test_a_tampered_body_a_wrong_secret_or_a_moved_time_is_refused() -> None:
    header = signature_header(SECRET, T, BODY)
    with pytest.raises(WebhookSignatureInvalid, match="does not match"):
        verify(SECRET, header, BODY.replace(b"d1", b"d2"), now=T)
    with pytest.raises(WebhookSignatureInvalid, match="does not match"):
        verify("whsec_other", header, BODY, now=T)
    moved = header.replace(f"t={T}", f"t={T + 60}")  # a fresh time on an old signature
    with pytest.raises(WebhookSignatureInvalid, match="does not match"):
        verify(SECRET, moved, BODY, now=T + 60)


@pytest.mark.parametrize("header", ["", "v1=abc", f"t={T}", "t=soon,v1=abc", "garbage"])
def test_a_malformed_header_is_refused(header: str) -> None:
    with pytest.raises(WebhookSignatureInvalid, match="malformed"):
        verify(SECRET, header, BODY, now=T)


def test_any_of_several_signatures_may_match() -> None:
    good = signature_header(SECRET, T, BODY).split(",")[1]
    assert verify(SECRET, f"t={T},v1={'0' * 64},{good}", BODY, now=T)["id"] == "d1"


def test_every_header_of_a_delivery() -> None:
    sent = headers(SECRET, T, BODY, "job.failed", "d1")
    assert sent["KickFlow-Event"] == "job.failed" and sent["KickFlow-Delivery"] == "d1"
    assert sent["Content-Type"] == "application/json"
    assert verify(SECRET, sent["KickFlow-Signature"], BODY, now=T)


def test_secrets_are_random_and_recognisable() -> None:
    made = {new_secret() for _ in range(50)}
    assert len(made) == 50 and all(s.startswith("whsec_") and len(s) > 40 for s in made)


def test_the_backoff_doubles_from_the_base_to_the_cap() -> None:
    plain = [retry_delay(n, 30.0, 3600.0, rand=lambda: 0.5) for n in range(1, 10)]
    assert plain == [30.0, 60.0, 120.0, 240.0, 480.0, 960.0, 1920.0, 3600.0, 3600.0]


def test_the_backoff_is_jittered_by_a_fifth_and_never_past_the_cap() -> None:
    assert retry_delay(1, 30.0, 3600.0, rand=lambda: 0.0) == pytest.approx(24.0)
    assert retry_delay(1, 30.0, 3600.0, rand=lambda: 1.0) == pytest.approx(36.0)
    assert retry_delay(20, 30.0, 3600.0, rand=lambda: 1.0) == 3600.0
    spread = {round(retry_delay(3, 30.0, 3600.0), 3) for _ in range(50)}
    assert len(spread) > 10 and all(96.0 <= s <= 144.0 for s in spread)


def _finished(store: FakeJobStore, state: JobState, verdict: str | None = None) -> Job:
    org = store.ensure_org()
    job = store.enqueue(org, "path", "/srv/media/secret/EP01.mov", file_name="EP01.mov")
    lease = store.claim("w1")[0].lease
    if state is JobState.FAILED:
        return store.fail(lease, "not_media", "not a media file", permanent=True)
    if state is JobState.CANCELLED:
        store.cancel(org, job.id)
        return store.acknowledge_cancel(lease)
    return store.complete(lease, verdict or "passed", {"n": 1})


@pytest.mark.parametrize(
    ("state", "verdict", "event"),
    [
        (JobState.COMPLETED, "passed", "job.completed"),
        (JobState.COMPLETED, "failed", "job.completed"),  # QC failed: the job itself completed
        (JobState.COMPLETED, "needs_review", "job.needs_review"),
        (JobState.FAILED, None, "job.failed"),
        (JobState.CANCELLED, None, None),
    ],
)
def test_which_event_a_finished_job_is(
    state: JobState, verdict: str | None, event: str | None
) -> None:
    job = _finished(FakeJobStore(Settings(), clock=FakeClock()), state, verdict)
    assert event_for(job) == event


def test_events_are_checked_and_put_in_order() -> None:
    assert check_events(["job.failed", " job.completed", "job.failed"]) == (
        "job.completed",
        "job.failed",
    )
    for wrong in ([], ["job.started"], ["job.completed", "*"]):
        with pytest.raises(WebhookEventsInvalid):
            check_events(wrong)


def test_the_body_names_the_job_without_paths_or_secrets() -> None:
    store = FakeJobStore(Settings(), clock=FakeClock())
    job = _finished(store, JobState.COMPLETED, "failed")
    endpoint = WebhookEndpoint(
        "e1", "o1", "Studio", "https://r.example/h", None, ("job.completed",), True,
        (0.0, ""), 0, None, 0.0, 0.0,
    )  # fmt: skip
    made = payload.for_job("job.completed", "d1", endpoint, job, "https://qc.example")
    data = json.loads(made.payload)
    assert set(data) == {"event", "id", "job", "org"}
    assert data["event"] == "job.completed" and data["id"] == "d1"
    assert data["org"] == {"id": "o1", "name": "Studio"}
    assert set(data["job"]) == {
        "id", "fileName", "state", "verdict", "profile", "project", "createdAt",
        "finishedAt", "errorCode", "errorMessage", "reportUrl",
    }  # fmt: skip
    assert data["job"]["verdict"] == "failed" and data["job"]["state"] == "completed"
    assert data["job"]["reportUrl"] == f"https://qc.example/api/qc/jobs/{data['job']['id']}/report"
    assert "/srv/media" not in made.payload and "secret" not in made.payload
    ping = json.loads(payload.ping("d2", endpoint).payload)
    assert ping["event"] == "ping" and ping["job"] is None


class Lookups:
    """A resolver that answers from a table and records what it was asked (nothing here
    ever opens a socket)."""

    def __init__(self, answers: dict[str, list[str]]) -> None:
        self.answers, self.asked = answers, list[str]()

    def __call__(self, host: str, port: int) -> list[str]:
        self.asked.append(host)
        return self.answers[host]


def _private_address() -> str:
    """An address of the first private range in the outbound policy's own table."""
    network = next(n for n, why in TABLE if why == PRIVATE and n.version == 4)
    return str(network.network_address + 7)


def test_a_name_resolving_to_a_private_address_is_refused_without_connecting() -> None:
    lookups = Lookups({"hooks.internal.example": [_private_address()]})
    policy = webhook_policy(Settings(), resolver=lookups)
    with pytest.raises(UrlRefused, match="a private address"):
        check_url("https://hooks.internal.example/kickflow", policy)
    assert lookups.asked == ["hooks.internal.example"]


def test_loopback_is_refused_unless_the_operator_allows_it() -> None:
    with pytest.raises(UrlRefused, match="loopback"):
        check_url("http://127.0.0.1:9/hook", webhook_policy(Settings()))
    allowed = webhook_policy(Settings(url_allow_networks="127.0.0.0/8"))
    assert check_url(" http://127.0.0.1:9/hook ", allowed) == "http://127.0.0.1:9/hook"


@pytest.mark.parametrize(
    "url", ["ftp://r.example/h", "https://user:pw@r.example/h", "not a url", "", "x" * 3000]
)
def test_other_urls_are_refused(url: str) -> None:
    lookups = Lookups({})
    with pytest.raises((UrlRefused, UrlInvalid)):
        check_url(url, webhook_policy(Settings(), resolver=lookups))
    assert lookups.asked == []


def test_webhook_limits_are_short_and_follow_no_redirect() -> None:
    limits = webhook_policy(Settings()).limits
    assert limits.max_redirects == 0 and limits.connect_seconds == 5.0
    assert limits.total_seconds == 15.0
    assert dataclasses.asdict(limits)["max_bytes"] == 64 * 1024

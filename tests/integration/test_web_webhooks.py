"""Settings → Webhooks in the dashboard (in-process app on the fake store) against a real
loopback receiver: an admin adds an endpoint and sees its secret once, sends a test ping that
the receiver verifies, redelivers from the log, pauses and deletes; viewers see no section and
are refused; a form without the CSRF token is refused; another organisation's ids are not
found; a refused URL is one sentence on the page."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.web import Browser, WebRig, web_rig
from tests.integration.webhook_receiver import Receiver
from tests.web_helpers import signed_in

PAGE = "/settings/webhooks"
SECRET = re.compile(r'<code class="secret" id="new-webhook-secret">(whsec_[^<]+)</code>')


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[WebRig]:
    with web_rig(tmp_path, url_allow_networks="127.0.0.0/8", secret_key="k1") as r:
        yield r


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def add(browser: Browser, receiver: Receiver) -> str:
    browser.get(PAGE)
    answer = browser.post(PAGE, {"url": receiver.url, "events": "job.completed"})
    assert answer.status_code == 200, answer.text
    found = SECRET.search(answer.text)
    assert found is not None
    receiver.secret = found.group(1)
    return found.group(1)


def test_an_admin_adds_tests_redelivers_pauses_and_deletes(rig: WebRig, receiver: Receiver) -> None:
    admin = signed_in(rig, "admin")
    settings = admin.get("/settings").text
    assert 'id="webhooks"' in settings and 'href="/settings/webhooks"' in settings
    secret = add(admin, receiver)
    page = admin.get(PAGE).text
    assert receiver.url in page and secret not in page, "the secret is shown once"
    (endpoint,) = rig.store.webhook_endpoints(rig.org)
    sent = admin.post(f"{PAGE}/{endpoint.id}/test")
    assert sent.status_code == 303
    assert "The test ping was delivered (HTTP 200)." in admin.get(PAGE).text
    (ping,) = receiver.received
    assert ping.data is not None and ping.event == "ping"
    (logged,) = rig.store.webhook_deliveries(rig.org)
    assert f'data-delivery="{logged.id}"' in admin.get(PAGE).text
    assert admin.post(f"{PAGE}/deliveries/{logged.id}/redeliver").status_code == 303
    assert [r.delivery for r in receiver.received] == [logged.id, logged.id]
    assert admin.post(f"{PAGE}/{endpoint.id}/active", {"active": "off"}).status_code == 303
    assert "paused" in admin.get(PAGE).text
    assert not rig.store.webhook_endpoint(rig.org, endpoint.id).active
    assert admin.post(f"{PAGE}/{endpoint.id}/delete").status_code == 303
    assert rig.store.webhook_endpoints(rig.org) == []


def test_a_refused_url_is_one_sentence_and_nothing_is_added(rig: WebRig) -> None:
    admin = signed_in(rig, "admin")
    admin.get(PAGE)
    answer = admin.post(PAGE, {"url": "ftp://tracker.example/h", "events": "job.failed"})
    assert answer.status_code == 400
    assert 'role="alert"' in answer.text and "only http:// and https://" in answer.text
    assert "Traceback" not in answer.text and rig.store.webhook_endpoints(rig.org) == []
    none = admin.post(PAGE, {"url": "http://127.0.0.1:9/h"})
    assert none.status_code == 400 and "choose one or more" in none.text


def test_viewers_and_forged_forms_are_refused(rig: WebRig, receiver: Receiver) -> None:
    admin = signed_in(rig, "admin")
    add(admin, receiver)
    (endpoint,) = rig.store.webhook_endpoints(rig.org)
    viewer = signed_in(rig, "viewer")
    assert 'id="webhooks"' not in viewer.get("/settings").text
    assert viewer.get(PAGE).status_code == 403
    for path in (PAGE, f"{PAGE}/{endpoint.id}/delete", f"{PAGE}/{endpoint.id}/test"):
        assert viewer.post(path, {"url": receiver.url, "events": "job.failed"}).status_code == 403
    admin.get(PAGE)
    forged = admin.post(f"{PAGE}/{endpoint.id}/delete", csrf=False)
    assert forged.status_code == 403
    assert len(rig.store.webhook_endpoints(rig.org)) == 1 and receiver.received == []


def test_another_organisation_cannot_touch_it(rig: WebRig, receiver: Receiver) -> None:
    admin = signed_in(rig, "admin")
    add(admin, receiver)
    (endpoint,) = rig.store.webhook_endpoints(rig.org)
    admin.post(f"{PAGE}/{endpoint.id}/test")
    (delivery,) = rig.store.webhook_deliveries(rig.org)
    outsider = signed_in(rig, "admin", org=rig.other)
    assert receiver.url not in outsider.get(PAGE).text
    for path in (
        f"{PAGE}/{endpoint.id}/delete",
        f"{PAGE}/{endpoint.id}/test",
        f"{PAGE}/{endpoint.id}/active",
        f"{PAGE}/deliveries/{delivery.id}/redeliver",
    ):
        assert outsider.post(path).status_code == 404, path
    assert len(receiver.received) == 1 and rig.store.webhook_endpoint(rig.org, endpoint.id).active

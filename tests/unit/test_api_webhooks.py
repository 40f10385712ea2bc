"""``/api/qc/webhooks`` in-process on the fake store: admins only, the secret in the creating
answer and never again (stored encrypted), another organisation's endpoint or delivery is
404 on every route, bad input is one sentence, and URLs are checked before anything is
stored (loopback refused without the operator's allow-list, nothing connected to)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kickflow.integrations.webhooks.secrets import rotate_webhook_secrets
from kickflow.security.secrets import SecretBox
from tests.fakes.api import ApiRig, api_rig, error_code, ok

HOOKS = "/api/qc/webhooks"
URL = "http://127.0.0.1:9/hooks"  # never contacted: nothing here sends a delivery


def create(rig: ApiRig, **body: Any) -> dict[str, Any]:
    reply = rig.post(HOOKS, json={"url": URL, "events": ["job.completed"], **body})
    assert reply.status_code == 201, reply.text
    assert reply.headers["cache-control"] == "no-store"
    made: dict[str, Any] = reply.json()
    return made


@pytest.fixture
def rig(tmp_path: Path) -> Any:
    with api_rig(tmp_path, url_allow_networks="127.0.0.0/8", secret_key="k1") as r:
        yield r


def test_the_secret_is_shown_once_and_stored_encrypted(rig: ApiRig) -> None:
    made = create(rig, description="Tracker")
    secret = made["secret"]
    assert secret.startswith("whsec_")
    assert made["events"] == ["job.completed"] and made["active"] and made["url"] == URL
    listed = ok(rig.get(HOOKS))["endpoints"]
    assert [e["id"] for e in listed] == [made["id"]]
    for shown in (listed[0], ok(rig.get(f"{HOOKS}/{made['id']}"))):
        assert "secret" not in shown and secret not in str(shown)
    sealed = rig.store.webhook_secret(rig.org, made["id"])
    assert secret not in sealed
    assert SecretBox.from_settings(rig.store.settings).decrypt(sealed) == secret


def test_admins_only(rig: ApiRig) -> None:
    for role in ("viewer", "member"):
        assert error_code(rig.get(HOOKS, role=role), 403) == "forbidden"
        reply = rig.post(HOOKS, role=role, json={"url": URL, "events": ["job.failed"]})
        assert reply.status_code == 403
    assert rig.get(HOOKS, role=None).status_code == 401


def test_another_organisation_sees_nothing(rig: ApiRig) -> None:
    made = create(rig)
    endpoint_id = made["id"]
    assert ok(rig.get(HOOKS, role="other"))["endpoints"] == []
    calls = [
        ("GET", f"{HOOKS}/{endpoint_id}", None),
        ("PATCH", f"{HOOKS}/{endpoint_id}", {"active": False}),
        ("DELETE", f"{HOOKS}/{endpoint_id}", None),
        ("GET", f"{HOOKS}/{endpoint_id}/deliveries", None),
        ("POST", f"{HOOKS}/{endpoint_id}/test", None),
    ]
    for method, path, body in calls:
        reply = rig.request(method, path, "other", json=body)
        assert error_code(reply, 404) == "webhook_not_found", (method, path)
    rig.store.update_webhook_endpoint(rig.org, endpoint_id, active=False)  # nothing is sent
    ping = ok(rig.post(f"{HOOKS}/{endpoint_id}/test"))
    reply = rig.post(f"{HOOKS}/deliveries/{ping['id']}/redeliver", role="other")
    assert error_code(reply, 404) == "webhook_delivery_not_found"
    assert rig.store.webhook_endpoint(rig.org, endpoint_id).active is False


def test_update_and_delete(rig: ApiRig) -> None:
    made = create(rig)
    path = f"{HOOKS}/{made['id']}"
    changed = rig.request("PATCH", path, json={"events": ["job.failed", "job.completed"]})
    assert ok(changed)["events"] == ["job.completed", "job.failed"]
    assert ok(rig.request("PATCH", path, json={"active": False}))["active"] is False
    assert rig.request("DELETE", path).status_code == 204
    assert error_code(rig.request("DELETE", path), 404) == "webhook_not_found"


@pytest.mark.parametrize(
    ("body", "code", "words"),
    [
        ({"url": URL, "events": ["job.started"]}, "webhook_events_invalid", "choose one or more"),
        ({"url": "ftp://r.example/h", "events": ["job.failed"]}, "url_refused", "http"),
        ({"url": URL, "events": ["job.failed"], "secret": "mine"}, "validation_error", ""),
        ({"url": URL, "events": []}, "validation_error", ""),
    ],
)
def test_bad_input_is_one_sentence(
    rig: ApiRig, body: dict[str, Any], code: str, words: str
) -> None:
    reply = rig.post(HOOKS, json=body)
    assert 400 <= reply.status_code < 500, reply.text
    error = reply.json()["error"]
    assert error["code"] == code and words in error["message"]
    assert rig.store.webhook_endpoints(rig.org) == []


def test_loopback_is_refused_without_the_allow_list(tmp_path: Path) -> None:
    with api_rig(tmp_path, secret_key="k1") as rig:
        reply = rig.post(HOOKS, json={"url": URL, "events": ["job.completed"]})
        assert error_code(reply, 400) == "url_refused"
        assert "loopback" in reply.json()["error"]["message"]
        assert rig.store.webhook_endpoints(rig.org) == []


def test_rotation_re_encrypts_every_secret_under_the_first_key(tmp_path: Path) -> None:
    with api_rig(tmp_path, url_allow_networks="127.0.0.0/8", secret_key="k1") as rig:
        secret = create(rig)["secret"]
        endpoint_id = rig.store.webhook_endpoints(rig.org)[0].id
        rotated = SecretBox.from_settings(
            rig.store.settings.model_copy(update={"secret_key": "k2,k1"})
        )
        assert rotate_webhook_secrets(rig.store, rotated) == 1
        assert rotate_webhook_secrets(rig.store, rotated) == 0, "already under the first key"
        sealed = rig.store.webhook_secret(rig.org, endpoint_id)
        only_new = SecretBox.from_settings(
            rig.store.settings.model_copy(update={"secret_key": "k2"})
        )
        assert only_new.decrypt(sealed) == secret

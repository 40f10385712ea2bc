"""Artefacts over HTTP, in-process on the fake store: the worker's fenced PUT and the readers'
GET (tenant-scoped, only names the report lists, with the right headers)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from kickflow.errors import StoredObjectMissing
from kickflow.jobs import Job
from kickflow.worker import protocol as wire
from tests.fakes.api import WORKER_PREFIX, ApiRig, api_rig, error_code

JPEG = b"\xff\xd8\xff\xe0 a small picture"
NAME = "a1-abcdef-thumb-00.jpg"


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[ApiRig]:
    with api_rig(tmp_path) as r:
        yield r


def claimed(rig: ApiRig) -> dict[str, Any]:
    """A job claimed over the protocol; its wire lease."""
    rig.add()
    reply = rig.worker("claim", {"worker_id": "w1"})
    lease: dict[str, Any] = reply.json()["claimed"][0]["lease"]
    return lease


def put(
    rig: ApiRig, lease: dict[str, Any], name: str = NAME, data: Any = JPEG, job: str = ""
) -> httpx.Response:
    encoded = base64.b64encode(data).decode() if isinstance(data, bytes) else data
    body = {"lease": lease, "data": encoded}
    headers = {wire.VERSION_HEADER: str(wire.VERSION)}
    path = f"{WORKER_PREFIX}/leases/{job or lease['job_id']}/artifacts/{name}"
    return rig.request("PUT", path, "worker", json=body, headers=headers)


def stored(rig: ApiRig, job_id: str, name: str = NAME) -> bytes | None:
    try:
        return rig.services.storage.read_artifact(f"artifacts/{rig.org}/{job_id}/{name}")
    except StoredObjectMissing:
        return None


# --- the worker's PUT -------------------------------------------------------------------------


def test_a_live_lease_stores_its_attempts_artefact(rig: ApiRig) -> None:
    lease = claimed(rig)
    reply = put(rig, lease)
    assert reply.status_code == 200, reply.text
    assert reply.json() == {"stored": NAME, "bytes": len(JPEG)}
    assert stored(rig, lease["job_id"]) == JPEG
    assert put(rig, lease).status_code == 200, "storing it again is harmless"


def test_a_lost_lease_is_refused_and_nothing_is_stored(rig: ApiRig) -> None:
    lease = claimed(rig)
    assert error_code(put(rig, lease | {"token": "f" * 32}), 409) == "lease_lost"
    rig.store.edit(lease["job_id"], lease_token="another-claim")
    assert error_code(put(rig, lease), 409) == "lease_lost"
    assert stored(rig, lease["job_id"]) is None


def test_a_finished_job_takes_no_more_artefacts(rig: ApiRig) -> None:
    lease = claimed(rig)
    done = rig.worker("leases/complete", {"lease": lease, "verdict": "passed", "report": {}})
    assert done.status_code == 200, done.text
    assert error_code(put(rig, lease), 409) == "lease_lost"


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("a2-abcdef-thumb-00.jpg", "attempt 2"),  # another attempt's name
        ("thumb.jpg", "expected"),
        ("a1-abcdef-thumb-00.png", "expected"),
        ("..", "expected"),
    ],
)
def test_only_the_leases_own_attempt_names_are_accepted(rig: ApiRig, name: str, why: str) -> None:
    lease = claimed(rig)
    reply = put(rig, lease, name)
    assert reply.status_code in (400, 404, 405), reply.text
    if reply.status_code == 400:
        assert why in reply.json()["error"]["message"]


def test_bad_bodies_are_refused(rig: ApiRig) -> None:
    lease = claimed(rig)
    assert error_code(put(rig, lease, data="not base64!"), 400) == "invalid_request"
    other = rig.add("b.mov")
    assert error_code(put(rig, lease, job=other.id), 400) == "invalid_request"
    too_big = b"x" * (1024 * 1024 + 1)
    assert put(rig, lease, data=too_big).status_code in (400, 422)
    assert stored(rig, lease["job_id"]) is None


def test_only_a_worker_token_may_store_artefacts(rig: ApiRig) -> None:
    lease = claimed(rig)
    headers = {wire.VERSION_HEADER: str(wire.VERSION)}
    path = f"{WORKER_PREFIX}/leases/{lease['job_id']}/artifacts/{NAME}"
    body = {"lease": lease, "data": base64.b64encode(JPEG).decode()}
    reply = rig.request("PUT", path, "admin", json=body, headers=headers)
    assert error_code(reply, 403) == "forbidden"


# --- reading them -----------------------------------------------------------------------------


def with_thumbnail(rig: ApiRig, org: str | None = None) -> Job:
    """A completed job whose report lists one stored thumbnail."""
    job = rig.add(org=org)
    report = {"verdict": "failed", "findings": [], "artifacts": [{"name": NAME}]}
    rig.store.edit(job.id, report=report)
    rig.services.storage.put_artifact(job.org_id, job.id, NAME, JPEG)
    return job


def test_a_viewer_reads_a_listed_artefact_with_safe_headers(rig: ApiRig) -> None:
    job = with_thumbnail(rig)
    reply = rig.get(f"/api/qc/jobs/{job.id}/artifacts/{NAME}", role="viewer")
    assert reply.status_code == 200 and reply.content == JPEG
    assert reply.headers["content-type"] == "image/jpeg"
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["cache-control"].startswith("private, max-age=")


def test_another_organisations_artefact_is_not_found(rig: ApiRig) -> None:
    job = with_thumbnail(rig)
    reply = rig.get(f"/api/qc/jobs/{job.id}/artifacts/{NAME}", role="other")
    assert error_code(reply, 404) == "job_not_found"


@pytest.mark.parametrize(
    "name",
    [
        "a1-abcdef-thumb-01.jpg",  # well-formed, not listed
        "..%2F..%2Fuploads%2Fsecret",
        "%2E%2E",
        "a1-abcdef-thumb-00.jpg%00",
        ".sha256",
    ],
)
def test_names_the_report_does_not_list_are_not_found(rig: ApiRig, name: str) -> None:
    job = with_thumbnail(rig)
    reply = rig.get(f"/api/qc/jobs/{job.id}/artifacts/{name}", role="viewer")
    assert reply.status_code == 404, reply.text


def test_a_listed_artefact_missing_from_storage_is_not_found(rig: ApiRig) -> None:
    job = with_thumbnail(rig)
    rig.services.storage.remove_job_artifacts(job.org_id, job.id)
    reply = rig.get(f"/api/qc/jobs/{job.id}/artifacts/{NAME}", role="viewer")
    assert reply.status_code == 404


def test_no_token_no_artefact(rig: ApiRig) -> None:
    job = with_thumbnail(rig)
    assert rig.get(f"/api/qc/jobs/{job.id}/artifacts/{NAME}", role=None).status_code == 401
    reply = rig.get(f"/api/qc/jobs/{job.id}/artifacts/{NAME}", role="worker")
    assert reply.status_code == 403


def test_the_route_is_documented_in_openapi(rig: ApiRig) -> None:
    paths = rig.get("/openapi.json", role=None).json()["paths"]
    get = paths["/api/qc/jobs/{job_id}/artifacts/{name}"]["get"]
    assert "image/jpeg" in get["responses"]["200"]["content"]
    assert "404" in get["responses"]
    assert "put" in paths[f"{WORKER_PREFIX}/leases/{{job_id}}/artifacts/{{name}}"]

"""``kickflow serve`` with KICKFLOW_STORAGE=s3 against a real SeaweedFS: an upload goes to the
bucket (nothing on the service's disk), the embedded worker fetches it from there and completes
the job, and deleting the job deletes the object. With the object store unreachable an upload
answers 503 ``storage_error`` and queues nothing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.fixtures_s3 import S3Bucket
from tests.fixtures_server import free_port, start_server, wait_for

JOBS = "/api/qc/jobs"


def health(url: str) -> dict[str, Any]:
    reply = httpx.get(f"{url}/api/health/full", timeout=30)
    assert reply.status_code == 200
    return dict(reply.json())


def test_an_upload_is_kept_in_the_bucket_checked_and_deleted(
    s3_bucket: S3Bucket,
    short_clip: Path,
    tmp_path: Path,
    empty_database_url: Callable[[str], str],
) -> None:
    server = start_server(tmp_path, empty_database_url("sqlite"), workers=1, env=s3_bucket.env())
    try:
        with server.client() as api:
            reply = api.post(JOBS, files={"file": ("short clip.mp4", short_clip.read_bytes())})
            assert reply.status_code == 201, reply.text
            job_id = reply.json()["id"]
            keys = s3_bucket.keys()
            assert len(keys) == 2 and keys[0].endswith("/short clip.mp4"), keys
            assert keys[1] == keys[0] + ".sha256"
            assert server.uploads() == []  # nothing on the service's own disk

            def finished() -> dict[str, Any] | None:
                body = dict(api.get(f"{JOBS}/{job_id}").json())
                return body if body["state"] in {"completed", "failed"} else None

            done = wait_for(finished, 180, "the job to finish")
            assert done["state"] == "completed", done
            assert api.get(f"{JOBS}/{job_id}/report").json()["verdict"]
            storage = health(server.url)["storage"]
            assert storage["status"] == "ok" and storage["details"]["kind"] == "s3"

            assert api.delete(f"{JOBS}/{job_id}").status_code == 200
            assert s3_bucket.keys() == []
    finally:
        server.stop()


def test_an_upload_while_the_object_store_is_unreachable_is_a_503(
    s3_bucket: S3Bucket,
    tmp_path: Path,
    empty_database_url: Callable[[str], str],
) -> None:
    dead = {**s3_bucket.env(), "KICKFLOW_S3_ENDPOINT_URL": f"http://127.0.0.1:{free_port()}"}
    server = start_server(tmp_path, empty_database_url("sqlite"), env=dead)
    try:
        with server.client() as api:
            reply = api.post(JOBS, files={"file": ("clip.mp4", b"\x00" * 4096)})
            assert reply.status_code == 503, reply.text
            error = reply.json()["error"]
            assert error["code"] == "storage_error"
            assert "127.0.0.1" not in error["message"] and "Traceback" not in reply.text
            assert api.get(JOBS).json()["jobs"] == []
        storage = health(server.url)["storage"]
        assert storage["status"] == "error" and "unreachable" in storage["message"]
    finally:
        server.stop()

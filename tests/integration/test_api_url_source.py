"""``POST /api/qc/jobs`` with a ``url`` source, in-process on the fake store against a real
loopback server: an allowed URL is inspected and queued (its query, which may be a signature,
kept out of the job's view); loopback without the operator's allow-list is refused in one
sentence with nothing queued; a web page is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes.api import ApiRig, api_rig
from tests.integration.test_url_source import Loopback, Route

JOBS = "/api/qc/jobs"
MEDIA = b"\x00\x00\x00\x18ftypqt  " + bytes(range(256)) * 64


@pytest.fixture
def server() -> Iterator[Loopback]:
    srv = Loopback()
    srv.routes["/EP01.mov"] = Route(200, {"Content-Type": "video/quicktime"}, MEDIA)
    srv.routes["/page"] = Route(200, {"Content-Type": "text/html; charset=utf-8"}, b"<html>")
    yield srv
    srv.stop()


def submit(rig: ApiRig, url: str) -> tuple[int, dict[str, object]]:
    reply = rig.post(JOBS, role="member", json={"source": {"type": "url", "url": url}})
    return reply.status_code, reply.json()


def test_an_allowed_url_is_queued_and_shown_without_its_query(
    tmp_path: Path, server: Loopback
) -> None:
    with api_rig(tmp_path, url_allow_networks="127.0.0.0/8") as rig:
        status, body = submit(rig, server.url("/EP01.mov?sig=secret"))
        assert status == 201, body
        job = rig.store.get(rig.org, str(body["id"]))
        assert (job.source_type, job.file_name, job.file_size) == ("url", "EP01.mov", len(MEDIA))
        view = rig.get(f"{JOBS}/{job.id}", role="viewer").json()["source"]
        assert view == {"type": "url", "url": server.url("/EP01.mov") + "?…"}


def test_loopback_is_refused_without_the_allow_list(tmp_path: Path, server: Loopback) -> None:
    with api_rig(tmp_path) as rig:
        status, body = submit(rig, server.url("/EP01.mov"))
        assert 400 <= status < 500, body
        message = str(body["error"]["message"])  # type: ignore[index]
        assert "127.0.0.1" in message or "loopback" in message.lower(), message
        assert rig.store.list_jobs(rig.org).jobs == []
        assert server.seen == []  # refused before any connection


def test_a_web_page_is_refused(tmp_path: Path, server: Loopback) -> None:
    with api_rig(tmp_path, url_allow_networks="127.0.0.0/8") as rig:
        status, body = submit(rig, server.url("/page"))
        assert 400 <= status < 500, body
        assert "web page" in str(body["error"]["message"])  # type: ignore[index]

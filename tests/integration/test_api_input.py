"""Bad input against a real server: every refusal is a 4xx in the one error shape, with a
clear message, and nothing is written (no job, no stored file)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.fixtures_server import Server

JOBS = "/api/qc/jobs"


def assert_error(reply: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    assert reply.status_code == status, reply.text
    body = reply.json()
    assert set(body) == {"error"}, body
    assert set(body["error"]) == {"code", "message"}, body
    assert body["error"]["message"]
    if code:
        assert body["error"]["code"] == code, body
    return dict(body["error"])


def nothing_written(server: Server) -> None:
    assert server.uploads() == []
    with server.client() as c:
        assert c.get(JOBS).json()["jobs"] == []


@pytest.fixture
def server(api_server: Server) -> Server:
    with api_server.client() as c:  # each test starts without jobs
        for job in c.get(JOBS, params={"limit": 200}).json()["jobs"]:
            c.delete(f"{JOBS}/{job['id']}")
    return api_server


def test_missing_and_bad_tokens_are_401(server: Server) -> None:
    with server.client(token="") as c:
        assert_error(c.get(JOBS), 401, "unauthorized")
    with server.client(token="kf_not-a-token") as c:
        err = assert_error(c.get(JOBS), 401, "unauthorized")
    assert "invalid" in err["message"]
    reply = httpx.get(server.url + JOBS, headers={"Authorization": "Basic YTpi"})
    assert_error(reply, 401)


def test_unknown_route_and_method(server: Server) -> None:
    with server.client() as c:
        assert_error(c.get("/api/qc/nope"), 404, "not_found")
        assert_error(c.put(JOBS, json={}), 405, "method_not_allowed")
        assert_error(c.get(f"{JOBS}/00000000-0000-0000-0000-000000000000"), 404, "job_not_found")


def test_malformed_json(server: Server) -> None:
    with server.client() as c:
        reply = c.post(JOBS, content=b'{"source": ', headers={"Content-Type": "application/json"})
    err = assert_error(reply, 400, "malformed_json")
    assert "JSON" in err["message"]
    nothing_written(server)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"source": {"type": "path", "path": "/x"}, "colour": "red"}, "colour"),
        ({"source": {"type": "path", "path": "/x", "extra": 1}}, "source.path.extra"),
        ({"source": {"type": "ftp", "url": "ftp://media.invalid/a.mov"}}, "source"),
        ({}, "source"),
        ({"source": {"type": "path", "path": "/x"}, "priority": "high"}, "priority"),
        ({"source": {"type": "path", "path": "/x"}, "priority": 1000}, "priority"),
    ],
)
def test_validation_errors_name_the_field(server: Server, body: dict[str, Any], field: str) -> None:
    with server.client() as c:
        err = assert_error(c.post(JOBS, json=body), 422, "validation_error")
    assert field.split(".", maxsplit=1)[0] in err["message"], err
    nothing_written(server)


def test_wrong_content_types_are_415(server: Server) -> None:
    with server.client() as c:
        err = assert_error(
            c.post(JOBS, content=b"hello", headers={"Content-Type": "text/plain"}), 415
        )
        assert "application/json" in err["message"]
        assert_error(
            c.post(
                "/api/qc/cancel",
                content=b"jobId=1",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            ),
            415,
        )
        assert_error(c.post("/api/qc/cancel", files={"file": ("a.mov", b"x")}), 415)
    nothing_written(server)


def test_huge_json_body_is_413(server: Server) -> None:
    body = b'{"source": {"type": "path", "path": "' + b"a" * (2 * 1024 * 1024) + b'"}}'
    with server.client() as c:
        assert_error(c.post(JOBS, content=body, headers={"Content-Type": "application/json"}), 413)
    nothing_written(server)


def test_huge_chunked_json_body_is_413(server: Server) -> None:
    def chunks() -> Any:
        yield b'{"source": {"type": "path", "path": "'
        for _ in range(40):
            yield b"a" * 65536
        yield b'"}}'

    with server.client() as c:
        reply = c.post(JOBS, content=chunks(), headers={"Content-Type": "application/json"})
    assert_error(reply, 413)
    nothing_written(server)


def test_upload_over_the_limit_is_413_and_leaves_nothing(server: Server) -> None:
    big = b"\0" * (3 * 1024 * 1024)  # KICKFLOW_MAX_UPLOAD_MB=2 in the test server
    with server.client() as c:
        reply = c.post(
            JOBS, files=[("file", ("small.mov", b"x" * 100)), ("file", ("big.mov", big))]
        )
    assert_error(reply, 413)
    nothing_written(server)


@pytest.mark.parametrize(
    "name",
    ["../escape.mov", "..", "/etc/cron.d/evil", "a/b.mov", ".hidden"],
)
def test_unsafe_upload_names_are_refused(server: Server, name: str) -> None:
    with server.client() as c:
        reply = c.post(JOBS, files=[("file", ("good.mov", b"x" * 10)), ("file", (name, b"y" * 10))])
    err = assert_error(reply, 400, "unsafe_file_name")
    assert "refused" in err["message"]
    nothing_written(server)


def raw_multipart(filename: bytes, content: bytes) -> tuple[bytes, str]:
    """A multipart body with the file name bytes exactly as given (httpx would escape them)."""
    boundary = "kickflowtestboundary"
    body = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="'.encode()
        + filename
        + b'"\r\nContent-Type: application/octet-stream\r\n\r\n'
        + content
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


@pytest.mark.parametrize(
    "raw", [b"nul\x00byte.mov", b"../../etc/x", b"bad\xffutf8.mov", b"tab\there.mov"]
)
def test_raw_unsafe_names_are_refused(server: Server, raw: bytes) -> None:
    body, content_type = raw_multipart(raw, b"data")
    with server.client() as c:
        reply = c.post(JOBS, content=body, headers={"Content-Type": content_type})
    assert_error(reply, 400)
    nothing_written(server)


def test_windows_paths_keep_only_the_file_name(server: Server) -> None:
    # python-multipart strips old browsers' full Windows paths down to the base name.
    with server.client() as c:
        reply = c.post(JOBS, files={"file": ("C:\\temp\\x.mov", b"x")})
        assert reply.status_code == 201, reply.text
        assert reply.json()["fileName"] == "x.mov"
        assert [p.name for p in server.uploads()] == ["x.mov"]
        c.delete(f"{JOBS}/{reply.json()['id']}")
    nothing_written(server)


def test_upload_without_a_file_or_with_unknown_fields(server: Server) -> None:
    with server.client() as c:
        err = assert_error(
            c.post(JOBS, data={"profile": "web"}, files={"other": ("a.mov", b"x")}), 400
        )
        assert "file" in err["message"]
        err = assert_error(
            c.post(JOBS, data={"colour": "red"}, files={"file": ("a.mov", b"x")}), 422
        )
        assert "colour" in err["message"]
        err = assert_error(
            c.post(JOBS, data={"profile": "/etc/passwd"}, files={"file": ("a.mov", b"x")}), 400
        )
        assert "profile" in err["message"]
    nothing_written(server)


def test_path_sources_outside_the_allowed_roots(server: Server, tmp_path: Any) -> None:
    outside = tmp_path / "outside.mov"
    outside.write_bytes(b"x")
    escape = f"{server.media_root}/../{outside.name}"
    with server.client() as c:
        for path in [str(outside), escape, "/etc/passwd", "relative.mov"]:
            err = assert_error(c.post(JOBS, json={"source": {"type": "path", "path": path}}), 400)
            assert "allowed roots" in err["message"], err
        err = assert_error(
            c.post(
                JOBS, json={"source": {"type": "path", "path": f"{server.media_root}/missing.mov"}}
            ),
            400,
        )
        assert "not found" in err["message"]
        err = assert_error(c.post(JOBS, json={"source": {"type": "path", "path": "a\x00b"}}), 422)
        assert "source.path" in err["message"] and "not allowed" in err["message"]
    nothing_written(server)


def test_bad_query_parameters(server: Server) -> None:
    with server.client() as c:
        err = assert_error(c.get(JOBS, params={"state": "exploded"}), 422)
        assert "state" in err["message"]
        assert_error(c.get(JOBS, params={"limit": 0}), 422)
        assert_error(c.get(JOBS, params={"cursor": "!!!"}), 422)
        assert_error(c.get(JOBS, params={"cursor": "bm90LWpzb24="}), 400)
        assert_error(c.get("/api/qc/progress"), 400)
        assert_error(c.get(f"{JOBS}/x/report", params={"format": "docx"}), 422)

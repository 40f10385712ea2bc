"""The PDF report against a real server (SQLite and PostgreSQL): ``?format=pdf`` on the report
route with the job's own thumbnail, scoped to the caller's organisation; and
``kickflow check --pdf`` on a real clip."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pypdf
import pytest
import typer
from typer.testing import CliRunner

from kickflow.cli import check as check_cli
from kickflow.cli import errors as cli_errors
from kickflow.config import Settings, get_settings
from kickflow.jobs import SqlJobStore
from kickflow.storage import open_storage
from tests.fixtures_server import Server
from tests.unit.test_report_pdf import THUMB, images_in, jpeg, with_thumbnail
from tests.unit.test_report_render import report_dict

JOBS = "/api/qc/jobs"


def submit(server: Server, name: str) -> str:
    media = server.media_root / name
    media.write_bytes(b"not really media")
    with server.client() as api:
        reply = api.post(JOBS, json={"source": {"type": "path", "path": str(media)}})
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


@pytest.fixture(scope="module")
def jobs(api_server: Server) -> Iterator[dict[str, str]]:
    """A completed job whose report names a stored thumbnail, and a queued one."""
    done, queued = submit(api_server, "Épisode 7 final.mov"), submit(api_server, "later.mov")
    settings = Settings.model_validate(
        {"database_url": api_server.db_url, "data_dir": api_server.data_dir, "storage": "local"}
    )
    store = SqlJobStore(api_server.db_url, settings)
    try:
        (claimed,) = store.claim("test-worker")
        assert claimed.job.id == done
        open_storage(settings).put_artifact(claimed.job.org_id, done, THUMB, jpeg())
        store.complete(claimed.lease, "failed", with_thumbnail(report_dict()))
    finally:
        store.close()
    yield {"done": done, "queued": queued}


def test_a_completed_jobs_report_is_a_pdf_with_its_thumbnail(
    api_server: Server, jobs: dict[str, str]
) -> None:
    viewer = api_server.token_for("local", "viewer")
    with api_server.client(viewer) as api:
        reply = api.get(f"{JOBS}/{jobs['done']}/report", params={"format": "pdf"})
    assert reply.status_code == 200, reply.text
    assert reply.headers["content-type"] == "application/pdf"
    assert reply.content.startswith(b"%PDF-")
    disposition = reply.headers["content-disposition"]
    assert disposition.startswith('attachment; filename="Episode_7_final-qc.pdf"; filename*=')
    text = pypdf.PdfReader(io.BytesIO(reply.content)).pages[0].extract_text()
    assert "FAILED" in text and "Page 1 of" in text
    assert images_in(reply.content) == 1, "the thumbnail, read from the job's own artefacts"


def test_another_organisations_job_is_not_found(api_server: Server, jobs: dict[str, str]) -> None:
    with api_server.client(api_server.token_for("org-b", "admin")) as other:
        reply = other.get(f"{JOBS}/{jobs['done']}/report", params={"format": "pdf"})
    assert reply.status_code == 404
    assert reply.json()["error"]["code"] == "job_not_found"
    assert not reply.content.startswith(b"%PDF")


def test_an_unknown_format_or_no_report_yet_is_one_sentence(
    api_server: Server, jobs: dict[str, str]
) -> None:
    with api_server.client() as api:
        unknown = api.get(f"{JOBS}/{jobs['done']}/report", params={"format": "docx"})
        early = api.get(f"{JOBS}/{jobs['queued']}/report", params={"format": "pdf"})
    assert unknown.status_code == 422
    error = unknown.json()["error"]
    assert error["code"] == "validation_error" and "format" in error["message"]
    assert "'pdf'" in error["message"], "the message names the formats there are"
    assert early.status_code == 409
    assert early.json()["error"]["code"] == "report_not_ready"


def test_no_token_no_pdf(api_server: Server, jobs: dict[str, str]) -> None:
    reply = httpx.get(f"{api_server.url}{JOBS}/{jobs['done']}/report?format=pdf", timeout=30)
    assert reply.status_code == 401


# --- kickflow check --pdf ---------------------------------------------------------------------


@pytest.fixture
def cli_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in [k for k in os.environ if k.startswith("KICKFLOW_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("KICKFLOW_DATA_DIR", str(tmp_path / "data"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run_check(*args: str) -> int:
    """``kickflow check`` in-process under the CLI's one error handler; its exit code."""
    app = typer.Typer(pretty_exceptions_enable=False)
    check_cli.register(app)
    try:
        with cli_errors.handled(verbose=False):
            result = CliRunner().invoke(app, ["check", *args], catch_exceptions=False)
    except SystemExit as exited:
        return int(exited.code or 0)
    return result.exit_code


@pytest.mark.usefixtures("cli_settings")
def test_check_writes_a_pdf_of_a_real_clip(
    short_clip: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "short-qc.pdf"
    assert run_check(str(short_clip), "--pdf", str(target)) in (0, 1)
    reader = pypdf.PdfReader(target)
    text = reader.pages[0].extract_text()
    assert "short.mp4" in text and "Page 1 of" in text
    assert images_in(target.read_bytes()) == 0, "a local check keeps no thumbnails"
    missing = tmp_path / "nowhere" / "out.pdf"
    assert run_check(str(short_clip), "--pdf", str(missing)) == 2
    err = capsys.readouterr().err
    assert "cannot write the PDF report" in err and "Traceback" not in err
    assert not missing.parent.exists()

"""The job page in-process on the fake store: completed, failed and running jobs, the
pictures and level strips of findings, the plots, the history, what to do next, the Retry and
Cancel buttons with their role and CSRF checks, and tenant scoping of the page and its
pictures."""

from __future__ import annotations

import inspect
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kickflow import errors
from kickflow.config import Settings
from kickflow.jobs import Job, JobState
from kickflow.web.next_steps import REQUEST_CODES, STEPS, next_step
from kickflow.worker.thumbnails import plan_shots, with_pictures
from tests.fakes.web import Browser, WebRig, web_rig
from tests.unit.test_report_render import report_dict
from tests.web_helpers import signed_in

JPEG = b"\xff\xd8\xff\xe0 picture"


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[WebRig]:
    with web_rig(tmp_path) as r:
        yield r


@pytest.fixture
def member(rig: WebRig) -> Browser:
    return signed_in(rig, "member")


@pytest.fixture
def viewer(rig: WebRig) -> Browser:
    return signed_in(rig, "viewer")


def running(rig: WebRig, name: str = "take.mov", progress: float = 62.0) -> Job:
    job = rig.api.add(name)
    [claimed] = [c for c in rig.store.claim("w1", limit=10) if c.job.id == job.id]
    rig.store.heartbeat(claimed.lease, progress, "analyzing")
    return rig.store.get(None, job.id)


def completed(rig: WebRig, report: dict[str, Any] | None = None) -> Job:
    job = rig.api.add("episode.mxf")
    [claimed] = [c for c in rig.store.claim("w1", limit=10) if c.job.id == job.id]
    data = report if report is not None else pictured_report(rig, job)
    return rig.store.complete(claimed.lease, str(data.get("verdict", "passed")), data)


def pictured_report(rig: WebRig, job: Job) -> dict[str, Any]:
    """The renderers' sample report (black at 10 s, silence at 30 s, freeze at 40 s), with
    stored pictures of its two video findings."""
    report = report_dict("episode.mxf")
    shots = plan_shots(report["findings"], frame_s=0.04, duration_s=60.0, cap=24)
    names = [f"a1-abcdef-thumb-{k:02d}.jpg" for k in range(len(shots.times))]
    for name in names:
        rig.api.services.storage.put_artifact(job.org_id, job.id, name, JPEG)
    return with_pictures(report, shots, names, [JPEG] * len(names))


def failed(rig: WebRig, code: str = "not_media", message: str = "take.mov: not media") -> Job:
    job = rig.api.add("take.mov")
    [claimed] = [c for c in rig.store.claim("w1", limit=10) if c.job.id == job.id]
    return rig.store.fail(claimed.lease, code, message, permanent=True)


def part(page: str, name: str) -> str:
    found = re.search(rf'<div data-part="{name}">(.*?)</div>\s*(?=<div data-part|</article>)',
                      page, re.S)  # fmt: skip
    assert found is not None, f"no {name} part"
    return found.group(1)


# --- a completed job --------------------------------------------------------------------------


def test_a_completed_report_shows_everything(rig: WebRig, viewer: Browser) -> None:
    job = completed(rig)
    answer = viewer.get(f"/jobs/{job.id}")
    assert answer.status_code == 200
    page = answer.text
    assert '<h1 id="verdict-title">FAILED</h1>' in page and "verdict-failed" in page
    assert "episode.mxf" in page and "ebu-r128" in page
    for label in ("Loudness", "Sample peak", "Levels", "Decode errors"):
        assert f'<th scope="row">{label}</th>' in page, label
    assert "LRA 6.0 LU" in page and "true peak -0.2 dBTP" in page
    assert "00:00:10:00–00:00:12:00" in page, "timecodes start–end"
    pictures = re.findall(r'<img class="thumbnail" src="([^"]+)" alt="([^"]+)"', page)
    assert [src for src, _ in pictures] == [
        f"/jobs/{job.id}/artifacts/a1-abcdef-thumb-00.jpg",
        f"/jobs/{job.id}/artifacts/a1-abcdef-thumb-01.jpg",
    ]
    assert pictures[0][1] == "Frame at 00:00:10:00"
    strips = re.findall(r'<svg[^>]*class="level-strip".*?</svg>', page, re.S)
    assert len(strips) == 1, "the silence finding has a level strip"
    strip = ET.fromstring(strips[0])
    assert strip.get("aria-label") == "Loudness from 25.0 s to 38.0 s"
    assert "target -23 LUFS" in ET.tostring(strip, encoding="unicode")
    assert 'aria-label="Findings over the file&#x27;s duration"' in page
    assert 'aria-label="Loudness curve"' in page
    for fmt in ("json", "html", "csv"):
        assert f'href="/api/qc/jobs/{job.id}/report?format={fmt}"' in page
    assert "Attempt started" in page and "verdict failed" in page, "the history"
    assert "What to do next" not in page
    assert "<script>" not in page and "style=" not in page, "nothing the CSP would block"


def test_a_viewer_gets_no_buttons_and_a_member_gets_reprocess(
    rig: WebRig, viewer: Browser, member: Browser
) -> None:
    job = completed(rig)
    assert "/retry" not in viewer.get(f"/jobs/{job.id}").text
    page = member.get(f"/jobs/{job.id}").text
    assert f'action="/jobs/{job.id}/retry"' in page and ">Reprocess</button>" in page
    assert f'action="/jobs/{job.id}/cancel"' not in page, "nothing to cancel"


def test_the_pictures_are_served_to_the_organisation_only(rig: WebRig, viewer: Browser) -> None:
    job = completed(rig)
    url = f"/jobs/{job.id}/artifacts/a1-abcdef-thumb-00.jpg"
    answer = viewer.get(url)
    assert answer.status_code == 200 and answer.content == JPEG
    assert answer.headers["content-type"] == "image/jpeg"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["cache-control"].startswith("private, max-age=")
    outsider = signed_in(rig, "admin", org=rig.other)
    assert outsider.get(url).status_code == 404
    for name in ("a1-abcdef-thumb-09.jpg", "..%2F..%2Fsecret", "%2E%2E", ".sha256"):
        assert viewer.get(f"/jobs/{job.id}/artifacts/{name}").status_code == 404, name
    signed_out = rig.browser().get(url)
    assert signed_out.status_code == 303 and signed_out.headers["location"].startswith("/login")


def test_missing_pictures_say_why(rig: WebRig, viewer: Browser) -> None:
    report = report_dict() | {
        "thumbnails": {"status": "unavailable", "count": 0, "wanted": 2,
                       "message": "thumbnails unavailable: FFmpeg exited with code 1"},
    }  # fmt: skip
    job = completed(rig, report)
    page = viewer.get(f"/jobs/{job.id}").text
    assert "thumbnails unavailable: FFmpeg exited with code 1." in page
    assert 'class="thumbnail"' not in page


def test_a_report_in_another_shape_is_offered_for_download(rig: WebRig, viewer: Browser) -> None:
    job = completed(rig, {"verdict": "passed", "file": "x"})
    answer = viewer.get(f"/jobs/{job.id}")
    assert answer.status_code == 200
    assert "not in a shape the page can show" in answer.text
    assert f'href="/api/qc/jobs/{job.id}/report?format=json"' in answer.text


def test_another_organisations_job_is_the_not_found_page(rig: WebRig) -> None:
    job = completed(rig)
    outsider = signed_in(rig, "admin", org=rig.other)
    answer = outsider.get(f"/jobs/{job.id}")
    assert answer.status_code == 404 and "episode.mxf" not in answer.text
    assert answer.headers["content-type"].startswith("text/html")


# --- a failed job -----------------------------------------------------------------------------


def test_a_failed_job_says_what_to_do_next(rig: WebRig, member: Browser) -> None:
    job = failed(rig)
    page = member.get(f"/jobs/{job.id}").text
    assert "What to do next" in page
    assert "This file has no audio or video stream KickFlow can read." in page
    assert "re-deliver" in page and "take.mov: not media" in page and "not_media" in page
    assert "The job failed" in page
    assert f'action="/jobs/{job.id}/retry"' in page and ">Retry</button>" in page


def test_every_error_code_has_plain_words() -> None:
    codes = {
        cls.code
        for _, cls in inspect.getmembers(errors, inspect.isclass)
        if issubclass(cls, errors.KickflowError)
    }
    codes |= {"lease_expired", "no_progress", "internal_error", "cancelled_stuck", "worker_refused"}
    missing = sorted(codes - set(STEPS))
    assert not missing, f"no advice for {missing}: add them to kickflow/web/next_steps.py"
    settings = Settings(max_file_mb=500)
    for code in codes:
        step = next_step(code, settings)
        assert step.what.endswith(".") and step.advice.endswith("."), code
        assert "{" not in step.what + step.advice, code
    assert "at most 500 MB per file" in next_step("file_too_large", settings).what
    assert next_step("ffmpeg_stalled", settings).retry_helps
    assert not next_step("not_media", settings).retry_helps
    assert "upload" in next_step("source_not_allowed", settings).advice
    assert set(REQUEST_CODES) <= codes, "request codes still exist"


def test_an_unknown_code_still_gets_advice() -> None:
    step = next_step("from_a_future_release", Settings())
    assert "Press Retry" in step.advice


# --- a running job ----------------------------------------------------------------------------


def test_a_running_job_shows_live_progress_and_cancel(rig: WebRig, member: Browser) -> None:
    job = running(rig)
    page = member.get(f"/jobs/{job.id}").text
    assert f'data-job-id="{job.id}"' in page and 'data-state="running"' in page
    banner = part(page, "banner")
    assert 'data-live="phase">analyzing<' in banner
    assert re.search(r'<progress class="progress" data-live="progress" value="0.62"', banner)
    assert "62 %" in banner
    assert "The report appears here when the job completes." in page
    assert f'action="/jobs/{job.id}/cancel"' in page and "/retry" not in page
    assert "/static/job.js" in page


# --- the buttons ------------------------------------------------------------------------------


def test_retry_requeues_a_failed_job(rig: WebRig, member: Browser) -> None:
    job = failed(rig)
    member.get(f"/jobs/{job.id}")
    answer = member.post(f"/jobs/{job.id}/retry")
    assert answer.status_code == 303 and answer.headers["location"] == f"/jobs/{job.id}"
    assert rig.store.get(None, job.id).state is JobState.QUEUED
    page = member.get(f"/jobs/{job.id}").text
    assert "Re-queued: the job runs again from the start." in page
    assert "re-queued from the dashboard by member-a@studio.test" in page


def test_a_viewer_cannot_retry_or_cancel_even_by_forging_the_form(
    rig: WebRig, viewer: Browser
) -> None:
    job = failed(rig)
    live = running(rig, "other.mov")
    viewer.get(f"/jobs/{job.id}")
    assert viewer.post(f"/jobs/{job.id}/retry").status_code == 403
    assert viewer.post(f"/jobs/{live.id}/cancel").status_code == 403
    assert rig.store.get(None, job.id).state is JobState.FAILED
    assert not rig.store.get(None, live.id).cancel_requested


def test_a_post_without_the_csrf_token_is_refused(rig: WebRig, member: Browser) -> None:
    job = failed(rig)
    member.get(f"/jobs/{job.id}")
    assert member.post(f"/jobs/{job.id}/retry", csrf=False).status_code == 403
    assert member.post(f"/jobs/{job.id}/retry", {"csrf_token": "forged"}).status_code == 403
    assert rig.store.get(None, job.id).state is JobState.FAILED


def test_another_organisations_job_cannot_be_retried(rig: WebRig) -> None:
    job = failed(rig)
    outsider = signed_in(rig, "admin", org=rig.other)
    outsider.get("/settings")
    assert outsider.post(f"/jobs/{job.id}/retry").status_code == 404
    assert rig.store.get(None, job.id).state is JobState.FAILED


def test_a_running_job_cannot_be_retried(rig: WebRig, member: Browser) -> None:
    job = running(rig)
    member.get(f"/jobs/{job.id}")
    answer = member.post(f"/jobs/{job.id}/retry")
    assert answer.status_code == 409
    assert "This job is running: only a finished job can run again." in answer.text
    assert rig.store.get(None, job.id).state is JobState.RUNNING


def test_cancel_asks_a_running_job_to_stop_and_cancels_a_queued_one(
    rig: WebRig, member: Browser
) -> None:
    live = running(rig)
    member.get(f"/jobs/{live.id}")
    assert member.post(f"/jobs/{live.id}/cancel").status_code == 303
    assert rig.store.get(None, live.id).cancel_requested
    assert "Cancel requested" in member.get(f"/jobs/{live.id}").text
    queued = rig.api.add("later.mov")
    assert member.post(f"/jobs/{queued.id}/cancel").status_code == 303
    assert rig.store.get(None, queued.id).state is JobState.CANCELLED


def test_a_finished_job_cannot_be_cancelled(rig: WebRig, member: Browser) -> None:
    job = completed(rig)
    member.get(f"/jobs/{job.id}")
    answer = member.post(f"/jobs/{job.id}/cancel")
    assert answer.status_code == 409 and "there is nothing to cancel" in answer.text
    assert rig.store.get(None, job.id).state is JobState.COMPLETED

"""In a real browser: the Operations page shows a job stuck because its worker slot was frozen
with SIGSTOP, and its "Cancel stuck" button (after the confirmation) recovers it; a custom
profile uploaded on the Profiles page is then used for a job, which it judges."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.browser.dashboard import ORG_A, Dashboard, DashboardOptions
from tests.browser.helpers import expect_console_error
from tests.fixtures_db import sqlite_writable
from tests.fixtures_media import H264_AAC, MediaFactory, run_ffmpeg_cli
from tests.fixtures_server import wait_for

PageFactory = Any
LONG_CLIP = [
    "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25:d=300",
    "-f", "lavfi", "-i", "sine=f=1000:d=300", *H264_AAC,
]  # fmt: skip
# About -14 LUFS, true peak far below -1 dBTP: the built-in `web` profile passes it.
TONES = "aevalsrc=0.2*sin(2*PI*997*t)|0.2*sin(2*PI*661*t):s=48000:d=4"
BROADCAST = """extends = "web"
description = "Web, at broadcast loudness"

[loudness]
target_lufs = -23.0
"""


@pytest.fixture(scope="module")
def dashboard_options() -> DashboardOptions:
    """Two slots (one gets frozen); the reapers never run, so a stuck job stays stuck until
    someone acts — as when the automatic recovery itself is down (the runbook's case)."""
    timings = {
        "KICKFLOW_LEASE_SECONDS": "4",
        "KICKFLOW_HEARTBEAT_SECONDS": "0.5",
        "KICKFLOW_REAPER_INTERVAL_SECONDS": "86400",
        "KICKFLOW_STUCK_AFTER_SECONDS": "60",
    }
    return DashboardOptions(workers=2, env=timings)


def api_json(dashboard: Dashboard, method: str, path: str, **kw: Any) -> Any:
    with dashboard.api(ORG_A) as api:
        reply = api.request(method, path, **kw)
    assert reply.status_code < 300, reply.text
    return reply.json()


@pytest.fixture
def frozen_job(dashboard: Dashboard, make_media: MediaFactory) -> Iterator[str]:
    """A long job whose worker slot is SIGSTOPped once it runs: stuck after the lease (4 s)."""
    clip = Path(shutil.copy(make_media("long-300s.mp4", LONG_CLIP), dashboard.server.media_root))
    body = {"source": {"type": "path", "path": str(clip)}}
    job_id = str(api_json(dashboard, "POST", "/api/qc/jobs", json=body)["id"])
    running = wait_for(
        lambda: (j := dashboard.job(job_id))["state"] == "running" and j.get("workerId") and j,
        60,
        "the long job to run",
        0.05,
    )
    workers = api_json(dashboard, "GET", "/api/qc/debug")["workers"]
    pid = next(int(w["pid"]) for w in workers if w["id"] == running["workerId"])
    freeze(pid, dashboard.server.db_url)
    try:
        wait_for(
            lambda: api_json(dashboard, "GET", "/api/qc/debug")["stuckJobs"],
            30,
            "the job to be stuck",
            0.2,
        )
        yield job_id
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGCONT)


def freeze(pid: int, db_url: str) -> None:
    """SIGSTOP a slot, but never while it holds the SQLite write lock (it would block every
    writer: the documented limit of direct-database slots); such a draw is thawed and redone."""
    for _ in range(50):
        os.kill(pid, signal.SIGSTOP)
        if sqlite_writable(db_url):
            return
        os.kill(pid, signal.SIGCONT)
    raise AssertionError("the slot held the SQLite write lock at every draw")


def test_cancel_stuck_recovers_a_job_whose_worker_was_frozen(
    dashboard: Dashboard, signed_in_page: PageFactory, frozen_job: str
) -> None:
    page: Page = signed_in_page("admin")
    page.goto(f"{dashboard.url}/ops")
    row = page.locator(f'#stuck tr[data-job-id="{frozen_job}"]')
    expect(row).to_contain_text("long-300s.mp4")
    expect(row).to_contain_text("1 / 3")
    expect(row).to_contain_text(" s ago")
    expect(page.locator('#health tr[data-component="qc_worker"] .badge')).to_have_text("error")

    cancel = page.locator('#stuck form[data-ops-action="cancel_stuck"] button')
    cancel.click()
    dialog = page.locator("dialog.confirm-dialog")
    expect(dialog).to_contain_text("Cancel every stuck job (1)?")
    dialog.get_by_role("button", name="Cancel", exact=True).click()  # changed my mind
    expect(dialog).to_have_count(0)
    assert dashboard.job(frozen_job)["state"] == "running"

    cancel.click()
    page.locator("dialog.confirm-dialog").get_by_role("button", name="Cancel stuck").click()
    expect(page.locator("#flash")).to_contain_text("1 job cancelled.")
    expect(page.locator("#stuck")).to_contain_text("No stuck jobs.")
    job = dashboard.job(frozen_job)
    assert job["state"] == "cancelled" and job["lastError"]["code"] == "cancelled_stuck"


def test_without_javascript_the_action_asks_on_a_page_of_its_own(
    dashboard: Dashboard, signed_in_page: PageFactory, frozen_job: str
) -> None:
    page: Page = signed_in_page("admin", javascript=False)
    page.goto(f"{dashboard.url}/ops")
    page.locator('#stuck form[data-ops-action="retry_stuck"] button').click()
    expect(page.locator("main")).to_contain_text("Re-queue every stuck job now (1)?")
    assert dashboard.job(frozen_job)["state"] == "running", "asked, not done"
    page.get_by_role("button", name="Retry stuck").click()
    expect(page.locator("#flash")).to_contain_text("1 job re-queued.")
    assert dashboard.job(frozen_job)["state"] in ("queued", "running")
    api_json(dashboard, "POST", "/api/qc/cancel", json={"jobId": frozen_job})  # free the slot


# --- a custom profile, uploaded and used -------------------------------------------------------


@pytest.fixture(scope="module")
def tones(dashboard: Dashboard) -> Path:
    target = dashboard.server.media_root / "web-master.wav"
    run_ffmpeg_cli(["-f", "lavfi", "-i", TONES, "-c:a", "pcm_s16le", str(target)])
    return target


def test_a_custom_profile_uploaded_on_the_page_judges_a_job(
    dashboard: Dashboard, signed_in_page: PageFactory, tones: Path
) -> None:
    page: Page = signed_in_page("admin")
    page.goto(f"{dashboard.url}/profiles")
    page.get_by_label("Name").fill("web-broadcast")
    page.get_by_label("TOML text").fill('[loudness]\ntarget_lufs = "quiet"\n')
    expect_console_error(page, r"status of 422")
    page.get_by_role("button", name="Save profile").click()
    expect(page.locator("#upload-error")).to_contain_text("loudness.target_lufs must be a number")
    expect(page.get_by_label("TOML text")).to_have_value('[loudness]\ntarget_lufs = "quiet"\n')

    page.get_by_label("TOML text").fill(BROADCAST)
    page.get_by_role("button", name="Save profile").click()
    expect(page).to_have_url(f"{dashboard.url}/profiles/web-broadcast")
    expect(page.locator("main")).to_contain_text("Integrated loudness must be -23 LUFS")
    expect(page.locator("main")).to_contain_text("A video stream is optional")

    custom = dashboard.submit(tones, profile="web-broadcast")
    builtin = dashboard.submit(tones, profile="web")
    judged = dashboard.wait_for_job(custom)
    assert (judged["state"], judged["verdict"], judged["profile"]) == (
        "completed", "failed", "web-broadcast",
    )  # fmt: skip
    assert dashboard.wait_for_job(builtin)["verdict"] == "passed"
    with dashboard.api(ORG_A) as api:
        report = api.get(f"/api/qc/jobs/{custom}/report").json()
    assert [f["check"] for f in report["findings"] if f["severity"] == "error"] == [
        "audio.loudness"
    ]

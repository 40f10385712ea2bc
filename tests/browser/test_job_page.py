"""The job page in a real browser against a real ``kickflow serve`` (its embedded worker is an
HTTP worker: the pictures travel through the worker protocol into the service's storage).

A generated clip with a black segment fails QC: its page shows the picture of the black
segment (loaded: it has a natural width) and the loudness plot; Retry re-queues it, and the
page follows the new run over the event stream to the new report without a reload.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.dashboard import Dashboard
from tests.fixtures_media import LEGAL_PICTURE, av_clip

PageFactory = Callable[..., Page]
BLACK = f"{LEGAL_PICTURE},drawbox=t=fill:c=black:enable='between(t,2,4)'"
JOB_TIMEOUT_MS = 180_000
# Resolves once the picture has loaded (or failed to): its natural width, 0 when it failed.
LOADED_WIDTH = """img => new Promise(done => {
  if (img.complete) return done(img.naturalWidth);
  img.addEventListener("load", () => done(img.naturalWidth), {once: true});
  img.addEventListener("error", () => done(0), {once: true});
})"""


@pytest.fixture(scope="module")
def black_job(dashboard: Dashboard, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A finished job of a 6 s clip with black from 2 s to 4 s (verdict: failed)."""
    clip = av_clip(tmp_path_factory.mktemp("clips") / "black-segment.mp4", 6, vf=BLACK,
                   size="320x240")  # fmt: skip
    job_id = dashboard.submit(clip)
    job = dashboard.wait_for_job(job_id)
    assert job["state"] == "completed" and job["verdict"] == "failed", dashboard.output()
    return job_id


def black_picture(page: Page) -> str:
    """The black segment's picture, once the browser has loaded it; its URL."""
    row = page.locator("table.findings tr", has_text="video.black")
    picture = row.locator("img.thumbnail")
    expect(picture).to_be_visible()
    assert picture.evaluate(LOADED_WIDTH) == 320, "the picture loaded, 320 px wide"
    return str(picture.get_attribute("src"))


def test_a_failed_report_shows_the_black_segment_and_the_loudness(
    signed_in_page: PageFactory, dashboard: Dashboard, black_job: str
) -> None:
    page = signed_in_page("viewer")
    page.goto(f"{dashboard.url}/jobs/{black_job}")
    expect(page.locator("#verdict-title")).to_have_text("FAILED")
    src = black_picture(page)
    # a1- normally; a2- when a loaded machine let the first attempt's lease lapse
    assert re.match(rf"/jobs/{black_job}/artifacts/a\d+-", src), src
    plot = page.locator('svg[aria-label="Loudness curve"]')
    expect(plot).to_be_visible()
    assert plot.locator("polyline").count() == 2, "momentary and short-term"
    expect(page.locator('svg[aria-label="Findings over the file\'s duration"]')).to_be_visible()
    expect(page.get_by_role("button", name="Reprocess")).to_have_count(0)  # a viewer
    # The download links and the API's own artefact route take the session cookie.
    href = page.locator("a", has_text="CSV").get_attribute("href")
    csv = page.request.get(f"{dashboard.url}{href}")
    assert csv.ok and "video.black" in csv.text()
    name = src.rsplit("/", 1)[1]
    api = page.request.get(f"{dashboard.url}/api/qc/jobs/{black_job}/artifacts/{name}")
    assert api.ok and api.headers["content-type"] == "image/jpeg"


def test_retry_runs_the_job_again_and_the_page_follows_it(
    signed_in_page: PageFactory, dashboard: Dashboard, black_job: str, tmp_path: Path
) -> None:
    page = signed_in_page("member")
    page.goto(f"{dashboard.url}/jobs/{black_job}")
    before = black_picture(page)
    page.get_by_role("button", name="Reprocess").click()
    page.locator("dialog.confirm-dialog").get_by_role("button", name="Reprocess").click()
    expect(page.locator("#flash")).to_contain_text("Re-queued")
    landed = page.locator("#job").get_attribute("data-state")
    page.evaluate("window.kfNotReloaded = true")
    expect(page.locator("#job")).to_have_attribute("data-state", "completed",
                                                   timeout=JOB_TIMEOUT_MS)  # fmt: skip
    expect(page.locator("#verdict-title")).to_have_text("FAILED")
    after = black_picture(page)
    assert after != before, "the new attempt's picture has a name of its own"
    if landed != "completed":  # the page was still waiting for the new run when it opened
        assert page.evaluate("window.kfNotReloaded === true"), "followed live, without a reload"
    expect(page.locator("table.history")).to_contain_text("Re-queued")
    job = dashboard.job(black_job)
    assert job["state"] == "completed" and job["verdict"] == "failed"
    assert [e["kind"] for e in job["history"]].count("completed") == 2

"""The Submit page and the Jobs page in a real browser against a real ``kickflow serve`` (two
embedded worker slots): two generated clips dropped in the form each get their own upload
progress bar and follow their jobs to a verdict without a reload; the jobs list puts a new job
at the top and updates its row live; a file that is not media shows the server's sentence; a
file over the upload limit is refused before it is sent; bulk retry asks, then says what it
did; a clip sent with a subtitle file and a source timecode gets both checked, a bad subtitle
file or timecode shows the server's sentence, and a subtitle file that fits no media file is
refused on the page."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.browser.dashboard import Dashboard, DashboardOptions
from tests.browser.helpers import expect_console_error
from tests.fixtures_media import av_clip

PageFactory = Callable[..., Page]
JOB_TIMEOUT_MS = 180_000
UPLOAD_LIMIT_MB = 2
# Every status line an upload shows, in order (read by the test once the jobs are done).
RECORD_STATUSES = """() => {
  window.kfStatuses = [];
  new MutationObserver(() => {
    document.querySelectorAll("#upload-list .upload").forEach((item, i) => {
      const text = item.querySelector(".upload-status").textContent;
      const seen = (window.kfStatuses[i] = window.kfStatuses[i] || []);
      if (seen[seen.length - 1] !== text) seen.push(text);
    });
  }).observe(document.getElementById("upload-list"), {subtree: true, childList: true,
                                                        characterData: true});
  window.kfNotReloaded = true;
}"""


@pytest.fixture(scope="module")
def dashboard_options() -> DashboardOptions:
    return DashboardOptions(workers=2, env={"KICKFLOW_MAX_UPLOAD_MB": str(UPLOAD_LIMIT_MB)})


@pytest.fixture(scope="module")
def clips(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    folder = tmp_path_factory.mktemp("submit-clips")
    return [av_clip(folder / f"take-{n}.mp4", 3, size="320x240") for n in (1, 2)]


def test_two_uploads_each_follow_their_job_to_a_verdict(
    signed_in_page: PageFactory, dashboard: Dashboard, clips: list[Path]
) -> None:
    page = signed_in_page("member")
    page.goto(f"{dashboard.url}/submit")
    page.evaluate(RECORD_STATUSES)
    page.get_by_label("Project").fill("browser-submit")
    page.locator("#s-files").set_input_files([str(c) for c in clips])
    page.get_by_role("button", name="Upload and check").click()
    items = page.locator("#upload-list .upload")
    expect(items).to_have_count(2)
    for index, clip in enumerate(clips):
        item = items.nth(index)
        expect(item.locator(".upload-name")).to_have_text(clip.name)
        expect(item.locator(".upload-status")).to_contain_text(
            "Done, verdict ", timeout=JOB_TIMEOUT_MS
        )
        expect(item.locator(".upload-badge .badge")).to_be_visible()
        expect(item.locator("progress.progress.is-done")).to_have_attribute("value", "1")
        link = item.locator(".upload-status a")
        expect(link).to_have_attribute("href", re.compile(r"^/jobs/[0-9a-f-]+$"))
    assert page.evaluate("window.kfNotReloaded") is True, "the page was never reloaded"
    statuses = page.evaluate("window.kfStatuses")
    for seen in statuses:
        assert any(s.startswith("Uploading") for s in seen), seen
        assert any(s.startswith(("Queued", "Running")) for s in seen), seen
        assert seen[-1].startswith("Done, verdict "), seen
    job_id = str(items.nth(0).locator(".upload-status a").get_attribute("href")).split("/")[-1]
    assert dashboard.job(job_id)["project"] == "browser-submit"


def test_the_jobs_list_shows_a_new_job_and_follows_it(
    signed_in_page: PageFactory, dashboard: Dashboard, clips: list[Path]
) -> None:
    page = signed_in_page("member")
    page.goto(f"{dashboard.url}/jobs")
    expect(page.locator("#live-status")).to_contain_text("Live")
    page.evaluate("window.kfNotReloaded = true")
    job_id = dashboard.submit(clips[0], name="live-row.mp4")
    row = page.locator(f'#jobs-body tr[data-job-id="{job_id}"]')
    expect(row).to_be_visible()
    expect(page.locator("#jobs-body tr").first).to_have_attribute("data-job-id", job_id)
    expect(row.locator('[data-cell="link"]')).to_have_text("live-row.mp4")
    expect(row.locator('[data-cell="state"] .badge')).to_have_text(
        "completed", timeout=JOB_TIMEOUT_MS
    )
    expect(row.locator('[data-cell="verdict"] .badge')).to_be_visible()
    expect(row.locator("progress")).to_have_attribute("value", "1")
    assert page.evaluate("window.kfNotReloaded") is True


def test_bulk_retry_asks_then_says_what_it_did(
    signed_in_page: PageFactory, dashboard: Dashboard, clips: list[Path]
) -> None:
    job_id = dashboard.submit(clips[1], name="retry-me.mp4")
    dashboard.wait_for_job(job_id)
    page = signed_in_page("member")
    page.goto(f"{dashboard.url}/jobs?q=retry-me")
    retry = page.get_by_role("button", name="Retry")
    expect(retry).to_be_disabled()  # nothing selected yet
    page.locator(f'input[name="job_ids"][value="{job_id}"]').check()
    expect(page.locator("#selected-count")).to_have_text("1 job selected.")
    retry.click()
    dialog = page.locator("dialog.confirm-dialog")
    expect(dialog).to_contain_text("Run 1 job again from the start?")
    dialog.get_by_role("button", name="Retry").click()
    expect(page.locator("#flash")).to_have_text("1 job re-queued.")
    expect(page).to_have_url(f"{dashboard.url}/jobs?q=retry-me")


def test_a_file_that_is_not_media_shows_the_server_s_sentence(
    signed_in_page: PageFactory, dashboard: Dashboard, tmp_path: Path
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("Delivery notes.\nEpisode 3 is late.\n")
    page = signed_in_page("member")
    page.goto(f"{dashboard.url}/submit")
    expect_console_error(page, r"status of 415")  # the refused upload, on purpose
    page.locator("#s-files").set_input_files(str(notes))
    page.get_by_role("button", name="Upload and check").click()
    status = page.locator("#upload-list .upload .upload-status")
    expect(status).to_have_text("Refused: notes.txt is not a media file: it contains text.")
    expect(page.locator("#upload-list .upload")).to_have_class("upload is-refused")


def test_a_file_over_the_limit_is_refused_before_sending(
    signed_in_page: PageFactory, dashboard: Dashboard, tmp_path: Path
) -> None:
    big = tmp_path / "big.mov"
    big.write_bytes(b"\0" * (UPLOAD_LIMIT_MB + 1) * 1024 * 1024)
    page = signed_in_page("member")
    page.goto(f"{dashboard.url}/submit")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "/api/qc/jobs" in r.url else None)
    page.locator("#s-files").set_input_files(str(big))
    page.get_by_role("button", name="Upload and check").click()
    status = page.locator("#upload-list .upload .upload-status")
    expect(status).to_have_text("Refused: big.mov is 3.0 MB, over the upload limit of 2.0 MB.")
    assert sent == [], "nothing was sent"


# --- subtitle files and the source timecode ---------------------------------------------------

SRT = "1\n00:00:01,000 --> 00:00:02,000\nHello there.\n\n"


def test_a_clip_with_a_subtitle_file_and_a_timecode_follows_its_job_to_a_verdict(
    signed_in_page: PageFactory, dashboard: Dashboard, clips: list[Path], tmp_path: Path
) -> None:
    subtitle = tmp_path / f"{clips[0].stem}.en.srt"
    subtitle.write_text(SRT, encoding="utf-8")
    page = signed_in_page("member")
    page.goto(f"{dashboard.url}/submit")
    page.get_by_label("Source timecode").fill("10:00:00:00")
    page.locator("#s-files").set_input_files(str(clips[0]))
    page.get_by_label("Subtitle files").set_input_files(str(subtitle))
    page.get_by_role("button", name="Upload and check").click()
    item = page.locator("#upload-list .upload")
    expect(item).to_have_count(1)
    expect(item.locator(".upload-status")).to_contain_text("Done, verdict ", timeout=JOB_TIMEOUT_MS)
    job_id = str(item.locator(".upload-status a").get_attribute("href")).split("/")[-1]
    job = dashboard.job(job_id)
    assert job["inputs"]["timecodeStart"] == "10:00:00:00"
    assert [s["name"] for s in job["inputs"]["subtitles"]] == [subtitle.name]
    checked = [f for f in job["subtitles"] or [] if f["streamIndex"] is None]
    assert [(f["name"], f["cueCount"], f["error"]) for f in checked] == [(subtitle.name, 1, None)]


def test_a_bad_subtitle_file_or_timecode_shows_the_server_s_sentence(
    signed_in_page: PageFactory, dashboard: Dashboard, clips: list[Path], tmp_path: Path
) -> None:
    notes = tmp_path / "take-1.en.srt"
    notes.write_text("Delivery notes.\nEpisode 3 is late.\n", encoding="utf-8")
    page = signed_in_page("member")
    page.goto(f"{dashboard.url}/submit")
    expect_console_error(page, r"status of 422")  # the refused uploads, on purpose
    page.locator("#s-files").set_input_files(str(clips[0]))
    page.get_by_label("Subtitle files").set_input_files(str(notes))
    page.get_by_role("button", name="Upload and check").click()
    status = page.locator("#upload-list .upload .upload-status")
    expect(status).to_have_text(
        re.compile(r"^Refused: subtitles: take-1\.en\.srt is not a subtitle file")
    )
    page.get_by_label("Source timecode").fill("25:00:00:00")
    page.locator("#s-files").set_input_files(str(clips[0]))
    page.get_by_role("button", name="Upload and check").click()
    expect(status.nth(1)).to_have_text(
        re.compile(r"^Refused: timecode_start: '25:00:00:00' is not a timecode")
    )


def test_a_subtitle_file_that_fits_no_media_file_is_refused_on_the_page(
    signed_in_page: PageFactory, dashboard: Dashboard, clips: list[Path], tmp_path: Path
) -> None:
    stray = tmp_path / "EP09.en.srt"
    stray.write_text(SRT, encoding="utf-8")
    page = signed_in_page("member")
    page.goto(f"{dashboard.url}/submit")
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if "/api/qc/jobs" in r.url else None)
    page.locator("#s-files").set_input_files([str(c) for c in clips])
    page.get_by_label("Subtitle files").set_input_files(str(stray))
    page.get_by_role("button", name="Upload and check").click()
    refused = page.locator("#upload-list .upload.is-refused")
    expect(refused.locator(".upload-name")).to_have_text("EP09.en.srt")
    expect(refused.locator(".upload-status")).to_have_text(
        "Refused: EP09.en.srt goes with none of the media files: name a subtitle file after "
        "its video, e.g. take-1.en.srt."
    )
    items = page.locator("#upload-list .upload:not(.is-refused) .upload-status")
    expect(items).to_have_count(2)
    for index in range(2):
        expect(items.nth(index)).to_contain_text("Done, verdict ", timeout=JOB_TIMEOUT_MS)
    assert len(sent) == 2, "one request per media file, none for the stray subtitle file"

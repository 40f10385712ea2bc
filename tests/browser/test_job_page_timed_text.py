"""The job page's Subtitles and Speech sections in a real browser against a real ``kickflow
serve``, with a stored report that has subtitle files and a transcript (made from hand-made
measurements: the report is what is under test, not the analysis), and a stored schema-2
report that has neither.

The server runs no worker: the test stores each job's result itself, as a worker would, through
the store. The page must show the sections under the strict CSP (the fixtures fail the test on
any console error, a blocked inline style included).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from kickflow.config import Settings
from kickflow.jobs import SqlJobStore
from tests.browser.dashboard import ORG_A, Dashboard, DashboardOptions
from tests.sample_reports import CPS_MESSAGE, REFUSED, stored_v2, timed_report_dict

PageFactory = Callable[..., Page]


@pytest.fixture(scope="module")
def dashboard_options() -> DashboardOptions:
    """No worker: the jobs of this module are finished by the test itself."""
    return DashboardOptions(workers=0)


def stored_job(dashboard: Dashboard, name: str, report: dict[str, Any]) -> str:
    """A completed job of org A whose stored report is ``report``; its id."""
    server = dashboard.server
    store = SqlJobStore(
        server.db_url, Settings(database_url=server.db_url, data_dir=server.data_dir)
    )
    try:
        job = store.enqueue(store.ensure_org(ORG_A), "path", f"/media/{name}", file_name=name)
        [claimed] = [c for c in store.claim("test-worker", limit=10) if c.job.id == job.id]
        store.complete(claimed.lease, str(report["verdict"]), report)
    finally:
        store.close()
    return job.id


@pytest.fixture(scope="module")
def timed_job(dashboard: Dashboard) -> str:
    return stored_job(dashboard, "EP01.mov", timed_report_dict())


@pytest.fixture(scope="module")
def older_job(dashboard: Dashboard) -> str:
    return stored_job(dashboard, "EP00.mov", stored_v2())


def test_subtitle_files_and_streams_are_listed(
    signed_in_page: PageFactory, dashboard: Dashboard, timed_job: str
) -> None:
    page = signed_in_page("viewer")
    page.goto(f"{dashboard.url}/jobs/{timed_job}")
    files = page.locator("#subtitles table.subtitle-files tbody tr")
    expect(files).to_have_count(3)
    expect(files.nth(0).locator("td")).to_have_text(
        ["EP01.en.srt", "srt", "UTF-8 with BOM", "en", "3", "10:00:01:00", "10:00:22:13",
         "1 problem reading it"]
    )  # fmt: skip
    expect(files.nth(1)).to_contain_text("not read: EP01.fr.vtt is not WebVTT: no header.")
    expect(page.locator("#subtitles table.subtitle-streams")).to_contain_text(
        "dvb_subtitle, fra, “Français SDH” — bitmap: present, not read"
    )
    cue = page.locator("table.findings tr", has_text="subtitle.reading_speed")
    expect(cue).to_contain_text(CPS_MESSAGE)
    expect(cue).to_contain_text("10:00:10:00–10:00:11:00")


def test_the_transcript_unfolds_and_a_timecode_click_selects_it(
    signed_in_page: PageFactory, dashboard: Dashboard, timed_job: str
) -> None:
    page = signed_in_page("viewer")
    url = f"{dashboard.url}/jobs/{timed_job}"
    page.goto(url)
    tracks = page.locator("#speech .speech-track")
    expect(tracks).to_have_count(2)
    expect(page.locator('#speech svg[aria-label="Speech over the programme"]')).to_be_visible()
    expect(tracks.nth(0).locator("h3")).to_have_text("Track 1")
    expect(tracks.nth(0)).to_contain_text("speech for 4.8 s (8.0% of the programme) in 2 segments")
    lines = tracks.nth(0).locator(".transcript-lines li")
    expect(lines.first).to_be_hidden()  # folded until asked for
    tracks.nth(0).locator("summary").click()
    expect(lines).to_have_count(2)
    expect(lines.nth(1)).to_be_visible()
    expect(lines.nth(1)).to_have_text("10:00:10:00 We meet again, <at last>.")
    timecode = lines.nth(1).locator("code.tc")
    timecode.click()
    assert page.evaluate("String(window.getSelection())") == "10:00:10:00", "one click selects it"
    assert page.url == url, "a timecode is text, not a link"
    expect(tracks.nth(1).locator(".transcription-unavailable")).to_have_text(REFUSED)
    expect(tracks.nth(1).locator("details")).to_have_count(0)


def test_an_older_report_has_no_subtitle_or_speech_section(
    signed_in_page: PageFactory, dashboard: Dashboard, older_job: str
) -> None:
    page = signed_in_page("viewer")
    page.goto(f"{dashboard.url}/jobs/{older_job}")
    expect(page.locator("#verdict-title")).to_have_text("FAILED")
    expect(page.locator("table.findings tbody tr")).to_have_count(3)
    expect(page.locator('svg[aria-label="Loudness curve"]')).to_be_visible()
    expect(page.locator("#subtitles")).to_have_count(0)
    expect(page.locator("#speech")).to_have_count(0)

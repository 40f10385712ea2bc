"""The job page's Subtitles and Speech sections and the API job view's summary of them, on the
fake store: a report with subtitle files and a transcript, and a stored schema-2 report that
has neither (its page shows no such section and is otherwise the same)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kickflow.report import Report
from tests.fakes.web import Browser, WebRig, web_rig
from tests.sample_reports import CPS_MESSAGE, REFUSED, stored_v2, timed_report_dict
from tests.unit.test_web_job import completed, part
from tests.web_helpers import signed_in


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[WebRig]:
    with web_rig(tmp_path) as r:
        yield r


@pytest.fixture
def viewer(rig: WebRig) -> Browser:
    return signed_in(rig, "viewer")


def card(page: str, name: str) -> str:
    found = re.search(rf'<section class="card" id="{name}".*?</section>', page, re.S)
    assert found is not None, f"no {name} section"
    return found.group(0)


def cells(html: str) -> list[list[str]]:
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)
    return [re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r, re.S) for r in rows]


def test_the_page_shows_subtitle_files_streams_and_shot_changes(
    rig: WebRig, viewer: Browser
) -> None:
    job = completed(rig, timed_report_dict())
    section = card(viewer.get(f"/jobs/{job.id}").text, "subtitles")
    table = cells(section)
    assert table[0] == ["File", "Format", "Encoding", "Language", "Cues", "From", "To", "Notes"]
    assert table[1] == [
        "EP01.en.srt", "srt", "UTF-8 with BOM", "en", "3", "10:00:01:00", "10:00:22:13",
        "1 problem reading it",
    ]  # fmt: skip
    assert table[2][0] == "EP01.fr.vtt" and table[2][7] == (
        "not read: EP01.fr.vtt is not WebVTT: no header."
    )
    assert table[3][0] == "stream #2 (mov_text)"
    assert ["Stream #3", "dvb_subtitle, fra, “Français SDH” — bitmap: present, not read"] in table
    assert ["Shot changes", "3 shot changes detected"] in table


def test_the_page_shows_speech_and_a_folded_transcript_with_timecodes(
    rig: WebRig, viewer: Browser
) -> None:
    job = completed(rig, timed_report_dict())
    page = viewer.get(f"/jobs/{job.id}").text
    speech = card(page, "speech")
    tracks = re.findall(r'<div class="speech-track">(.*?)</div>', speech, re.S)
    assert len(tracks) == 2
    assert '<div class="plot"><svg' in speech and 'aria-label="Speech over the programme"' in speech
    assert "<h3>Track 1</h3>" in tracks[0]
    assert "speech for 4.8 s (8.0% of the programme) in 2 segments" in tracks[0]
    lines = re.findall(r'<li><code class="tc"[^>]*>([^<]*)</code> <span>([^<]*)</span>', tracks[0])
    assert lines == [
        ("10:00:01:00", "Hello there."),
        ("10:00:10:00", "We meet again, &lt;at last&gt;."),
    ]
    assert "<details" in tracks[0] and "<summary>transcript by whisper-large-v3-turbo" in tracks[0]
    assert f'<p class="transcription-unavailable">{REFUSED}</p>' in tracks[1]
    assert "<details" not in tracks[1]
    finding = re.search(r'<tr class="finding-warning">(.*?)</tr>', page, re.S)
    assert finding is not None
    assert f"<td>{CPS_MESSAGE}</td>" in finding.group(1), "file, cue number and text"
    assert "10:00:10:00–10:00:11:00" in finding.group(1)
    assert "<script>" not in page and "style=" not in page, "nothing the CSP would block"


def test_an_older_report_shows_no_new_section_and_the_same_page(
    rig: WebRig, viewer: Browser
) -> None:
    old = completed(rig, stored_v2())
    page = viewer.get(f"/jobs/{old.id}").text
    assert 'id="subtitles"' not in page and 'id="speech"' not in page
    assert "Black picture for 2.0 s from 10.00 s" in page and 'id="checks"' in page
    upgraded = completed(rig, Report.from_dict(stored_v2()).to_dict())  # empty sections
    again = viewer.get(f"/jobs/{upgraded.id}").text
    assert part(again, "report").replace(upgraded.id, "ID") == part(page, "report").replace(
        old.id, "ID"
    )


def api_job(rig: WebRig, report: dict[str, Any]) -> dict[str, Any]:
    job = completed(rig, report)
    reply = rig.api.get(f"/api/qc/jobs/{job.id}", role="viewer")
    assert reply.status_code == 200, reply.text
    data: dict[str, Any] = reply.json()
    return data


def test_the_api_job_view_summarises_subtitles_and_speech(rig: WebRig) -> None:
    job = api_job(rig, timed_report_dict())
    assert job["subtitles"][0] == {
        "name": "EP01.en.srt",
        "format": "srt",
        "language": "en",
        "streamIndex": None,
        "cueCount": 3,
        "problemCount": 1,
        "error": None,
    }
    assert [f["name"] for f in job["subtitles"]] == [
        "EP01.en.srt",
        "EP01.fr.vtt",
        "stream #2 (mov_text)",
    ]
    assert job["speech"] == [
        {
            "track": 1,
            "speechSeconds": 4.8,
            "share": 0.08,
            "segmentCount": 2,
            "transcriptLanguage": "en",
            "transcriptSegments": 2,
            "transcriptionError": None,
        },
        {
            "track": 2,
            "speechSeconds": 2.3,
            "share": 0.0383,
            "segmentCount": 1,
            "transcriptLanguage": None,
            "transcriptSegments": None,
            "transcriptionError": REFUSED,
        },
    ]
    assert {"fileNameParts", "history", "verdict"} <= job.keys(), "the existing keys stay"


def test_the_api_job_view_of_an_older_report_has_no_summary(rig: WebRig) -> None:
    job = api_job(rig, stored_v2())
    assert job["subtitles"] is None and job["speech"] is None
    queued = rig.api.get(f"/api/qc/jobs/{rig.api.add('later.mov').id}", role="viewer").json()
    assert queued["subtitles"] is None and queued["speech"] is None

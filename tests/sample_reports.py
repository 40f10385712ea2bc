"""Reports with subtitles and speech, made from hand-made measurements, and a stored report of
schema 2 (``tests/samples/report-v2.json``, written by the renderers of that version, with its
text summary beside it) for the readers that must still show older jobs.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

from kickflow.checks import CheckResult, Finding
from kickflow.media.model import (
    Cue,
    Measurements,
    ParseProblem,
    Segment,
    SubtitleFile,
    SubtitleStream,
    TrackSpeech,
    Transcript,
    TranscriptSegment,
)
from kickflow.profiles import load_profile
from kickflow.report import Report, build_report, verdict_of
from tests.unit.test_checks import clean, with_media

SAMPLES = Path(__file__).parent / "samples"
OTHERS = ("subtitle.", "speech.")
REFUSED = "transcription unavailable: the provider refused the API key"
# As the subtitle checks word a cue: the file, the cue's number and its text on one line.
CPS_MESSAGE = "EP01.en.srt cue 2 “We meet again. At last.”: 24.1 characters per second (max 20)"
TRANSCRIPT = (
    TranscriptSegment(1.0, 3.5, " Hello there."),
    TranscriptSegment(10.0, 12.0, "We meet again, <at last>."),
)


def stored_v2() -> dict[str, Any]:
    """A report as a schema-2 worker stored it (a 60 s clip at 10:00:00:00, three findings)."""
    data: dict[str, Any] = json.loads((SAMPLES / "report-v2.json").read_text())
    return data


def stored_v2_text() -> str:
    """What ``kickflow check`` printed for :func:`stored_v2` before schema 3."""
    return (SAMPLES / "report-v2.txt").read_text()


def sidecar() -> SubtitleFile:
    cues = (
        Cue(1, 1.0, 3.5, "Hello there.", line=1),
        Cue(2, 10.0, 11.0, "We meet again.\nAt last.", line=5),
        Cue(3, 20.0, 22.5, "Go.", line=10),
    )
    problem = ParseProblem(14, "line 14: a timing line without an arrow")
    return SubtitleFile(
        "EP01.en.srt", "srt", "utf-8-sig", True, "en", None, cues, (problem,), size_bytes=120
    )


def timed_measurements(**changes: Any) -> Measurements:
    """``clean()`` at 10:00:00:00 with two subtitle files (one unreadable), a mov_text stream
    read, a DVB one not, three cuts, a transcribed track 1 and a track 2 whose transcription
    the provider refused."""
    streams = (
        SubtitleStream(2, "mov_text", True, "eng"),
        SubtitleStream(3, "dvb_subtitle", False, "fra", "Français SDH"),
    )
    m = with_media(clean(), timecode="10:00:00:00", subtitles=streams, subtitle_streams=2)
    embedded = SubtitleFile(
        "stream #2 (mov_text)", "mov_text", language="eng", stream_index=2,
        cues=(Cue(1, 30.0, 32.0, "Embedded."),),
    )  # fmt: skip
    broken = SubtitleFile("EP01.fr.vtt", "vtt", error="EP01.fr.vtt is not WebVTT: no header.")
    transcript = Transcript("whisper-large-v3-turbo", "en", TRANSCRIPT, 4.5, 36_000, 1)
    speech = (
        TrackSpeech(1, (Segment(1.0, 3.6), Segment(10.0, 12.2)), 60.0, transcript),
        TrackSpeech(2, (Segment(1.1, 3.4),), 60.0, transcription_error=REFUSED),
    )
    m = replace(
        m, subtitles=(sidecar(), broken, embedded), shot_changes=(4.0, 20.0, 40.0), speech=speech
    )
    return replace(m, **changes)


def timed_report(m: Measurements | None = None) -> Report:
    """The report of :func:`timed_measurements`, with a reading-speed finding at cue 2 (the
    subtitle checks are written elsewhere: this is the shape their findings take)."""
    report = build_report(
        m or timed_measurements(), load_profile("ebu-r128"), input_name="EP01.mov", size_bytes=9
    )
    # The real subtitle and speech checks (written alongside) would add their own findings on
    # these made-up measurements: leave them out, so the sample stays the same as they change.
    report.checks = [c for c in report.checks if not c.id.startswith(OTHERS)]
    report.findings = [f for f in report.findings if not f.check.startswith(OTHERS)]
    cps = Finding("subtitle.reading_speed", "warning", 10.0, 11.0, CPS_MESSAGE)
    report.findings.append(cps)
    report.checks.append(CheckResult(cps.check, "warning", "1 cue reads too fast", [cps]))
    report.verdict = verdict_of(report.findings)
    return report


def timed_report_dict(m: Measurements | None = None) -> dict[str, Any]:
    """:func:`timed_report` through JSON, as the job service stores it."""
    data: dict[str, Any] = json.loads(json.dumps(timed_report(m).to_dict(), allow_nan=False))
    return data

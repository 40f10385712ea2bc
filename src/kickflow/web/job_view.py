"""What the job page shows, built from the job, its history and its stored report dict.

Pure: no request, no store. The plots are the standalone HTML report's own renderers
(:mod:`kickflow.report_html`), so the page and the downloadable report draw the same thing;
they escape every text they contain and are handed to the template as markup.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from markupsafe import Markup

from kickflow.config import Settings
from kickflow.jobs import Job, JobEvent, JobState
from kickflow.report_html import (
    level_strip_svg,
    loudness_svg,
    measurement_rows,
    speech_svg,
    timeline_svg,
)
from kickflow.report_text import VERDICT_LABELS, number, one_line, severity_counts, size
from kickflow.report_timed_text import (
    SUBTITLE_COLUMNS,
    shot_changes_words,
    speech_track_label,
    speech_words,
    subtitle_file_columns,
    subtitle_stream_words,
    transcript_capped,
    transcript_lines,
    transcript_words,
    unread_streams,
)
from kickflow.web.next_steps import NextStep, next_step

RETRYABLE = frozenset({JobState.FAILED, JobState.CANCELLED, JobState.COMPLETED})
CANCELLABLE = frozenset({JobState.QUEUED, JobState.RUNNING, JobState.PAUSED})
REPORT_FORMATS = (("JSON", "json"), ("HTML", "html"), ("CSV", "csv"), ("PDF", "pdf"))
EVENT_WORDS = {
    "enqueued": "Submitted",
    "claimed": "Attempt started",
    "completed": "Completed",
    "failed": "Failed",
    "retry_scheduled": "Attempt failed, retry scheduled",
    "released": "Handed back to the queue",
    "fenced": "A late write was refused (lease lost)",
    "cancel_requested": "Cancel requested",
    "cancelled": "Cancelled",
    "pause_requested": "Pause requested",
    "paused": "Paused",
    "resumed": "Resumed",
    "requeued": "Re-queued",
    "reaped": "Taken back from its worker",
}
STATE_WORDS = {
    JobState.QUEUED: "Waiting for a worker",
    JobState.RUNNING: "Running",
    JobState.PAUSED: "Paused",
    JobState.CANCELLED: "Cancelled",
    JobState.FAILED: "The job failed",
    JobState.COMPLETED: "Completed",
}


@dataclass(frozen=True)
class FindingRow:
    severity: str
    check: str
    message: str
    when: str  # timecode, or start–end timecodes, or "whole file"
    thumbnail: str | None  # the picture's URL
    picture_alt: str
    strip: Markup | None  # the level strip of an audio finding


@dataclass(frozen=True)
class SubtitlesPart:
    """The subtitle files table, then the container's subtitle streams and the shot changes."""

    columns: tuple[str, ...]
    files: list[tuple[str, ...]]
    notes: list[tuple[str, str]]


@dataclass(frozen=True)
class SpeechTrack:
    """One listened track: its speech, and its transcript or why there is none."""

    label: str
    words: str
    transcript: str | None  # the transcript's heading, or the sentence saying it failed
    unavailable: bool  # transcription was asked for and failed
    lines: list[tuple[str, str]]  # (source timecode, text)
    capped: bool


@dataclass(frozen=True)
class HistoryRow:
    at: float
    what: str
    attempt: int | None
    worker: str | None
    code: str | None
    message: str | None
    problem: bool


def banner(job: Job) -> dict[str, str]:
    """The verdict when there is a report, else what the job's state means."""
    if job.report is not None and job.verdict:
        return {
            "kind": job.verdict,
            "title": VERDICT_LABELS.get(job.verdict, job.verdict),
            "detail": severity_counts(job.report.get("findings") or []),
        }
    return {"kind": job.state.value, "title": STATE_WORDS[job.state], "detail": ""}


def when(finding: dict[str, Any]) -> str:
    # At source timecode; reports written before it existed only have the elapsed one.
    start = finding.get("timecode_start") or finding.get("timecode")
    end = finding.get("timecode_end") or finding.get("end_timecode")
    if start is None:
        return "whole file"
    return f"{start}–{end}" if end and end != start else str(start)


def finding_rows(job: Job, report: dict[str, Any]) -> list[FindingRow]:
    """The findings table: a picture for video findings, a level strip for audio ones."""
    rows = []
    for f in report.get("findings") or []:
        name = f.get("thumbnail")
        at = f.get("timecode_start") or f.get("timecode") or "the finding"
        strip = level_strip_svg(report, f) if str(f["check"]).startswith("audio.") else ""
        rows.append(
            FindingRow(
                severity=f["severity"],
                check=f["check"],
                message=f["message"],
                when=when(f),
                thumbnail=f"/jobs/{job.id}/artifacts/{name}" if isinstance(name, str) else None,
                picture_alt=f"Frame at {at}",
                strip=Markup(strip) if strip else None,  # noqa: S704 - escaped by the renderer
            )
        )
    return rows


def subtitles_part(report: dict[str, Any]) -> SubtitlesPart | None:
    """The Subtitles section; None for a report without subtitles (or an older one)."""
    files, streams = report.get("subtitles") or [], unread_streams(report)
    if not files and not streams:
        return None
    notes = [(f"Stream #{s['index']}", subtitle_stream_words(s)) for s in streams]
    if (shots := shot_changes_words(report)) is not None:
        notes.append(("Shot changes", shots))
    return SubtitlesPart(SUBTITLE_COLUMNS, [subtitle_file_columns(f) for f in files], notes)


def speech_tracks(report: dict[str, Any]) -> list[SpeechTrack]:
    """The Speech section, one entry per listened track (none in older reports)."""
    return [
        SpeechTrack(
            label=speech_track_label(t),
            words=speech_words(t),
            transcript=transcript_words(t),
            unavailable=bool(t.get("transcription_error")),
            lines=[(tc, one_line(text)) for tc, text in transcript_lines(t)],
            capped=transcript_capped(t),
        )
        for t in report.get("speech") or []
    ]


def history_rows(events: list[JobEvent]) -> list[HistoryRow]:
    """The job's history, oldest first, in plain words; worker ids kept in their own column."""
    rows = []
    for ev in events:
        message = ev.message
        if message and ev.worker_id:
            message = message.replace(ev.worker_id, "its worker")
        rows.append(
            HistoryRow(
                at=ev.at,
                what=EVENT_WORDS.get(ev.kind, ev.kind.replace("_", " ").capitalize()),
                attempt=ev.attempt or None,
                worker=ev.worker_id,
                code=ev.code,
                message=message,
                problem=ev.kind in ("failed", "retry_scheduled", "reaped", "fenced"),
            )
        )
    return rows


def source_text(job: Job) -> str:
    """Where the file came from; a Drive job's reference (connection and file ids) and an
    upload's storage location stay internal."""
    if job.source_type == "drive":
        return f"Google Drive: {job.file_name}"
    return "upload" if job.source_type == "upload" else job.source_ref


def facts(job: Job) -> list[tuple[str, str]]:
    """File, profile, project, duration and the rest of the job's particulars."""
    report = job.report or {}
    duration = (report.get("media") or {}).get("duration_s")
    rows = [
        ("File", job.file_name + (f" ({size(job.file_size)})" if job.file_size else "")),
        ("Profile", job.profile + (" (custom)" if job.profile_source else "")),
        ("Project", job.project or "—"),
        ("Duration", number(duration, "s", 2) if duration is not None else "—"),
        ("Source", source_text(job)),
        ("Attempts", f"{job.attempt} of {job.max_attempts}"),
    ]
    return rows


def report_part(job: Job) -> dict[str, Any] | None:
    """The report's sections, or None when the job has no report yet. A report that is not
    in the published shape (written by some other worker) is offered for download only."""
    report = job.report
    if report is None:
        return None
    downloads = [(label, f"/api/qc/jobs/{job.id}/report?format={f}") for label, f in REPORT_FORMATS]
    try:
        return _sections(job, report) | {"downloads": downloads}
    except (KeyError, TypeError, ValueError, AttributeError):
        return {"unreadable": True, "downloads": downloads[:1]}


def _sections(job: Job, report: dict[str, Any]) -> dict[str, Any]:
    thumbnails = report.get("thumbnails") or {}
    missing = thumbnails.get("message") if thumbnails.get("status") == "unavailable" else None
    return {
        "measurements": measurement_rows(report),
        "findings": finding_rows(job, report),
        "timeline": Markup(timeline_svg(report)),  # noqa: S704 - escaped by the renderer
        "loudness": Markup(loudness_svg(report)),  # noqa: S704 - escaped by the renderer
        "pictures_missing": missing,
        "subtitles": subtitles_part(report),
        "speech": speech_tracks(report),
        "speech_plot": Markup(speech_svg(report)),  # noqa: S704 - escaped by the renderer
        "checks": report.get("checks") or [],
    }


def failure(job: Job, settings: Settings) -> NextStep | None:
    """What to do next, for a failed job."""
    if job.state is not JobState.FAILED:
        return None
    return next_step(job.error_code, settings)


def page_context(
    job: Job, events: list[JobEvent], may_act: bool, settings: Settings
) -> dict[str, Any]:
    """Everything the job page's template reads."""
    return {
        "job": job,
        "banner": banner(job),
        "facts": facts(job),
        "report": report_part(job),
        "history": history_rows(events),
        "next_step": failure(job, settings),
        "can_retry": may_act and job.state in RETRYABLE,
        "can_cancel": may_act and job.state in CANCELLABLE,
        "retry_label": "Reprocess" if job.state is JobState.COMPLETED else "Retry",
        "live": job.state in CANCELLABLE,
    }

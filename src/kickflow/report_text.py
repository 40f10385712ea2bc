"""The human summary of a report dict (for ``kickflow check``), and formatting shared with HTML."""

from __future__ import annotations

from collections import Counter
from typing import Any

from kickflow.report_timed_text import (
    shot_changes_words,
    speech_track_label,
    speech_words,
    subtitle_file_label,
    subtitle_file_words,
    subtitle_stream_words,
    transcript_capped,
    transcript_lines,
    transcript_words,
    unread_streams,
)

VERDICT_LABELS = {"passed": "PASSED", "needs_review": "NEEDS REVIEW", "failed": "FAILED"}
STATUS_ORDER = ("failed", "warning", "passed", "skipped")
TRANSCRIPT_LINES = 12  # of each track's transcript in the summary; all of it with ``verbose``


def number(value: float | None, unit: str = "", digits: int = 1) -> str:
    """``-23.0 LUFS``, or an em dash when there is no value."""
    if value is None:
        return "—"
    return f"{value:.{digits}f} {unit}".rstrip()


def size(size_bytes: int) -> str:
    """``1.5 MB``: decimal units, like file managers."""
    units = ("B", "kB", "MB", "GB", "TB")
    value, step = float(size_bytes), 0
    while value >= 1000 and step < len(units) - 1:
        value, step = value / 1000, step + 1
    return f"{size_bytes} B" if step == 0 else f"{value:.1f} {units[step]}"


def video_stream(s: dict[str, Any]) -> str:
    rate = f"{s['frame_rate']:.3f}".rstrip("0").rstrip(".") + " fps" if s.get("frame_rate") else ""
    vfr = " (VFR)" if s.get("variable_frame_rate") else ""
    parts = [s["codec"], f"{s['width']}x{s['height']}", rate + vfr, s.get("scan"), s.get("pix_fmt")]
    return " ".join(str(p) for p in parts if p)


def audio_stream(s: dict[str, Any]) -> str:
    count, layout = s["channels"], s.get("layout") or ""
    # "stereo (2 ch)", but "2 channels" as FFmpeg names unknown layouts
    channels = layout if str(count) in layout else f"{layout} ({count} ch)".lstrip()
    return f"{s['codec']} {s['sample_rate']} Hz {channels}"


def finding_span(f: dict[str, Any]) -> str:
    """``12.00–14.50 s`` (or one time, or ``whole file``)."""
    start, end = f.get("start_s"), f.get("end_s")
    if start is None:
        return "whole file"
    if end is None or abs(end - start) < 0.005:
        return f"{start:.2f} s"
    return f"{start:.2f}–{end:.2f} s"


def loudness_line(report: dict[str, Any]) -> str:
    loud = report["loudness"]
    if not loud.get("measured", True) and loud.get("integrated_lufs") is None:
        return "not measured"
    target = report["profile"].get("loudness", {})
    integrated = number(loud.get("integrated_lufs"), "LUFS")
    if loud.get("integrated_lufs") is None:
        integrated = "below the gate (silent)"
    if target:
        window = f"{target['min_lufs']:g} to {target['max_lufs']:g}"
        integrated += f" (target {target['target_lufs']:g}, {window})"
    peak = number(loud.get("true_peak_dbtp"), "dBTP")
    if target:
        peak += f" (max {target['max_true_peak_dbtp']:g})"
    return f"{integrated}, LRA {number(loud.get('range_lu'), 'LU')}, true peak {peak}"


TIMECODE_ORIGINS = {
    "container": "from the file",
    "override": "overridden",
    "default": "none in the file",
}


def finding_timecode(f: dict[str, Any]) -> str:
    """Where a finding starts at source timecode (older reports: the elapsed timecode)."""
    return str(f.get("timecode_start") or f.get("timecode") or "—")


def timecode_line(report: dict[str, Any]) -> str | None:
    """``10:00:00:00 at 25 fps, non-drop (from the file)``; None for files without video."""
    tc = report.get("timecode") or {}
    if not tc.get("start"):
        return None
    kind = "drop-frame" if tc.get("drop_frame") else "non-drop"
    rate = f"{tc['frame_rate']:g}" if tc.get("frame_rate") else "?"
    origin = TIMECODE_ORIGINS.get(tc.get("source") or "", tc.get("source") or "")
    return f"{tc['start']} at {rate} fps, {kind} ({origin})"


def track_lines(report: dict[str, Any]) -> list[tuple[str, str]]:
    """``("Track 2", "5.1, fra — mix — -12.0 LUFS, LRA 0.0 LU, true peak -9.1 dBTP")`` per
    audio track; none for a report with a single track and no layout (or an older report)."""
    tracks = report.get("audio_tracks") or []
    if len(tracks) < 2 and not report["profile"].get("tracks"):
        return []
    lines = [(f"Track {t['position']}", _track_words(t)) for t in tracks]
    return lines + [(f"Group {g['name']}", _group_words(g)) for g in report.get("audio_groups", [])]


def _group_words(g: dict[str, Any]) -> str:
    loud = g.get("loudness") or {}
    integrated = number(loud.get("integrated_lufs"), "LUFS")
    if loud.get("integrated_lufs") is None:
        integrated = "below the gate (silent)"
    members = ", ".join(str(p) for p in g["tracks"])
    lra = number(loud.get("range_lu"), "LU")
    return f"{g['layout']} of tracks {members} — {integrated}, LRA {lra}"


def _track_words(t: dict[str, Any]) -> str:
    stream = audio_stream(t)
    tags = ", ".join(
        p for p in (t.get("language"), f"“{t['title']}”" if t.get("title") else "") if p
    )
    role = t.get("role") or "not in the layout"
    loud = t.get("loudness") or {}
    integrated = number(loud.get("integrated_lufs"), "LUFS")
    if loud.get("integrated_lufs") is None:
        integrated = "below the gate (silent)"
    peak = number(loud.get("true_peak_dbtp"), "dBTP")
    lra = number(loud.get("range_lu"), "LU")
    head = f"{stream}, {tags}" if tags else stream
    return f"{head} — {role} — {integrated}, LRA {lra}, true peak {peak}"


def severity_counts(findings: list[dict[str, Any]]) -> str:
    counts = Counter(f["severity"] for f in findings)
    parts = [
        f"{counts[s]} {s}{'s' if counts[s] != 1 else ''}" for s in ("error", "warning", "info")
    ]
    return ", ".join(p for p in parts if not p.startswith("0 ")) or "no findings"


def render_text(report: dict[str, Any], *, verbose: bool = False) -> str:
    """Verdict, key measurements, problem checks and findings with timecodes, as plain text."""
    lines = [*_header(report), "", *_media(report)]
    for section in (_subtitles(report), _speech(report, verbose=verbose)):
        lines += ["", *section] if section else []
    lines += ["", *_checks(report, verbose=verbose)]
    findings = report["findings"]
    if findings:
        lines += ["", f"Findings ({len(findings)}):"]
        lines += [_finding_line(f) for f in findings]
    return "\n".join(lines) + "\n"


def _header(report: dict[str, Any]) -> list[str]:
    profile = report["profile"]
    description = f" — {profile['description']}" if profile.get("description") else ""
    verdict = VERDICT_LABELS.get(report["verdict"], report["verdict"])
    return [
        f"File:      {report['input']['name']} ({size(report['input']['size_bytes'])})",
        f"Profile:   {profile['name']}{description}",
        f"Verdict:   {verdict} ({severity_counts(report['findings'])})",
    ]


def _media(report: dict[str, Any]) -> list[str]:
    media = report["media"]
    lines = [f"Media:     {number(media.get('duration_s'), 's', 2)}, {media['format']}"]
    if (tc := timecode_line(report)) is not None:
        lines.append(f"Timecode:  {tc}")
    lines += [f"Video:     {video_stream(s)}" for s in media["video"]]
    lines += [f"Audio:     {audio_stream(s)}" for s in media["audio"]]
    lines.append(f"Loudness:  {loudness_line(report)}")
    lines += [f"{name + ':':<10} {words}" for name, words in track_lines(report)]
    return lines


def _subtitles(report: dict[str, Any]) -> list[str]:
    """The subtitle files and streams; nothing for a report without any (or an older one)."""
    files, streams = report.get("subtitles") or [], unread_streams(report)
    lines = [f"  {subtitle_file_label(f)}: {subtitle_file_words(f)}" for f in files]
    lines += [f"  stream #{s['index']}: {subtitle_stream_words(s)}" for s in streams]
    if (shots := shot_changes_words(report)) is not None and lines:
        lines.append(f"  {shots}")
    return ["Subtitles:", *lines] if lines else []


def _speech(report: dict[str, Any], *, verbose: bool) -> list[str]:
    """Each listened track: its speech, then its transcript (the first lines unless verbose)."""
    lines = []
    for t in report.get("speech") or []:
        lines.append(f"  {speech_track_label(t)}: {speech_words(t)}")
        if (words := transcript_words(t)) is not None:
            lines.append(f"    {words}")
        said = transcript_lines(t)
        shown = said if verbose else said[:TRANSCRIPT_LINES]
        lines += [f"      {tc:<12} {one_line(text)}" for tc, text in shown]
        if len(shown) < len(said):
            lines.append(
                f"      … {len(said) - len(shown)} more lines in the JSON and HTML reports"
            )
        elif transcript_capped(t):
            lines.append("      … the rest is not kept in the report")
    return ["Speech:", *lines] if lines else []


def one_line(text: str) -> str:
    """A subtitle's or transcript's lines on one line, `` / `` where each line broke."""
    return " / ".join(part.strip() for part in text.splitlines() if part.strip())


def _checks(report: dict[str, Any], *, verbose: bool) -> list[str]:
    checks = report["checks"]
    counts = Counter(c["status"] for c in checks)
    lines = ["Checks:    " + ", ".join(f"{counts[s]} {s}" for s in STATUS_ORDER if counts[s])]
    shown = checks if verbose else [c for c in checks if c["status"] in ("failed", "warning")]
    ordered = sorted(shown, key=lambda c: STATUS_ORDER.index(c["status"]))
    width = max((len(c["id"]) for c in ordered), default=0)
    lines += [f"  {c['status']:<8} {c['id']:<{width}}  {c['summary']}" for c in ordered]
    return lines


def _finding_line(f: dict[str, Any]) -> str:
    tc = finding_timecode(f)
    return (
        f"  {f['severity'].upper():<7} {tc:<12} {finding_span(f):<17} {f['check']}: {f['message']}"
    )

"""One self-contained HTML page from a report dict: no scripts, no network, inline SVG plots."""

from __future__ import annotations

from html import escape
from typing import Any

from kickflow.report_text import (
    VERDICT_LABELS,
    audio_stream,
    finding_span,
    finding_timecode,
    loudness_line,
    number,
    one_line,
    severity_counts,
    size,
    timecode_line,
    track_lines,
    video_stream,
)
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

COLOURS = {"error": "#c62828", "warning": "#ef8f00", "info": "#1e63b4"}
VERDICT_COLOURS = {"passed": "#2e7d32", "needs_review": "#ef8f00", "failed": "#c62828"}
WIDTH, LABEL_W, PAD = 960, 170, 12
RIGHT = 30  # room for the last tick's label
PLOT_W = WIDTH - LABEL_W - RIGHT
LANE_H, LANE_GAP, AXIS_H = 16, 6, 22
PLOT_H, FLOOR_LUFS, MAX_POINTS = 220, -60.0, 1200
TICK_STEPS = (1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200)
STRIP_W, STRIP_H, STRIP_PAD_S, STRIP_POINTS = 240, 48, 5.0, 120  # level strips of findings

STYLE = """
body{font:14px/1.45 system-ui,sans-serif;margin:0 auto;max-width:1000px;padding:16px;color:#222}
.banner{color:#fff;padding:14px 18px;border-radius:6px}
.banner h1{margin:0;font-size:26px}.banner p{margin:4px 0 0}
table{border-collapse:collapse;width:100%;margin:8px 0 20px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid #ddd;vertical-align:top}
th{background:#f4f4f4}td.num{white-space:nowrap;font-variant-numeric:tabular-nums}
.error{color:#c62828;font-weight:600}.warning{color:#b86e00;font-weight:600}.info{color:#1e63b4}
.failed{color:#c62828;font-weight:600}.skipped{color:#888}.passed{color:#2e7d32}
svg{display:block;max-width:100%;height:auto}svg text{font:11px system-ui,sans-serif;fill:#444}
summary{cursor:pointer}ol.transcript{padding-left:0;list-style:none}
ol.transcript li{margin:2px 0}ol.transcript .tc{font-variant-numeric:tabular-nums;color:#555;
margin-right:8px;user-select:all}.unavailable{color:#b86e00;font-weight:600}
"""


def render_html(report: dict[str, Any]) -> str:
    """The whole page: banner, measurements, findings timeline, loudness curve, tables."""
    name = escape(report["input"]["name"])
    parts = [
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>KickFlow QC — {name}</title><style>{STYLE}</style></head><body>",
        _banner(report),
        "<h2>Measurements</h2>",
        _measurements_table(report),
        "<h2>Findings timeline</h2>",
        timeline_svg(report),
        "<h2>Loudness</h2>",
        loudness_svg(report),
        f"<h2>Findings ({len(report['findings'])})</h2>",
        _findings_table(report),
        subtitles_section(report),
        _speech_section(report),
        "<h2>Checks</h2>",
        checks_table(report),
        f"<p>Generated {escape(str(report.get('generated_at', '')))} by KickFlow QC.</p>",
        "</body></html>\n",
    ]
    return "\n".join(p for p in parts if p)  # sections a report lacks leave no blank line


def _banner(report: dict[str, Any]) -> str:
    verdict = report["verdict"]
    colour = VERDICT_COLOURS.get(verdict, "#555")
    label = escape(VERDICT_LABELS.get(verdict, verdict))
    counts = escape(severity_counts(report["findings"]))
    return (
        f'<div class="banner" style="background:{colour}"><h1>{label}</h1>'
        f"<p>{escape(report['input']['name'])} · profile {escape(report['profile']['name'])}"
        f" · {counts}</p></div>"
    )


def key_value_table(rows: list[tuple[str, str]]) -> str:
    body = "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows)
    return f"<table>{body}</table>"


def _measurements_table(report: dict[str, Any]) -> str:
    return key_value_table(measurement_rows(report))


def measurement_rows(report: dict[str, Any]) -> list[tuple[str, str]]:
    """The measurements as (label, value) rows: this page and the dashboard's job page."""
    media, loud, extra = report["media"], report["loudness"], report.get("measurements", {})
    profile = report["profile"]
    rows = [
        ("File", f"{report['input']['name']} ({size(report['input']['size_bytes'])})"),
        ("Profile", f"{profile['name']} — {profile.get('description', '')}".rstrip(" —")),
        ("Duration", number(media.get("duration_s"), "s", 2)),
        ("Container", media["format"]),
    ]
    if (tc := timecode_line(report)) is not None:
        rows.append(("Source timecode", tc))
    rows += [("Video", video_stream(s)) for s in media["video"]]
    rows += [("Audio", audio_stream(s)) for s in media["audio"]]
    rows += [
        ("Loudness", loudness_line(report)),
        *track_lines(report),
        ("Sample peak", number(loud.get("sample_peak_dbfs"), "dBFS")),
        ("Levels", _levels_text(extra.get("video"))),
        ("Decode errors", str((extra.get("decode_errors") or {}).get("count", 0))),
        ("Analysis time", number(extra.get("analysis_seconds"), "s")),
    ]
    return rows


def _levels_text(video: dict[str, Any] | None) -> str:
    summary = (video or {}).get("levels_summary")
    if not summary:
        return "not measured"
    return (
        f"worst {summary['max_out_of_range']:.2%} of pixels out of range "
        f"at {summary['max_out_of_range_t']:.2f} s; Y {summary['y_min']:g}–{summary['y_max']:g}"
    )


def _findings_table(report: dict[str, Any]) -> str:
    if not report["findings"]:
        return "<p>No findings.</p>"
    head = "<tr><th>Severity</th><th>Timecode</th><th>Time</th><th>Check</th><th>Finding</th></tr>"
    rows = [
        f'<tr><td class="{escape(f["severity"])}">{escape(f["severity"])}</td>'
        f'<td class="num">{escape(finding_timecode(f))}</td>'
        f'<td class="num">{escape(finding_span(f))}</td>'
        f"<td>{escape(f['check'])}</td><td>{escape(f['message'])}</td></tr>"
        for f in report["findings"]
    ]
    return f"<table>{head}{''.join(rows)}</table>"


def subtitles_section(report: dict[str, Any]) -> str:
    """The subtitle files and streams; "" for a report without any (or an older one)."""
    files, streams = report.get("subtitles") or [], unread_streams(report)
    if not files and not streams:
        return ""
    parts = ["<h2>Subtitles</h2>"]
    if files:
        head = "".join(f"<th>{escape(c)}</th>" for c in SUBTITLE_COLUMNS)
        body = "".join(
            "<tr>" + "".join(f"<td>{escape(c)}</td>" for c in subtitle_file_columns(f)) + "</tr>"
            for f in files
        )
        parts.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
    rows = [(f"Stream #{s['index']}", subtitle_stream_words(s)) for s in streams]
    if (shots := shot_changes_words(report)) is not None:
        rows.append(("Shot changes", shots))
    return "\n".join(parts + ([key_value_table(rows)] if rows else []))


def _speech_section(report: dict[str, Any]) -> str:
    """Per listened track: its speech, then its transcript folded away under a summary."""
    tracks = report.get("speech") or []
    if not tracks:
        return ""
    parts = ["<h2>Speech</h2>", speech_svg(report), *(_speech_track(t) for t in tracks)]
    return "\n".join(parts)


def speech_svg(report: dict[str, Any]) -> str:
    """One lane per listened track with its speech segments, and the shot changes, over the
    programme: where each track speaks (a dub against its original) at a glance."""
    tracks = report.get("speech") or []
    shots = (report.get("shot_changes") or {}).get("times_s") or []
    lanes = len(tracks) + (1 if shots else 0)
    duration, height = _duration(report), lanes * (LANE_H + LANE_GAP) + AXIS_H + PAD
    body = []
    for row, t in enumerate(tracks):
        y = PAD / 2 + row * (LANE_H + LANE_GAP)
        body.append(_lane(y, f"Track {t['position']}"))
        body += [_span(s["start_s"], s["end_s"], y, duration, "#1e63b4") for s in t["segments"]]
    if shots:
        y = PAD / 2 + len(tracks) * (LANE_H + LANE_GAP)
        body.append(_lane(y, "Shot changes"))
        body += [_span(cut, cut, y, duration, "#555") for cut in shots]
    body.append(_axis(duration, LABEL_W, PLOT_W, height - AXIS_H))
    return _svg(height, "Speech over the programme", body)


def _lane(y: float, label: str) -> str:
    return (
        f'<rect x="{LABEL_W}" y="{y:.1f}" width="{PLOT_W}" height="{LANE_H}" fill="#f2f2f2"/>'
        f'<text x="4" y="{y + LANE_H - 4:.1f}">{escape(label)}</text>'
    )


def _span(start: float, end: float, y: float, duration: float, colour: str) -> str:
    x = LABEL_W + PLOT_W * min(max(start, 0.0), duration) / duration
    w = max(1.0, PLOT_W * (min(end, duration) - max(start, 0.0)) / duration)
    return f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{LANE_H}" fill="{colour}"/>'


def _speech_track(t: dict[str, Any]) -> str:
    head = f"<h3>{escape(speech_track_label(t))}</h3><p>{escape(speech_words(t))}</p>"
    words = transcript_words(t)
    if words is None:
        return head
    if t.get("transcription_error"):
        return f'{head}<p class="unavailable">{escape(words)}</p>'
    if not transcript_lines(t):  # nothing was heard: nothing to unfold
        return f"{head}<p>{escape(words)}</p>"
    items = "".join(
        f'<li><span class="tc">{escape(tc)}</span>{escape(one_line(text))}</li>'
        for tc, text in transcript_lines(t)
    )
    rest = (
        "<p>The rest of the transcript is not kept in the report.</p>"
        if transcript_capped(t)
        else ""
    )
    return (
        f"{head}<details><summary>{escape(words)}</summary>"
        f'<ol class="transcript">{items}</ol>{rest}</details>'
    )


def checks_table(report: dict[str, Any]) -> str:
    """Every check with its status and summary (a header row that printing repeats)."""
    rows = "".join(
        f'<tr><td>{escape(c["id"])}</td><td class="{escape(c["status"])}">'
        f"{escape(c['status'])}</td><td>{escape(c['summary'])}</td></tr>"
        for c in report["checks"]
    )
    head = "<thead><tr><th>Check</th><th>Status</th><th>Summary</th></tr></thead>"
    return f"<table>{head}<tbody>{rows}</tbody></table>"


def _duration(report: dict[str, Any]) -> float:
    """The time axis' length: the file's duration, else the last thing plotted."""
    ends = [f["end_s"] or f["start_s"] for f in report["findings"] if f.get("start_s") is not None]
    ends += [p["t"] for p in report["loudness"].get("curve", [])[-1:]]
    return float(report["media"].get("duration_s") or max(ends, default=0.0) or 1.0)


def _axis(duration: float, left: float, width: float, y: float) -> str:
    """Time ticks along a horizontal axis at ``y``."""
    step = next((s for s in TICK_STEPS if duration / s <= 10), TICK_STEPS[-1])
    marks = []
    for i in range(int(duration // step) + 1):
        x = left + width * i * step / duration
        marks.append(
            f'<line x1="{x:.1f}" y1="{y:.1f}" x2="{x:.1f}" y2="{y + 4:.1f}" stroke="#888"/>'
            f'<text x="{x:.1f}" y="{y + 15:.1f}" text-anchor="middle">{_clock(i * step)}</text>'
        )
    line = f'<line x1="{left}" y1="{y}" x2="{left + width}" y2="{y}" stroke="#888"/>'
    return line + "".join(marks)


def _clock(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def timeline_svg(report: dict[str, Any]) -> str:
    """One lane per check with timed findings; bars coloured by severity, hover for the text."""
    timed = [f for f in report["findings"] if f.get("start_s") is not None]
    lanes = list(dict.fromkeys(f["check"] for f in timed))
    duration, plot_w = _duration(report), PLOT_W
    height = max(1, len(lanes)) * (LANE_H + LANE_GAP) + AXIS_H + PAD
    body = [] if lanes else [f'<text x="{LABEL_W}" y="{LANE_H}">No timed findings</text>']
    for row, check in enumerate(lanes):
        y = PAD / 2 + row * (LANE_H + LANE_GAP)
        body.append(
            f'<rect x="{LABEL_W}" y="{y:.1f}" width="{plot_w}" height="{LANE_H}" fill="#f2f2f2"/>'
            f'<text x="4" y="{y + LANE_H - 4:.1f}">{escape(check)}</text>'
        )
        body += [_bar(f, y, duration, plot_w) for f in timed if f["check"] == check]
    body.append(_axis(duration, LABEL_W, plot_w, height - AXIS_H))
    return _svg(height, "Findings over the file's duration", body)


def _bar(f: dict[str, Any], y: float, duration: float, plot_w: float) -> str:
    start = min(max(f["start_s"], 0.0), duration)
    end = min(max(f["end_s"] if f.get("end_s") is not None else start, start), duration)
    x = LABEL_W + plot_w * start / duration
    w = max(2.0, plot_w * (end - start) / duration)
    colour = COLOURS.get(f["severity"], "#666")
    tip = escape(f"{finding_timecode(f)} {finding_span(f)} — {f['message']}")
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{LANE_H}" fill="{colour}">'
        f"<title>{tip}</title></rect>"
    )


def _svg(height: float, label: str, body: list[str]) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {height:.0f}" '
        f'width="{WIDTH}" height="{height:.0f}" role="img" aria-label="{escape(label)}">'
        + "".join(body)
        + "</svg>"
    )


def loudness_svg(report: dict[str, Any]) -> str:
    """Momentary and short-term loudness over time, with the target and its tolerance band."""
    curve = report["loudness"].get("curve") or []
    if not curve:
        return "<p>No loudness curve (no audio analysed).</p>"
    duration, plot_w = _duration(report), PLOT_W
    body = [_loudness_grid(plot_w), *_target_marks(report, plot_w)]
    for key, colour, width in (("momentary", "#9ec5ee", 1), ("short_term", "#1e4f91", 1.6)):
        points = " ".join(f"{x:.1f},{y:.1f}" for x, y in _curve_points(curve, key, duration))
        body.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="{width}">'
            f"<title>{key.replace('_', '-')} loudness</title></polyline>"
        )
    body.append(_axis(duration, LABEL_W, plot_w, PAD + PLOT_H))
    body.append(_legend())
    return _svg(PAD + PLOT_H + AXIS_H + 18, "Loudness curve", body)


def _depth(value: float | None) -> float:
    """How far down a loudness sits, 0 (0 LUFS) to 1 (the floor)."""
    # Values below the floor (and gated silence, None) sit on the floor.
    lufs = max(FLOOR_LUFS, min(0.0, value if value is not None else FLOOR_LUFS))
    return lufs / FLOOR_LUFS


def _lufs_y(value: float | None) -> float:
    return PAD + PLOT_H * _depth(value)


def _loudness_grid(plot_w: float) -> str:
    lines = []
    for lufs in range(0, int(FLOOR_LUFS), -10):  # the floor itself is the time axis
        y = _lufs_y(lufs)
        lines.append(
            f'<line x1="{LABEL_W}" y1="{y:.1f}" x2="{LABEL_W + plot_w}" y2="{y:.1f}" '
            f'stroke="#e4e4e4"/><text x="{LABEL_W - 6}" y="{y + 4:.1f}" '
            f'text-anchor="end">{lufs} LUFS</text>'
        )
    return "".join(lines)


def _target_marks(report: dict[str, Any], plot_w: float) -> list[str]:
    target = report["profile"].get("loudness")
    if not target:
        return []
    top, bottom = _lufs_y(target["max_lufs"]), _lufs_y(target["min_lufs"])
    y = _lufs_y(target["target_lufs"])
    return [
        f'<rect x="{LABEL_W}" y="{top:.1f}" width="{plot_w}" height="{bottom - top:.1f}" '
        f'fill="#2e7d32" fill-opacity="0.12"/>',
        f'<line x1="{LABEL_W}" y1="{y:.1f}" x2="{LABEL_W + plot_w}" y2="{y:.1f}" '
        f'stroke="#2e7d32" stroke-dasharray="6 4"><title>target {target["target_lufs"]:g} LUFS'
        f"</title></line>",
    ]


def _loudest(
    curve: list[dict[str, Any]], key: str, max_points: int
) -> list[tuple[float, float | None]]:
    """(time, value) at most ``max_points`` times: each bucket keeps its loudest value."""
    step = max(1, -(-len(curve) // max_points))
    points = []
    for i in range(0, len(curve), step):
        bucket = curve[i : i + step]
        values = [p[key] for p in bucket if p.get(key) is not None]
        points.append((float(bucket[0]["t"]), max(values) if values else None))
    return points


def _curve_points(
    curve: list[dict[str, Any]], key: str, duration: float
) -> list[tuple[float, float]]:
    """Screen points of the loudness plot, at most MAX_POINTS."""
    return [
        (LABEL_W + PLOT_W * min(t, duration) / duration, _lufs_y(value))
        for t, value in _loudest(curve, key, MAX_POINTS)
    ]


def _legend() -> str:
    y = PAD + PLOT_H + AXIS_H + 12
    items = [("#9ec5ee", "momentary"), ("#1e4f91", "short-term"), ("#2e7d32", "target ± tolerance")]
    out = []
    for i, (colour, text) in enumerate(items):
        x = LABEL_W + i * 150
        out.append(
            f'<rect x="{x}" y="{y - 9}" width="14" height="4" fill="{colour}"/>'
            f'<text x="{x + 20}" y="{y - 4}">{text}</text>'
        )
    return "".join(out)


def level_strip_svg(report: dict[str, Any], finding: dict[str, Any]) -> str:
    """A small plot of the loudness around a timed finding: momentary and short-term, the
    target line, and the finding's span shaded; "" when the curve does not cover it."""
    start = finding.get("start_s")
    if start is None:
        return ""
    start = float(start)
    end = float(finding["end_s"]) if finding.get("end_s") is not None else start
    pad = max(STRIP_PAD_S, (end - start) / 2)
    low, high = max(0.0, start - pad), end + pad
    window = [p for p in report["loudness"].get("curve") or [] if low <= p["t"] <= high]
    if len(window) < 2:
        return ""

    def x(t: float) -> float:
        return STRIP_W * (min(max(t, low), high) - low) / (high - low)

    colour = COLOURS.get(finding["severity"], "#666")
    body = [
        f'<rect width="{STRIP_W}" height="{STRIP_H}" fill="#f7f7f7"/>',
        f'<rect x="{x(start):.1f}" width="{max(2.0, x(end) - x(start)):.1f}" '
        f'height="{STRIP_H}" fill="{colour}" fill-opacity="0.18"/>',
    ]
    target = (report["profile"].get("loudness") or {}).get("target_lufs")
    if target is not None:
        y = STRIP_H * _depth(target)
        body.append(
            f'<line x1="0" y1="{y:.1f}" x2="{STRIP_W}" y2="{y:.1f}" stroke="#2e7d32" '
            f'stroke-dasharray="4 3"><title>target {target:g} LUFS</title></line>'
        )
    for key, stroke in (("momentary", "#9ec5ee"), ("short_term", "#1e4f91")):
        points = " ".join(
            f"{x(t):.1f},{STRIP_H * _depth(v):.1f}" for t, v in _loudest(window, key, STRIP_POINTS)
        )
        body.append(f'<polyline points="{points}" fill="none" stroke="{stroke}"/>')
    label = f"Loudness from {low:.1f} s to {high:.1f} s"
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="level-strip" viewBox="0 0 {STRIP_W} '
        f'{STRIP_H}" width="{STRIP_W}" height="{STRIP_H}" role="img" aria-label="{label}">'
        f"<title>{label}</title>{''.join(body)}</svg>"
    )

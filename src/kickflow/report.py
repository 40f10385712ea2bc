"""The QC report: verdict, check results, findings and measurements, as an object and as JSON.

The dict form (``Report.to_dict``) is the stored and published shape; every renderer (HTML, CSV,
text) works from it, so a stored report can be re-rendered without the measurements objects.

A worker adds the pictures of video findings to it (:mod:`kickflow.worker.thumbnails`):
``thumbnails``, ``artifacts`` and a finding's ``thumbnail``. Fields are only ever added within a
schema version (readers ignore what they do not know); removing or changing one bumps it.
"""

from __future__ import annotations

import csv
import io
import math
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Literal

from kickflow.checks import CheckResult, Finding, run_checks
from kickflow.checks.delivery import delivery_info
from kickflow.media.model import (
    AudioAnalysis,
    AudioStream,
    AudioTrack,
    DecodeErrors,
    GroupLoudness,
    LevelSample,
    Loudness,
    Measurements,
    MediaInfo,
    VideoAnalysis,
    from_json,
)
from kickflow.media.pse import PseAnalysis
from kickflow.media.timecode import SourceTimecode, source_timecode
from kickflow.profiles import Profile
from kickflow.report_html import render_html
from kickflow.report_text import render_text
from kickflow.report_timed_text import SECTION_KEYS, timed_text_sections

__all__ = [
    "Report",
    "build_report",
    "render_csv",
    "render_html",
    "render_text",
    "timecode",
    "verdict_of",
]

# 2: ``audio_tracks`` (one section per audio stream), ``audio_groups`` (mono tracks measured
# together) and the ``audio.layout`` check; the
# version-1 fields stay, equal to track 1 (``loudness``, ``measurements.audio``).
# 3: ``subtitles`` (one summary per subtitle file), ``subtitle_streams``, ``shot_changes`` and
# ``speech`` (per listened track, with its transcript); see :mod:`kickflow.report_timed_text`.
# Reports of versions 1 and 2 lack them and still load and render.
SCHEMA_VERSION = 3
Verdict = Literal["passed", "needs_review", "failed"]
MAX_LEVEL_SAMPLES = 1000
# Source timecode columns last: readers that take the first six columns by position keep working.
CSV_COLUMNS = (
    "check",
    "severity",
    "start_s",
    "end_s",
    "timecode",
    "message",
    "timecode_start",
    "timecode_end",
)


def verdict_of(findings: list[Finding]) -> Verdict:
    """``failed`` on any error, ``needs_review`` on any warning, else ``passed``."""
    severities = {f.severity for f in findings}
    if "error" in severities:
        return "failed"
    return "needs_review" if "warning" in severities else "passed"


def timecode(seconds: float, fps: float | None) -> str:
    """``HH:MM:SS:FF`` at ``fps`` (non-drop, counted at the nominal rate), else ``HH:MM:SS.mmm``."""
    seconds = max(0.0, seconds)
    if not fps or fps < 1:  # no video, or a slide show where frame counts mean nothing
        millis = round(seconds * 1000)
        hours, rest = divmod(millis, 3_600_000)
        minutes, rest = divmod(rest, 60_000)
        return f"{hours:02d}:{minutes:02d}:{rest // 1000:02d}.{rest % 1000:03d}"
    # Like an editing system: frames are counted, and 23.976 fps counts 24 to the second.
    base = round(fps)
    frame = math.floor(seconds * fps + 1e-3)  # tolerate float noise just below a frame edge
    whole, frames = divmod(frame, base)
    hours, rest = divmod(whole, 3600)
    return f"{hours:02d}:{rest // 60:02d}:{rest % 60:02d}:{frames:02d}"


@dataclass
class Report:
    """One file's QC outcome against one profile."""

    input_name: str
    size_bytes: int
    profile_name: str
    verdict: Verdict
    checks: list[CheckResult]
    findings: list[Finding]
    measurements: Measurements
    profile_info: dict[str, Any] = field(default_factory=dict)
    generated_at: str = ""
    timecode_override: str | None = None  # --timecode-start: replaces the container's start
    # The file name, the profile's convention and the parts parsed from it (exports use them).
    delivery: dict[str, Any] = field(default_factory=dict)
    # A report read back from its dict: its timed-text and speech sections as stored. They are
    # summaries (no cues, capped segments), so they are written out again as they were.
    stored_sections: dict[str, Any] = field(default_factory=dict)

    @property
    def fps(self) -> float | None:
        return self.measurements.media.primary_frame_rate

    @property
    def source_timecode(self) -> SourceTimecode | None:
        """Where the file sits on the edit: its start timecode and rate (None without video)."""
        media = self.measurements.media
        return source_timecode(self.fps, media.timecode, self.timecode_override)

    def to_dict(self) -> dict[str, Any]:
        """The published JSON shape (see SCHEMA_VERSION); floats are finite or None."""
        m = self.measurements
        source = self.source_timecode  # parsed once, for the header and every finding
        data = {
            "schema_version": SCHEMA_VERSION,
            "input": {
                "name": self.input_name,
                "size_bytes": self.size_bytes,
            },
            "profile": {"name": self.profile_name, **self.profile_info},
            "verdict": self.verdict,
            "media": _media_dict(m.media),
            "timecode": _timecode_dict(source),
            "loudness": _loudness_dict(m.loudness),
            "audio_tracks": _tracks_dict(m, self.profile_info.get("tracks") or []),
            "audio_groups": [
                {
                    "name": g.name,
                    "tracks": list(g.positions),
                    "layout": g.layout,
                    "loudness": _loudness_dict(g.loudness),
                }
                for g in m.audio_groups
            ],
            "checks": [{"id": c.id, "status": c.status, "summary": c.summary} for c in self.checks],
            "findings": [self._finding_dict(f, source) for f in self.findings],
            "measurements": _measurements_dict(m),
            **self._timed_text(source),
            "delivery": self.delivery or _no_delivery(self.input_name),
            "generated_at": self.generated_at,
        }
        finite: dict[str, Any] = _finite(data)
        return finite

    def _timed_text(self, source: SourceTimecode | None) -> dict[str, Any]:
        layout = self.profile_info.get("tracks") or []
        made = timed_text_sections(
            self.measurements, layout, lambda t: _source_tc(source, t, self.fps)
        )
        return {key: self.stored_sections.get(key, made[key]) for key in SECTION_KEYS}

    def _finding_dict(self, f: Finding, source: SourceTimecode | None) -> dict[str, Any]:
        return {
            "check": f.check,
            "severity": f.severity,
            "start_s": f.start_s,
            "end_s": f.end_s,
            "timecode": timecode(f.start_s, self.fps) if f.start_s is not None else None,
            "end_timecode": timecode(f.end_s, self.fps) if f.end_s is not None else None,
            "timecode_start": _source_tc(source, f.start_s, self.fps),
            "timecode_end": _source_tc(source, f.end_s, self.fps),
            "message": f.message,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Report:
        """Rebuild a report from ``to_dict`` output (level samples come back thinned)."""
        findings = [Finding(**{k: f[k] for k in _FINDING_KEYS}) for f in d["findings"]]
        checks = [
            CheckResult(
                c["id"], c["status"], c["summary"], [f for f in findings if f.check == c["id"]]
            )
            for c in d["checks"]
        ]
        profile = dict(d["profile"])
        return cls(
            input_name=d["input"]["name"],
            size_bytes=d["input"]["size_bytes"],
            profile_name=profile.pop("name"),
            verdict=d["verdict"],
            checks=checks,
            findings=findings,
            measurements=_measurements_from(d),
            profile_info=profile,
            generated_at=d.get("generated_at", ""),
            timecode_override=_override_of(d.get("timecode")),
            delivery=d.get("delivery") or {},
            stored_sections={key: d[key] for key in SECTION_KEYS if key in d},
        )


_FINDING_KEYS = ("check", "severity", "start_s", "end_s", "message")


def build_report(
    m: Measurements,
    profile: Profile,
    *,
    input_name: str,
    size_bytes: int,
    timecode_start: str | None = None,
) -> Report:
    """Run every check of ``profile`` on ``m`` and assemble the report.

    ``timecode_start`` overrides the source's start timecode (checked here: a bad one raises
    :class:`~kickflow.errors.TimecodeInvalid` before any check runs).
    """
    source_timecode(m.media.primary_frame_rate, m.media.timecode, timecode_start)
    checks = run_checks(m, profile, input_name)
    findings = [f for c in checks for f in c.findings]
    # Whole-file findings first, then in time order; the sort is stable, so check order breaks ties.
    findings.sort(key=lambda f: -1.0 if f.start_s is None else f.start_s)
    return Report(
        input_name=input_name,
        size_bytes=size_bytes,
        profile_name=profile.name,
        verdict=verdict_of(findings),
        checks=checks,
        findings=findings,
        measurements=m,
        profile_info=_profile_info(profile),
        generated_at=datetime.now(UTC).isoformat(timespec="seconds"),
        timecode_override=timecode_start,
        delivery=delivery_info(profile, input_name),
    )


def _no_delivery(input_name: str) -> dict[str, Any]:
    """The ``delivery`` section of a report stored before it existed: no convention applied."""
    return {"file_name": input_name, "file_name_pattern": None, "file_name_parts": None}


def _timecode_dict(source: SourceTimecode | None) -> dict[str, Any]:
    """The report header's source timecode: start, rate, drop-frame, and where it came from."""
    if source is None:
        empty = dict.fromkeys(("start", "frame_rate", "rate_label", "source"))
        return {**empty, "drop_frame": False}
    return {
        "start": source.start,
        "frame_rate": round(float(source.rate.fps), 3),
        "drop_frame": source.rate.drop_frame,
        "rate_label": source.rate.label,
        "source": source.origin,
    }


def _source_tc(
    source: SourceTimecode | None, seconds: float | None, fps: float | None
) -> str | None:
    """A finding's time at source timecode; the elapsed clock when the file has no frame rate."""
    if seconds is None:
        return None
    return source.at(seconds) if source is not None else timecode(seconds, fps)


def _override_of(header: dict[str, Any] | None) -> str | None:
    if header and header.get("source") == "override":
        start: str | None = header.get("start")
        return start
    return None


def _profile_info(profile: Profile) -> dict[str, Any]:
    """What renderers need from the profile: its description and loudness targets."""
    spec = profile.loudness
    return {
        "description": profile.description,
        "loudness": {
            "standard": spec.standard,
            "target_lufs": spec.target_lufs,
            "min_lufs": spec.min_lufs,
            "max_lufs": spec.max_lufs,
            "max_true_peak_dbtp": spec.max_true_peak_dbtp,
            "max_lra_lu": spec.max_lra_lu,
        },
        "tracks": _layout_info(profile),
    }


def _layout_info(profile: Profile) -> list[dict[str, Any]]:
    """The profile's track layout, for the report's per-track ``role``."""
    return [
        {
            "role": t.role,
            "layout": t.layout,
            "channels": t.expected_channels,
            "channel": t.channel,
            "language": t.expected_language,
            "loudness_targeted": t.loudness,
            "target_lufs": t.target_lufs,
            "checks": list(t.checks),
        }
        for t in profile.audio.tracks
    ]


def _tracks_dict(m: Measurements, layout: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One section per analysed audio track: the stream, the layout role at its place, and
    its measurements (the shapes of the version-1 ``loudness`` and ``measurements.audio``)."""
    return [
        {
            "position": t.position,
            "index": t.stream.index,
            "codec": t.stream.codec,
            "sample_rate": t.stream.sample_rate,
            "channels": t.stream.channels,
            "layout": t.stream.layout,
            "language": t.stream.language,
            "title": t.stream.title,
            "role": layout[t.position - 1]["role"] if t.position <= len(layout) else None,
            "expected": layout[t.position - 1] if t.position <= len(layout) else None,
            "loudness": _loudness_dict(t.loudness),
            "audio": asdict(t.audio),
        }
        for t in m.audio_tracks
    ]


def _tracks_from(d: dict[str, Any], media: MediaInfo) -> tuple[AudioTrack, ...]:
    streams = {s.index: s for s in media.audio}
    tracks = []
    for t in d.get("audio_tracks") or []:
        stream = streams.get(t["index"]) or from_json(
            AudioStream, {"start_s": 0.0, "duration_s": None} | t
        )
        tracks.append(
            AudioTrack(
                t["position"],
                stream,
                from_json(Loudness, t["loudness"]),  # from_json skips ``measured``
                from_json(AudioAnalysis, t["audio"]),
            )
        )
    return tuple(tracks)


def _media_dict(media: MediaInfo) -> dict[str, Any]:
    return {
        "duration_s": media.duration_s,
        "format": media.format_name,
        "bit_rate": media.bit_rate,
        "video": [asdict(s) for s in media.video],
        "audio": [asdict(s) for s in media.audio],
        "subtitle_streams": media.subtitle_streams,
        "data_streams": media.data_streams,
        "timecode": media.timecode,
    }


def _loudness_dict(loudness: Loudness | None) -> dict[str, Any]:
    if loudness is None:
        empty = dict.fromkeys(("integrated_lufs", "range_lu", "true_peak_dbtp", "sample_peak_dbfs"))
        channels = ("channel_true_peaks_dbtp", "channel_sample_peaks_dbfs")
        peaks = {key: list[float]() for key in channels}
        return {**empty, **peaks, "curve": [], "measured": False}
    data = asdict(loudness)
    data["curve"] = [
        {"t": round(p.t, 3), "momentary": p.momentary, "short_term": p.short_term}
        for p in loudness.curve
    ]
    return {**data, "measured": True}


def _measurements_dict(m: Measurements) -> dict[str, Any]:
    video = None
    if m.video is not None:
        video = asdict(replace(m.video, levels=thin_levels(m.video.levels)))
        video["levels_summary"] = _levels_summary(m.video.levels)
    return {
        "audio": asdict(m.audio) if m.audio is not None else None,
        "video": video,
        "decode_errors": asdict(m.decode_errors),
        "analysis_seconds": m.analysis_seconds,
        "unanalysed_audio": m.unanalysed_audio,
        "pse": asdict(m.pse) if m.pse is not None else None,  # flash screening (additive)
    }


def thin_levels(samples: tuple[LevelSample, ...]) -> tuple[LevelSample, ...]:
    """At most MAX_LEVEL_SAMPLES samples, each bucket keeping its worst share and Y extremes."""
    # Per-frame samples would dominate the report (90 000 for an hour at 25 fps).
    if len(samples) <= MAX_LEVEL_SAMPLES:
        return samples
    size = math.ceil(len(samples) / MAX_LEVEL_SAMPLES)
    thinned = []
    for i in range(0, len(samples), size):
        bucket = samples[i : i + size]
        worst = max(bucket, key=lambda s: s.out_of_range)
        low, high = min(s.y_min for s in bucket), max(s.y_max for s in bucket)
        thinned.append(LevelSample(worst.t, worst.out_of_range, low, high))
    return tuple(thinned)


def _levels_summary(samples: tuple[LevelSample, ...]) -> dict[str, Any] | None:
    if not samples:
        return None
    worst = max(samples, key=lambda s: s.out_of_range)
    return {
        "max_out_of_range": worst.out_of_range,
        "max_out_of_range_t": worst.t,
        "y_min": min(s.y_min for s in samples),
        "y_max": max(s.y_max for s in samples),
    }


def _measurements_from(d: dict[str, Any]) -> Measurements:
    media = dict(d["media"], path=d["input"]["name"], size_bytes=d["input"]["size_bytes"])
    media["format_name"] = media.pop("format")
    loud, extra = dict(d["loudness"]), d["measurements"]
    video = extra.get("video")
    if video is not None:
        video = {k: v for k, v in video.items() if k != "levels_summary"}
    # Schema 3 keeps the subtitle streams' detail beside the media; older reports only a count.
    # (from_json leaves out their ``status``, the report's own word).
    info = from_json(MediaInfo, media | {"subtitles": d.get("subtitle_streams") or []})
    return Measurements(
        media=info,
        loudness=from_json(Loudness, loud) if loud.pop("measured", True) else None,
        audio=from_json(AudioAnalysis, extra.get("audio")),
        video=from_json(VideoAnalysis, video),
        decode_errors=from_json(DecodeErrors, extra.get("decode_errors") or {}),
        analysis_seconds=extra.get("analysis_seconds", 0.0),
        audio_tracks=_tracks_from(d, info),
        audio_groups=tuple(
            GroupLoudness(
                g["name"],
                tuple(g["tracks"]),
                g["layout"],
                from_json(Loudness, g["loudness"]),
            )
            for g in d.get("audio_groups") or []
        ),
        unanalysed_audio=extra.get("unanalysed_audio", 0),
        pse=from_json(PseAnalysis, extra.get("pse")),
    )


def _finite(value: Any) -> Any:
    """NaN and infinities (silence in dB) become None: JSON has no such numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def render_csv(report: dict[str, Any]) -> str:
    """One row per finding: check, severity, start_s, end_s, timecode, message."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for f in report["findings"]:
        writer.writerow([_csv_cell(f.get(column)) for column in CSV_COLUMNS])
    return out.getvalue()


def _csv_cell(value: Any) -> str:
    if value is None:
        return ""
    text = str(value)
    # Spreadsheets run cells starting with these as formulas; messages may quote file content.
    if isinstance(value, str) and text[:1] in ("=", "+", "-", "@"):
        return "'" + text
    return text

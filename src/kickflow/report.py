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
from kickflow.media.model import (
    AudioAnalysis,
    DecodeErrors,
    LevelSample,
    Loudness,
    Measurements,
    MediaInfo,
    VideoAnalysis,
    from_json,
)
from kickflow.profiles import Profile
from kickflow.report_html import render_html
from kickflow.report_text import render_text

__all__ = [
    "Report",
    "build_report",
    "render_csv",
    "render_html",
    "render_text",
    "timecode",
    "verdict_of",
]

SCHEMA_VERSION = 1
Verdict = Literal["passed", "needs_review", "failed"]
MAX_LEVEL_SAMPLES = 1000
CSV_COLUMNS = ("check", "severity", "start_s", "end_s", "timecode", "message")


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

    @property
    def fps(self) -> float | None:
        return self.measurements.media.primary_frame_rate

    def to_dict(self) -> dict[str, Any]:
        """The published JSON shape (schema_version 1); floats are finite or None."""
        m = self.measurements
        data = {
            "schema_version": SCHEMA_VERSION,
            "input": {
                "name": self.input_name,
                "size_bytes": self.size_bytes,
            },
            "profile": {"name": self.profile_name, **self.profile_info},
            "verdict": self.verdict,
            "media": _media_dict(m.media),
            "loudness": _loudness_dict(m.loudness),
            "checks": [{"id": c.id, "status": c.status, "summary": c.summary} for c in self.checks],
            "findings": [self._finding_dict(f) for f in self.findings],
            "measurements": _measurements_dict(m),
            "generated_at": self.generated_at,
        }
        finite: dict[str, Any] = _finite(data)
        return finite

    def _finding_dict(self, f: Finding) -> dict[str, Any]:
        return {
            "check": f.check,
            "severity": f.severity,
            "start_s": f.start_s,
            "end_s": f.end_s,
            "timecode": timecode(f.start_s, self.fps) if f.start_s is not None else None,
            "end_timecode": timecode(f.end_s, self.fps) if f.end_s is not None else None,
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
        )


_FINDING_KEYS = ("check", "severity", "start_s", "end_s", "message")


def build_report(m: Measurements, profile: Profile, *, input_name: str, size_bytes: int) -> Report:
    """Run every check of ``profile`` on ``m`` and assemble the report."""
    checks = run_checks(m, profile)
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
    )


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
    }


def _media_dict(media: MediaInfo) -> dict[str, Any]:
    return {
        "duration_s": media.duration_s,
        "format": media.format_name,
        "bit_rate": media.bit_rate,
        "video": [asdict(s) for s in media.video],
        "audio": [asdict(s) for s in media.audio],
        "subtitle_streams": media.subtitle_streams,
        "data_streams": media.data_streams,
    }


def _loudness_dict(loudness: Loudness | None) -> dict[str, Any]:
    if loudness is None:
        empty = dict.fromkeys(("integrated_lufs", "range_lu", "true_peak_dbtp", "sample_peak_dbfs"))
        return {**empty, "channel_true_peaks_dbtp": [], "curve": [], "measured": False}
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
    return Measurements(
        media=from_json(MediaInfo, media),
        loudness=from_json(Loudness, loud) if loud.pop("measured", True) else None,
        audio=from_json(AudioAnalysis, extra.get("audio")),
        video=from_json(VideoAnalysis, video),
        decode_errors=from_json(DecodeErrors, extra.get("decode_errors") or {}),
        analysis_seconds=extra.get("analysis_seconds", 0.0),
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

"""Pure checks: measurements + profile -> findings, one small function per stable check id."""

from __future__ import annotations

from kickflow.checks import (
    audio,
    audio_signal,
    container,
    delivery,
    music_bed,
    pse,
    speech,
    speech_language,
    subtitles,
    tracks,
    video,
)
from kickflow.checks.base import CheckFn, CheckResult, Context, Finding, status_of, summary_of
from kickflow.media.model import Measurements
from kickflow.profiles import Profile

# The one table of checks, in report order. Ids are stable: reports and the API use them.
CHECKS: dict[str, CheckFn] = {
    "container.streams": container.check_streams,
    "media.decode_errors": container.check_decode_errors,
    "media.duration_mismatch": container.check_duration_mismatch,
    "video.format": video.check_format,
    "video.black": video.check_black,
    "video.freeze": video.check_freeze,
    "video.levels": video.check_levels,
    "video.interlace": video.check_interlace,
    "video.letterbox": video.check_letterbox,
    "video.pse": pse.check_pse,
    "audio.missing": audio.check_missing,
    "audio.format": audio.check_format,
    "audio.loudness": audio.check_loudness,
    "audio.true_peak": audio.check_true_peak,
    "audio.silence": audio.check_silence,
    "audio.clipping": audio.check_clipping,
    "audio.channels": audio.check_channels,
    "audio.phase": audio.check_phase,
    "audio.layout": tracks.check_layout,
    "audio.dc_offset": audio_signal.check_dc_offset,
    "delivery.file_name": delivery.check_file_name,
    # Timed text (checks/subtitles.py)
    "subtitle.files": subtitles.check_files,
    "subtitle.parse": subtitles.check_parse,
    "subtitle.encoding": subtitles.check_encoding,
    "subtitle.empty": subtitles.check_empty,
    "subtitle.line_length": subtitles.check_line_length,
    "subtitle.lines": subtitles.check_lines,
    "subtitle.reading_speed": subtitles.check_reading_speed,
    "subtitle.duration": subtitles.check_duration,
    "subtitle.gap": subtitles.check_gap,
    "subtitle.overlap": subtitles.check_overlap,
    "subtitle.bounds": subtitles.check_bounds,
    "subtitle.shot_change": subtitles.check_shot_change,
    "subtitle.markup": subtitles.check_markup,
    # Music and effects (checks/music_bed.py)
    "audio.music_bed": music_bed.check_music_bed,
    # Speech (checks/speech.py)
    "speech.dialogue_presence": speech.check_dialogue_presence,
    "speech.subtitle_sync": speech.check_subtitle_sync,
    "speech.dub_timing": speech.check_dub_timing,
    "speech.transcription": speech_language.check_transcription,
    "speech.language": speech_language.check_speech_language,
    "subtitle.language": speech_language.check_subtitle_language,
}


def run_check(
    check_id: str, m: Measurements, profile: Profile, input_name: str = ""
) -> CheckResult:
    """Run one check; ``off`` in the profile's severity table skips it. ``input_name`` is the
    file's name as delivered (default: the probed file's)."""
    severity = profile.severity_of(check_id)
    if severity == "off":
        return CheckResult(check_id, "skipped", "Turned off by the profile", [])
    outcome = CHECKS[check_id](Context(m, profile, check_id, severity, input_name))
    if outcome.skipped is not None:
        return CheckResult(check_id, "skipped", outcome.skipped, [])
    findings = list(outcome.findings)
    return CheckResult(check_id, status_of(findings), summary_of(outcome), findings)


def run_checks(m: Measurements, profile: Profile, input_name: str = "") -> list[CheckResult]:
    """Every check, in the table's order."""
    return [run_check(check_id, m, profile, input_name) for check_id in CHECKS]


__all__ = ["CHECKS", "CheckResult", "Finding", "run_check", "run_checks"]

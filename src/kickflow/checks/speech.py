"""Speech checks: dialogue presence, subtitle-to-speech sync and dub-to-original timing.

They judge the voice activity the speech stage measured (``Measurements.speech``); when no
track was listened to, each is skipped and says so. Timing is fitted in kickflow.speech.align.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from kickflow.checks.base import (
    Context,
    Finding,
    FindingSeverity,
    Outcome,
    capped,
    plural,
    result,
    seconds,
    skip,
)
from kickflow.checks.tracks import describe_stream
from kickflow.media.model import Segment, SubtitleFile, TrackSpeech
from kickflow.profiles.model import TrackSpec
from kickflow.speech.align import (
    DubAlignment,
    SyncFit,
    Timeline,
    align_lines,
    fit_sync,
    frame_rate_change,
)
from kickflow.speech.language import same_language

NOT_LISTENED = "Speech was not analysed: the profile listens to no track for this delivery"
NO_SPEECH_SHARE = 0.005  # less speech than this share of a track counts as none
MAX_LINE_FINDINGS = 20  # per dubbed track


def _softer(ctx: Context) -> FindingSeverity:
    """One step below the check's severity, for what needs a look more than a re-make."""
    return "warning" if ctx.severity == "error" else ctx.severity


def _spec_at(ctx: Context, position: int) -> TrackSpec | None:
    layout = ctx.profile.audio.tracks
    return layout[position - 1] if position <= len(layout) else None


def _label(ctx: Context, position: int) -> str:
    """``Track 2 (5.1, fra)``, as the audio checks name tracks."""
    streams = ctx.m.media.audio
    stream = streams[position - 1] if position <= len(streams) else None
    return f"Track {position} ({describe_stream(stream)})"


def _heard(ctx: Context) -> dict[int, TrackSpeech]:
    return {track.position: track for track in ctx.m.speech}


def _silent(track: TrackSpeech) -> bool:
    return track.speech_s <= NO_SPEECH_SHARE * track.analysed_s


# --- speech.dialogue_presence -------------------------------------------------------------


def check_dialogue_presence(ctx: Context) -> Outcome:
    """A listened track with no speech at all; long speechless stretches on dialogue tracks."""
    if not ctx.m.speech:
        return skip(NOT_LISTENED)
    findings = [f for track in ctx.m.speech for f in _presence(ctx, track)]
    shares = [
        f"{_label(ctx, t.position)} {t.speech_s / t.analysed_s:.0%}"
        for t in ctx.m.speech
        if t.analysed_s > 0
    ]
    return result(findings, f"Speech on every listened track (share of time: {', '.join(shares)})")


def _presence(ctx: Context, track: TrackSpeech) -> Iterator[Finding]:
    spec = ctx.profile.speech
    label = _label(ctx, track.position)
    if _silent(track):
        if spec.expect_speech and track.analysed_s > 0:
            yield ctx.finding(
                f"{label}: no speech in {seconds(track.analysed_s)}, where the profile expects "
                f"dialogue ({seconds(track.speech_s)} heard)",
                0.0,
                track.analysed_s,
            )
        return
    if not _dialogue_track(_spec_at(ctx, track.position)):
        return
    for gap in speechless(track.segments, track.analysed_s):
        if gap.duration_s > spec.max_speechless_s:
            yield ctx.finding(
                f"{label}: no speech for {seconds(gap.duration_s)} from {gap.start_s:.2f} s "
                f"(longer than {seconds(spec.max_speechless_s)})",
                gap.start_s,
                gap.end_s,
                severity=_softer(ctx),
            )


def _dialogue_track(spec: TrackSpec | None) -> bool:
    """A track of dialogue only (or a dub): a mix may legitimately go quiet for minutes."""
    return spec is not None and (spec.role == "dialogue" or spec.role.startswith("language:"))


def speechless(segments: Sequence[Segment], end_s: float) -> Iterator[Segment]:
    """The stretches without speech between 0 and ``end_s``, head and tail included."""
    cursor = 0.0
    for segment in segments:
        if segment.start_s > cursor:
            yield Segment(cursor, segment.start_s)
        cursor = max(cursor, segment.end_s)
    if end_s > cursor:
        yield Segment(cursor, end_s)


# --- speech.subtitle_sync -----------------------------------------------------------------


def check_subtitle_sync(ctx: Context) -> Outcome:
    """Per subtitle file: offset and drift of the cues against the speech, share over speech."""
    readable = [s for s in ctx.m.subtitles if s.error is None and s.cues]
    if not readable:
        return skip("No readable subtitle file or text subtitle stream")
    if not ctx.m.speech:
        return skip(NOT_LISTENED)
    findings: list[Finding] = []
    fine: list[str] = []
    for sub in readable:
        track = _track_for(ctx, sub)
        found, summary = _sync(ctx, sub, track)
        findings += found
        fine += [summary] if summary else []
    return result(findings, "; ".join(fine) + ".")


def _track_for(ctx: Context, sub: SubtitleFile) -> TrackSpeech:
    """The listened track in the file's language, else the first listened track.

    Translated subtitles are timed to the original's speech, which is the first listened track
    of a layout that lists the original first.
    """
    for track in ctx.m.speech:
        if same_language(sub.language, _language_of(ctx, track.position)):
            return track
    return ctx.m.speech[0]


def _language_of(ctx: Context, position: int) -> str | None:
    spec = _spec_at(ctx, position)
    if spec is not None and spec.expected_language:
        return spec.expected_language
    streams = ctx.m.media.audio
    return streams[position - 1].language if position <= len(streams) else None


def _sync(ctx: Context, sub: SubtitleFile, track: TrackSpeech) -> tuple[list[Finding], str]:
    """The findings for one file, or the sentence that says it is in sync."""
    label = _label(ctx, track.position)
    if _silent(track):
        message = f"{sub.name}: not checked, {label} has no speech to sync with"
        return [ctx.finding(message, severity="info")], ""
    end = ctx.duration_s or track.analysed_s
    fit = fit_sync(sub.cues, track.segments, end, onset_lead_s=ctx.profile.speech.pad_s)
    if fit is None or fit.pairs == 0:
        message = f"{sub.name}: its cues could not be aligned with the speech of {label}"
        return [ctx.finding(message, severity=_softer(ctx))], ""
    over, shifted = _shares(sub, track, fit)
    findings = _timing(ctx, sub, label, fit, over, shifted)
    spec = ctx.profile.speech
    if not findings and over < spec.min_cues_with_speech:
        findings.append(
            ctx.finding(
                f"{sub.name}: only {over:.0%} of cues have speech under them on {label} "
                f"(at least {spec.min_cues_with_speech:.0%} expected)",
                severity=_softer(ctx),
            )
        )
    offset = fit.offset_at(_middle(fit))
    summary = f"{sub.name} is in sync with {label} ({offset:+.2f} s, {over:.0%} of cues on speech)"
    return findings, "" if findings else summary


def _timing(
    ctx: Context, sub: SubtitleFile, label: str, fit: SyncFit, over: float, shifted: float
) -> list[Finding]:
    """A drift finding, or an offset finding, when either is beyond the profile's tolerance."""
    tolerance = ctx.profile.speech.sync_tolerance_s
    shares = f"{over:.0%} of cues have speech under them, {shifted:.0%} once corrected"
    if abs(fit.drift_s) > tolerance:
        known = frame_rate_change(fit.ratio)
        cause = f", as from {known}" if known else ""
        return [
            ctx.finding(
                f"{sub.name}: cues drift against the speech of {label}, from "
                f"{_late(fit.offset_at(fit.first_s))} at {fit.first_s:.1f} s to "
                f"{_late(fit.offset_at(fit.last_s))} at {fit.last_s:.1f} s "
                f"({fit.ms_per_minute:+.0f} ms per minute, ratio {fit.ratio:.4f}{cause}); "
                f"{shares}",
                fit.first_s,
                fit.last_s,
            )
        ]
    offset = fit.offset_at(_middle(fit))
    if abs(offset) > tolerance:
        return [ctx.finding(f"{sub.name}: {_late(offset)} against the speech of {label}; {shares}")]
    return []


def _middle(fit: SyncFit) -> float:
    return (fit.first_s + fit.last_s) / 2


def _late(offset_s: float) -> str:
    """``+0.80 s late`` / ``0.35 s early``."""
    return f"{offset_s:+.2f} s late" if offset_s >= 0 else f"{-offset_s:.2f} s early"


def _shares(sub: SubtitleFile, track: TrackSpeech, fit: SyncFit) -> tuple[float, float]:
    """The share of cues with speech under them as timed, and once the fit is undone."""
    cues, heard = sub.cues, Timeline(track.segments)
    as_timed = sum(heard.has_speech(c.start_s, c.end_s) for c in cues)
    corrected = sum(
        heard.has_speech(fit.to_speech_time(c.start_s), fit.to_speech_time(c.end_s)) for c in cues
    )
    return as_timed / len(cues), corrected / len(cues)


# --- speech.dub_timing --------------------------------------------------------------------


def dub_roles(ctx: Context) -> tuple[int | None, tuple[int, ...]]:
    """The original track and the dubs: as ``[speech]`` names them, else from the layout (the
    first dialogue or mix track; every ``language:*`` track)."""
    spec, layout = ctx.profile.speech, ctx.profile.audio.tracks
    original = spec.original_track or next(
        (p for p, t in enumerate(layout, 1) if t.role in ("dialogue", "mix")), None
    )
    dubs = spec.dub_tracks or tuple(
        p for p, t in enumerate(layout, 1) if t.role.startswith("language:") and p != original
    )
    return original, dubs


def check_dub_timing(ctx: Context) -> Outcome:
    """Each dub against the original: missing and extra lines, lines that start off time."""
    original, dubs = dub_roles(ctx)
    if original is None or not dubs:
        return skip("No original and dubbed tracks to compare (see [speech] and the layout)")
    if not ctx.m.speech:
        return skip(NOT_LISTENED)
    heard = _heard(ctx)
    if original not in heard:
        return skip(f"Track {original} (the original) was not analysed")
    findings: list[Finding] = []
    paired: list[str] = []
    for dub in (d for d in dubs if d in heard):
        found, lines = _dub(ctx, heard[original], heard[dub])
        findings += capped(ctx, found, MAX_LINE_FINDINGS, f"timing findings on Track {dub}")
        paired.append(f"Track {dub}: {plural(lines, 'line')} paired")
    if not paired:
        return skip("No dubbed track was analysed")
    return result(findings, f"Every dub follows Track {original} ({', '.join(paired)})")


def _dub(ctx: Context, original: TrackSpeech, dub: TrackSpeech) -> tuple[list[Finding], int]:
    label, source = _label(ctx, dub.position), f"Track {original.position}"
    if _silent(original) or _silent(dub):
        quiet = _label(ctx, original.position) if _silent(original) else label
        message = f"{label}: not compared with {source}, {quiet} has no speech"
        return [ctx.finding(message, severity=_softer(ctx))], 0
    aligned = align_lines(original.segments, dub.segments)
    return [*_offset(ctx, aligned, label, source), *_lines(ctx, aligned, label, source)], len(
        aligned.pairs
    )


def _offset(ctx: Context, aligned: DubAlignment, label: str, source: str) -> list[Finding]:
    offset = aligned.offset_s
    if abs(offset) <= ctx.profile.speech.dub_tolerance_s:
        return []
    return [
        ctx.finding(
            f"{label}: the dub runs {_late(offset)} against {source} "
            f"(median of {plural(len(aligned.pairs), 'paired line')})"
        )
    ]


def _lines(ctx: Context, aligned: DubAlignment, label: str, source: str) -> list[Finding]:
    """Missing, extra and moved lines, in programme order (moved: against the dub's own
    typical offset, so a dub that runs late is one finding, not one per line)."""
    tolerance = ctx.profile.speech.dub_tolerance_s
    base = aligned.offset_s if abs(aligned.offset_s) > tolerance else 0.0
    found = [
        ctx.at(
            line,
            f"{label}: missing line, {source} speaks for {seconds(line.duration_s)} from "
            f"{line.start_s:.2f} s and the dub is silent",
        )
        for line in aligned.missing
    ]
    found += [
        ctx.finding(
            f"{label}: extra line, speech for {seconds(line.duration_s)} from "
            f"{line.start_s:.2f} s where {source} is silent",
            line.start_s,
            line.end_s,
            severity=_softer(ctx),
        )
        for line in aligned.extra
    ]
    found += [
        ctx.finding(
            f"{label}: line starts {_late(pair.shift_s)} ({source} at "
            f"{pair.original.start_s:.2f} s, the dub at {pair.dub.start_s:.2f} s)",
            min(pair.original.start_s, pair.dub.start_s),
            max(pair.original.end_s, pair.dub.end_s),
        )
        for pair in aligned.pairs
        if abs(pair.shift_s - base) > tolerance
    ]
    return sorted(found, key=lambda f: f.start_s or 0.0)

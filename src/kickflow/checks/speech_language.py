"""Transcription and language checks: did the provider transcribe the listened tracks, is each
track spoken in the language it should be, is each subtitle file written in the language it
declares.

``speech.transcription`` turns a provider failure into a finding (a warning unless the profile
makes transcription ``required``), so an outage never fails a job behind the operator's back
and never goes unnoticed either. ``speech.language`` trusts the provider's detected language
only when it was not told the answer (``language_hint``) and heard enough speech.
``subtitle.language`` detects the text's language offline (lingua).
"""

from __future__ import annotations

from collections.abc import Iterator

from kickflow.checks.base import Context, Finding, FindingSeverity, Outcome, plural, result, skip
from kickflow.checks.tracks import describe_stream
from kickflow.media.model import SubtitleFile, TrackSpeech
from kickflow.speech.language import detect_text_language, display_name, same_language

NO_KEY = (
    "transcription unavailable: no transcription API key is configured "
    "(KICKFLOW_TRANSCRIPTION_API_KEY)"
)
TRANSCRIPTION_OFF = "Transcription is off in the profile"
NOT_LISTENED = "No track was listened to for speech"


def _label(ctx: Context, position: int) -> str:
    """``Track 2 (5.1, fra)``, as the audio checks name tracks."""
    streams = ctx.m.media.audio
    stream = streams[position - 1] if position <= len(streams) else None
    return f"Track {position} ({describe_stream(stream)})"


def _severity(ctx: Context) -> FindingSeverity:
    """The check's severity; a profile that requires transcription makes a gap an error."""
    return "error" if ctx.profile.speech.transcription.required else ctx.severity


# --- speech.transcription ---------------------------------------------------------------------


def check_transcription(ctx: Context) -> Outcome:
    """A track whose speech could not be transcribed (provider down, key refused, no key),
    or was only partly transcribed (the budget ran out)."""
    if not ctx.profile.speech.transcription.enabled:
        return skip(TRANSCRIPTION_OFF)
    if not ctx.m.speech:
        return skip(NOT_LISTENED)
    findings = [f for track in ctx.m.speech for f in _transcription_gaps(ctx, track)]
    done = [t.transcript for t in ctx.m.speech if t.transcript is not None]
    sent = sum(t.audio_seconds_sent for t in done)
    size = sum(t.bytes_sent for t in done) / 1000
    ok = (
        f"{plural(len(done), 'track')} transcribed: {sent:.0f} s of speech sent "
        f"in {plural(sum(t.requests for t in done), 'request')} ({size:.0f} kB)"
    )
    return result(findings, ok)


def _transcription_gaps(ctx: Context, track: TrackSpeech) -> Iterator[Finding]:
    label, severity = _label(ctx, track.position), _severity(ctx)
    if track.transcription_error:
        yield ctx.finding(f"{label}: {track.transcription_error}", severity=severity)
    elif track.transcript is None and track.segments:
        yield ctx.finding(f"{label}: {NO_KEY}", severity=severity)
    elif track.transcript is not None and track.transcript.unsent_s > 0:
        yield ctx.finding(
            f"{label}: the transcription budget ran out: {track.transcript.unsent_s:.0f} s "
            "of speech not transcribed",
            severity=severity,
        )


# --- speech.language ------------------------------------------------------------------------


def expected_language(ctx: Context, position: int) -> str | None:
    """The language a track should be spoken in: its layout entry's, else its stream tag."""
    layout = ctx.profile.audio.tracks
    if position <= len(layout) and layout[position - 1].expected_language:
        return layout[position - 1].expected_language
    streams = ctx.m.media.audio
    return streams[position - 1].language if position <= len(streams) else None


def check_speech_language(ctx: Context) -> Outcome:
    """The provider's detected language of each transcribed track against its expected one."""
    spec = ctx.profile.speech.transcription
    if not spec.enabled:
        return skip(f"{TRANSCRIPTION_OFF}: the spoken language is not checked")
    if spec.language_hint:
        return skip(
            "The provider is told each track's language (language_hint): "
            "the spoken language is not checked"
        )
    judged = [t for t in ctx.m.speech if _judgeable(ctx, t)]
    if not judged:
        return skip("No transcribed track with enough speech and an expected language")
    findings = [f for t in judged if (f := _language_finding(ctx, t)) is not None]
    return result(findings, f"{plural(len(judged), 'track')} spoken in the expected language")


def _judgeable(ctx: Context, track: TrackSpeech) -> bool:
    transcript = track.transcript
    return (
        transcript is not None
        and transcript.language is not None
        and transcript.audio_seconds_sent >= ctx.profile.speech.transcription.min_language_speech_s
        and expected_language(ctx, track.position) is not None
    )


def _language_finding(ctx: Context, track: TrackSpeech) -> Finding | None:
    assert track.transcript is not None  # _judgeable
    heard, expected = track.transcript.language, expected_language(ctx, track.position)
    if same_language(heard, expected):
        return None
    return ctx.finding(
        f"{_label(ctx, track.position)}: the speech is {display_name(heard)}; "
        f"the track should be {display_name(expected)}"
    )


# --- subtitle.language ------------------------------------------------------------------------


def check_subtitle_language(ctx: Context) -> Outcome:
    """Each readable subtitle file's text language against the language it declares (its file
    name, stream tag or document)."""
    files = [f for f in ctx.m.subtitles if f.error is None and f.cues]
    if not files:
        return skip("No readable subtitle file")
    findings: list[Finding] = []
    judged = 0
    for subtitles in files:
        finding, told = _subtitle_language(ctx, subtitles)
        judged += told
        if finding is not None:
            findings.append(finding)
    ok = f"{plural(judged, 'subtitle file')} written in the declared language"
    return result(findings, ok if judged else "No subtitle file has enough text to tell")


def _subtitle_language(ctx: Context, subtitles: SubtitleFile) -> tuple[Finding | None, bool]:
    """(the finding if any, whether the language could be told)."""
    detected = detect_text_language("\n".join(cue.text for cue in subtitles.cues))
    if detected is None:
        return None, False
    if subtitles.language is None:
        message = f"{subtitles.name} declares no language; its text is {display_name(detected)}"
        return ctx.finding(message, severity="info"), True
    if same_language(detected, subtitles.language):
        return None, True
    message = (
        f"{subtitles.name}: the text is {display_name(detected)}; the file says "
        f"{display_name(subtitles.language)}"
    )
    return ctx.finding(message), True

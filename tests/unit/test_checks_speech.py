"""speech.* checks on hand-made measurements, and which tracks a profile listens to."""

from __future__ import annotations

import re

import pytest

from kickflow.checks import run_check
from kickflow.errors import ProfileError
from kickflow.media.model import (
    AudioStream,
    Cue,
    Measurements,
    MediaInfo,
    Segment,
    SubtitleFile,
    SubtitleStream,
    TrackSpeech,
)
from kickflow.profiles import CHECK_IDS, Profile, load_profile, load_profile_text
from kickflow.speech.stage import listened_tracks

DUB_LAYOUT = """
extends = "ebu-r128"
name = "dub-test"
[[audio.tracks]]
role = "mix"
language = "eng"
[[audio.tracks]]
role = "language:fra"
[[audio.tracks]]
role = "me"
[speech]
enabled = true
max_speechless_s = 60.0
pad_s = 0.0  # the made-up segments below are the voice itself
"""
# Forty lines, irregular like dialogue (regular ones would fit one line over just as well).
LINES = tuple(
    Segment(2.0 + 6 * i + (i * 7 % 5) * 0.3, 4.0 + 6 * i + (i * 7 % 5) * 0.3 + (i * 3 % 4) * 0.35)
    for i in range(40)
)


def stream(index: int, language: str | None = None) -> AudioStream:
    return AudioStream(index, "aac", 48000, 2, "stereo", 0.0, 250.0, language=language)


def measured(*speech: TrackSpeech, subtitles: tuple[SubtitleFile, ...] = ()) -> Measurements:
    media = MediaInfo(
        "/x/ep.mov", 1, "mov", 250.0, None, audio=(stream(1, "eng"), stream(2, "fra"), stream(3))
    )
    return Measurements(media=media, speech=speech, subtitles=subtitles)


def heard(position: int, segments: tuple[Segment, ...] = LINES) -> TrackSpeech:
    return TrackSpeech(position=position, segments=segments, analysed_s=250.0)


def dub_profile(extra: str = "") -> Profile:
    return load_profile_text(DUB_LAYOUT + extra, "dub-test")


def srt(shift: float = 0.0, ratio: float = 1.0, language: str | None = "en") -> SubtitleFile:
    cues = tuple(
        Cue(i + 1, ratio * s.start_s + shift, ratio * (s.end_s + 0.4) + shift, "Hello")
        for i, s in enumerate(LINES)
    )
    return SubtitleFile(name="EP01.en.srt", format="srt", language=language, cues=cues)


# --- which tracks -----------------------------------------------------------------------------


def media(tracks: int = 3, subtitles: tuple[SubtitleStream, ...] = ()) -> MediaInfo:
    audio = tuple(stream(i + 1) for i in range(tracks))
    return MediaInfo("/x/a.mov", 1, "mov", 60.0, None, audio=audio, subtitles=subtitles)


def test_the_default_profile_listens_only_when_there_are_subtitles() -> None:
    default = load_profile("ebu-r128")
    assert listened_tracks(default, media()) == ()
    assert listened_tracks(default, media(), subtitles=True) == (1,)
    text = (SubtitleStream(3, "mov_text", True),)
    assert listened_tracks(default, media(subtitles=text)) == (1,)
    bitmap = (SubtitleStream(3, "hdmv_pgs_subtitle", False),)
    assert listened_tracks(default, media(subtitles=bitmap)) == ()
    assert listened_tracks(default, media(0), subtitles=True) == ()


def test_a_layout_listens_to_its_speaking_tracks_and_named_ones() -> None:
    assert listened_tracks(dub_profile(), media()) == (1, 2)
    assert listened_tracks(dub_profile(), media(1)) == (1,)
    named = dub_profile("original_track = 3\n")
    assert listened_tracks(named, media()) == (1, 2, 3)
    off = dub_profile().model_copy(
        update={"speech": dub_profile().speech.model_copy(update={"enabled": False})}
    )
    assert listened_tracks(off, media(), subtitles=True) == ()


def test_speech_checks_all_off_means_no_listening() -> None:
    speech_ids = [c for c in CHECK_IDS if c.startswith("speech.")]
    quiet = dub_profile().model_copy(update={"severity": dict.fromkeys(speech_ids, "off")})
    assert listened_tracks(quiet, media()) == ()
    one_on = quiet.model_copy(update={"severity": {**quiet.severity, speech_ids[0]: "info"}})
    assert listened_tracks(one_on, media()) == (1, 2)


def test_a_track_cannot_be_original_and_dub() -> None:
    with pytest.raises(ProfileError, match="cannot be both original and dub"):
        dub_profile("original_track = 2\ndub_tracks = [2]\n")


# --- speech.dialogue_presence ---------------------------------------------------------------


def test_nothing_listened_is_skipped() -> None:
    for check in ("speech.dialogue_presence", "speech.subtitle_sync", "speech.dub_timing"):
        outcome = run_check(check, measured(subtitles=(srt(),)), dub_profile())
        assert outcome.status == "skipped", check


def test_a_speechless_track_is_found() -> None:
    result = run_check("speech.dialogue_presence", measured(heard(1), heard(2, ())), dub_profile())
    assert result.status == "failed"
    [finding] = result.findings
    assert finding.message == (
        "Track 2 (stereo, fra): no speech in 250 s, where the profile expects dialogue "
        "(0.0 s heard)"
    )
    assert (finding.start_s, finding.end_s) == (0.0, 250.0)
    relaxed = dub_profile("expect_speech = false\n")
    assert run_check("speech.dialogue_presence", measured(heard(2, ())), relaxed).findings == []


def test_long_speechless_stretches_are_timecoded_on_dialogue_tracks_only() -> None:
    gappy = tuple(s for s in LINES if not 50 < s.start_s < 150)
    result = run_check(
        "speech.dialogue_presence", measured(heard(1, gappy), heard(2, gappy)), dub_profile()
    )
    # Track 1 is a mix (it may go quiet), track 2 a language track: only track 2 is judged.
    [finding] = result.findings
    assert finding.severity == "warning"
    assert finding.message == (
        "Track 2 (stereo, fra): no speech for 104 s from 47.55 s (longer than 60.0 s)"
    )
    assert finding.start_s == pytest.approx(LINES[7].end_s)
    assert finding.end_s == pytest.approx(LINES[25].start_s)


def test_speech_everywhere_passes_with_the_share() -> None:
    result = run_check("speech.dialogue_presence", measured(heard(1), heard(2)), dub_profile())
    assert result.status == "passed"
    assert result.summary.startswith("Speech on every listened track (share of time: Track 1")


# --- speech.subtitle_sync -------------------------------------------------------------------


def test_a_late_subtitle_file_is_reported_in_seconds_late() -> None:
    result = run_check("speech.subtitle_sync", measured(heard(1), subtitles=(srt(0.8),)),
                       dub_profile())  # fmt: skip
    [finding] = result.findings
    assert finding.severity == "error"
    assert finding.message.startswith(
        "EP01.en.srt: +0.80 s late against the speech of Track 1 (stereo, eng); "
    )
    assert finding.message.endswith("100% once corrected")


def test_an_early_file_and_an_in_sync_file() -> None:
    early = run_check("speech.subtitle_sync", measured(heard(1), subtitles=(srt(-0.5),)),
                      dub_profile())  # fmt: skip
    assert early.findings[0].message.startswith("EP01.en.srt: 0.50 s early against")
    fine = run_check("speech.subtitle_sync", measured(heard(1), subtitles=(srt(0.05),)),
                     dub_profile())  # fmt: skip
    assert fine.status == "passed"
    assert fine.summary.startswith("EP01.en.srt is in sync with Track 1 (stereo, eng) (+0.05 s")


def test_a_frame_rate_drift_is_reported_as_drift() -> None:
    drifting = srt(0.0, 24000 / 1001 / 25)
    result = run_check("speech.subtitle_sync", measured(heard(1), subtitles=(drifting,)),
                       dub_profile())  # fmt: skip
    [finding] = result.findings
    assert "cues drift against the speech of Track 1" in finding.message
    assert re.search(
        r"\(-245\d ms per minute, ratio 0\.959\d, as from 25 → 23\.976 fps\)", finding.message
    )
    assert finding.start_s == pytest.approx(LINES[0].start_s, abs=0.1)


def test_the_file_is_synced_to_the_track_in_its_language() -> None:
    french = srt(0.0, language="fr")
    late_dub = tuple(Segment(s.start_s + 1.0, s.end_s + 1.0) for s in LINES)
    result = run_check(
        "speech.subtitle_sync",
        measured(heard(1), heard(2, late_dub), subtitles=(french,)),
        dub_profile(),
    )
    assert "1.00 s early against the speech of Track 2 (stereo, fra)" in result.findings[0].message


def test_cues_over_no_speech_are_reported() -> None:
    sparse = tuple(LINES[::4])  # speech under a quarter of the cues
    result = run_check("speech.subtitle_sync", measured(heard(1, sparse), subtitles=(srt(),)),
                       dub_profile())  # fmt: skip
    [finding] = result.findings
    assert finding.severity == "warning"
    assert finding.message == (
        "EP01.en.srt: only 25% of cues have speech under them on Track 1 (stereo, eng) "
        "(at least 50% expected)"
    )


def test_a_track_without_speech_cannot_sync() -> None:
    result = run_check("speech.subtitle_sync", measured(heard(1, ()), subtitles=(srt(),)),
                       dub_profile())  # fmt: skip
    assert [f.severity for f in result.findings] == ["info"]
    assert "has no speech to sync with" in result.findings[0].message


def test_unreadable_files_are_left_to_the_timed_text_checks() -> None:
    broken = SubtitleFile(name="x.srt", format="srt", error="x.srt is not a subtitle file.")
    result = run_check("speech.subtitle_sync", measured(heard(1), subtitles=(broken,)),
                       dub_profile())  # fmt: skip
    assert result.status == "skipped"


# --- speech.dub_timing ----------------------------------------------------------------------


def dubbed() -> tuple[Segment, ...]:
    """The original's lines with lines 4 and 11 dropped and line 7 (index 6) 1.5 s late."""
    lines = [s for i, s in enumerate(LINES) if i not in (3, 10)]
    lines[5] = Segment(lines[5].start_s + 1.5, lines[5].end_s + 1.5)
    return tuple(lines)


def test_a_dub_with_lines_removed_and_one_moved_is_reported_at_those_lines() -> None:
    result = run_check("speech.dub_timing", measured(heard(1), heard(2, dubbed())), dub_profile())
    assert result.status == "failed"
    assert [(f.message, f.start_s) for f in result.findings] == [
        (
            "Track 2 (stereo, fra): missing line, Track 1 speaks for 2.4 s from 20.30 s and the "
            "dub is silent",
            LINES[3].start_s,
        ),
        (
            "Track 2 (stereo, fra): line starts +1.50 s late (Track 1 at 38.60 s, the dub at "
            "40.10 s)",
            LINES[6].start_s,
        ),
        (
            "Track 2 (stereo, fra): missing line, Track 1 speaks for 2.7 s from 62.00 s and the "
            "dub is silent",
            LINES[10].start_s,
        ),
    ]


def test_a_dub_that_runs_late_is_one_finding() -> None:
    late = tuple(Segment(s.start_s + 0.9, s.end_s + 0.9) for s in LINES)
    result = run_check("speech.dub_timing", measured(heard(1), heard(2, late)), dub_profile())
    assert [f.message for f in result.findings] == [
        "Track 2 (stereo, fra): the dub runs +0.90 s late against Track 1 (median of 40 paired "
        "lines)"
    ]


def test_extra_lines_are_warnings_and_a_clean_dub_passes() -> None:
    extra = tuple(sorted((*LINES, Segment(245.0, 247.0)), key=lambda s: s.start_s))
    result = run_check("speech.dub_timing", measured(heard(1), heard(2, extra)), dub_profile())
    assert [(f.severity, f.start_s) for f in result.findings] == [("warning", 245.0)]
    clean = run_check("speech.dub_timing", measured(heard(1), heard(2)), dub_profile())
    assert clean.status == "passed"
    assert clean.summary == "Every dub follows Track 1 (Track 2: 40 lines paired)"


def test_no_dubs_in_the_layout_skips() -> None:
    plain = load_profile("ebu-r128")
    result = run_check("speech.dub_timing", measured(heard(1)), plain)
    assert result.status == "skipped"

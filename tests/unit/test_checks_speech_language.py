"""speech.transcription, speech.language and subtitle.language on hand-made measurements."""

from __future__ import annotations

from kickflow.checks import run_check
from kickflow.media.model import (
    AudioStream,
    Cue,
    Measurements,
    MediaInfo,
    Segment,
    SubtitleFile,
    TrackSpeech,
    Transcript,
)
from kickflow.profiles import Profile, load_profile_text
from kickflow.speech.transcribe import REFUSED_KEY

LAYOUT = """
extends = "ebu-r128"
name = "transcribed"
[[audio.tracks]]
role = "mix"
language = "eng"
[[audio.tracks]]
role = "language:fra"
[speech]
enabled = true
[speech.transcription]
enabled = true
"""
LINES = (Segment(2.0, 6.0), Segment(10.0, 30.0))
FRENCH = (
    "Bonjour à tous, et merci d'être venus ce soir.",
    "Nous allons parler de la ville, de ses rues et de ses habitants.",
    "Personne ne savait ce qui allait se passer le lendemain matin.",
)
GERMAN = (
    "Guten Abend und vielen Dank, dass Sie heute gekommen sind.",
    "Wir sprechen über die Stadt, ihre Straßen und ihre Bewohner.",
    "Niemand wusste, was am nächsten Morgen passieren würde.",
)


def profile(extra: str = "") -> Profile:
    return load_profile_text(LAYOUT + extra, "transcribed")


def stream(index: int, language: str | None) -> AudioStream:
    return AudioStream(index, "aac", 48000, 2, "stereo", 0.0, 60.0, language=language)


def measured(*speech: TrackSpeech, subtitles: tuple[SubtitleFile, ...] = ()) -> Measurements:
    audio = (stream(1, "eng"), stream(2, "fre"))
    media = MediaInfo("/x/ep.mov", 1, "mov", 60.0, None, audio=audio)
    return Measurements(media=media, speech=speech, subtitles=subtitles)


def transcript(language: str | None, sent_s: float = 24.0, unsent_s: float = 0.0) -> Transcript:
    return Transcript(
        "whisper-large-v3-turbo",
        language,
        audio_seconds_sent=sent_s,
        bytes_sent=72_000,
        requests=1,
        unsent_s=unsent_s,
    )


def track(position: int, **kw: object) -> TrackSpeech:
    return TrackSpeech(position=position, segments=LINES, analysed_s=60.0, **kw)  # type: ignore[arg-type]


def subtitles(name: str, language: str | None, lines: tuple[str, ...]) -> SubtitleFile:
    cues = tuple(Cue(i + 1, 2.0 * i, 2.0 * i + 1.5, text) for i, text in enumerate(lines))
    return SubtitleFile(name=name, format="srt", language=language, cues=cues)


# --- speech.transcription ---------------------------------------------------------------------


def test_transcription_off_skips_both_speech_checks() -> None:
    off = load_profile_text(LAYOUT.replace("[speech.transcription]\nenabled = true", ""), "t")
    m = measured(track(1, transcript=transcript("en")))
    assert run_check("speech.transcription", m, off).status == "skipped"
    language = run_check("speech.language", m, off)
    assert language.status == "skipped" and "not checked" in language.summary


def test_a_refused_key_is_a_warning_finding_naming_the_track() -> None:
    m = measured(track(1, transcription_error=REFUSED_KEY), track(2, transcript=transcript("fr")))
    outcome = run_check("speech.transcription", m, profile())
    assert outcome.status == "warning"
    [finding] = outcome.findings
    assert finding.message == (
        "Track 1 (stereo, eng): transcription unavailable: the provider refused the API key"
    )
    assert finding.severity == "warning" and finding.start_s is None


def test_required_transcription_makes_an_outage_an_error() -> None:
    m = measured(track(1, transcription_error=REFUSED_KEY))
    outcome = run_check("speech.transcription", m, profile("required = true\n"))
    assert outcome.status == "failed" and outcome.findings[0].severity == "error"


def test_no_key_configured_is_said_once_per_track_with_speech() -> None:
    m = measured(track(1), TrackSpeech(position=2, analysed_s=60.0))  # track 2: no speech
    [finding] = run_check("speech.transcription", m, profile()).findings
    assert finding.message.endswith(
        "transcription unavailable: no transcription API key is configured "
        "(KICKFLOW_TRANSCRIPTION_API_KEY)"
    )


def test_a_budget_that_ran_out_is_reported() -> None:
    m = measured(track(1, transcript=transcript("en", unsent_s=95.4)))
    [finding] = run_check("speech.transcription", m, profile()).findings
    assert finding.message == (
        "Track 1 (stereo, eng): the transcription budget ran out: 95 s of speech not transcribed"
    )


def test_a_complete_transcription_passes_with_its_cost() -> None:
    m = measured(track(1, transcript=transcript("en")), track(2, transcript=transcript("fr")))
    outcome = run_check("speech.transcription", m, profile())
    assert outcome.status == "passed"
    assert outcome.summary == "2 tracks transcribed: 48 s of speech sent in 2 requests (144 kB)"


# --- speech.language ------------------------------------------------------------------------


def test_a_dub_in_the_wrong_language_is_an_error() -> None:
    m = measured(track(1, transcript=transcript("english")), track(2, transcript=transcript("de")))
    outcome = run_check("speech.language", m, profile())
    assert outcome.status == "failed"
    [finding] = outcome.findings
    assert finding.message == (
        "Track 2 (stereo, fre): the speech is German (deu); the track should be French (fra)"
    )


def test_the_right_languages_in_any_spelling_pass() -> None:
    m = measured(track(1, transcript=transcript("English")), track(2, transcript=transcript("fr")))
    outcome = run_check("speech.language", m, profile())
    assert outcome.status == "passed" and outcome.summary.startswith("2 tracks")


def test_the_stream_tag_is_the_expectation_without_a_layout() -> None:
    bare = load_profile_text(
        'extends = "ebu-r128"\nname = "bare"\n[speech.transcription]\nenabled = true\n', "bare"
    )
    m = measured(track(2, transcript=transcript("it")))  # stream 2 is tagged "fre"
    [finding] = run_check("speech.language", m, bare).findings
    assert "the track should be French (fra)" in finding.message


def test_too_little_speech_or_a_hinted_provider_is_not_judged() -> None:
    short = measured(track(2, transcript=transcript("de", sent_s=4.0)))
    assert run_check("speech.language", short, profile()).status == "skipped"
    hinted = measured(track(2, transcript=transcript("de")))
    told = run_check("speech.language", hinted, profile("language_hint = true\n"))
    assert told.status == "skipped" and "language_hint" in told.summary


# --- subtitle.language ------------------------------------------------------------------------


def test_a_subtitle_file_in_another_language_than_it_says_is_found() -> None:
    files = (
        subtitles("EP01.fr.srt", "fr", FRENCH),
        subtitles("EP01.de.srt", "fr", GERMAN),  # a German file named as French
    )
    outcome = run_check("subtitle.language", measured(subtitles=files), profile())
    assert outcome.status == "failed"
    [finding] = outcome.findings
    assert finding.message == ("EP01.de.srt: the text is German (deu); the file says French (fra)")


def test_a_file_without_a_declared_language_gets_a_note() -> None:
    files = (subtitles("EP01.srt", None, GERMAN),)
    [finding] = run_check("subtitle.language", measured(subtitles=files), profile()).findings
    assert finding.severity == "info"
    assert finding.message == "EP01.srt declares no language; its text is German (deu)"


def test_files_too_short_to_tell_or_unreadable_are_not_judged() -> None:
    files = (
        subtitles("EP01.en.srt", "en", ("♪", "Yes.")),
        SubtitleFile(name="EP02.en.srt", format="srt", error="EP02.en.srt is not subtitles"),
    )
    outcome = run_check("subtitle.language", measured(subtitles=files), profile())
    assert outcome.status == "passed" and outcome.findings == []
    assert outcome.summary == "No subtitle file has enough text to tell"
    assert run_check("subtitle.language", measured(), profile()).status == "skipped"

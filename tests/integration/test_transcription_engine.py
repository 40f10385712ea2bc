"""Transcription end to end: a programme with espeak-ng English speech on a track the layout
says is French, checked by the engine with a transcriber pointed at the fake provider. The
transcript is in the report, speech.language catches the wrong language, and a refused key
degrades to a warning finding while the media QC completes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from kickflow.engine import check_file
from kickflow.media.binaries import find_ffmpeg
from kickflow.profiles import Profile, load_profile_text
from kickflow.report import Report
from kickflow.speech.chunks import JOIN_S, PAD_S
from kickflow.speech.transcribe import REFUSED_KEY, ProviderConfig, Transcriber
from tests.fakes.transcription_server import KEY, FakeProvider, running_provider
from tests.speech_media import needs_espeak, programme, spread, write_wav

SECONDS = 40.0
PROFILE = """
extends = "ebu-r128"
name = "french-dub"
[video]
required = false
[[audio.tracks]]
role = "language:fra"
[speech]
enabled = true
[speech.transcription]
enabled = true
min_language_speech_s = 5.0
"""


@pytest.fixture(scope="module")
def english(tmp_path_factory: pytest.TempPathFactory) -> Path:
    needs_espeak()
    target = tmp_path_factory.mktemp("speech") / "EP01.fr.wav"
    return write_wav(target, programme(spread(5, first_s=3.0, every_s=7.0), SECONDS))


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with running_provider() as running:
        yield running


def french_dub() -> Profile:
    return load_profile_text(PROFILE, "french-dub")


def checked(path: Path, provider: FakeProvider, key: str, work: Path) -> Report:
    config = ProviderConfig(base_url=provider.url, api_key=key, timeout_s=30.0)
    transcriber = Transcriber(config, ffmpeg=find_ffmpeg().path)
    return check_file(path, french_dub(), transcriber=transcriber, work_dir=work)


def result(report: Report, check: str) -> tuple[str, list[str]]:
    [found] = [r for r in report.checks if r.id == check]
    return found.status, [f.message for f in found.findings]


def test_english_speech_on_a_french_track_is_found(
    english: Path, provider: FakeProvider, tmp_path: Path
) -> None:
    report = checked(english, provider, KEY, tmp_path)

    [track] = report.measurements.speech
    assert track.transcript is not None and track.transcription_error is None
    assert track.transcript.language == "en" and len(track.transcript.segments) >= 5
    # Only the speech went out: the VAD's segments, padded, with a short join between them.
    runs = len(track.segments)
    most = track.speech_s + 2 * PAD_S * runs + JOIN_S * (runs - 1) + 0.05
    assert sum(u.seconds for u in provider.uploads) <= most < SECONDS / 2
    assert result(report, "speech.transcription")[0] == "passed"
    status, [message] = result(report, "speech.language")
    assert status == "failed" and message.startswith("Track 1 (")
    assert message.endswith("the speech is English (eng); the track should be French (fra)")
    stored = report.to_dict()
    assert "segment 1" in str(stored)  # the transcript travels with the report


def test_a_refused_key_is_a_warning_and_the_file_is_still_checked(
    english: Path, provider: FakeProvider, tmp_path: Path
) -> None:
    report = checked(english, provider, "gsk_revoked", tmp_path)

    status, messages = result(report, "speech.transcription")
    assert status == "warning"
    [message] = messages
    assert message.startswith("Track 1 (") and message.endswith(f"): {REFUSED_KEY}")
    assert result(report, "speech.language")[0] == "skipped"
    assert result(report, "speech.dialogue_presence")[0] == "passed"
    assert {r.id for r in report.checks} >= {"audio.loudness", "audio.true_peak"}
    assert "gsk_revoked" not in str(report.to_dict())

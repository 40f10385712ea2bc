"""``audio.music_bed`` through the real pass: the clear cases of the heuristic, and a timecoded
stretch without a bed (error rates on the whole generated set: benchmarks/bench_music.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from kickflow.checks import CheckResult, run_check
from kickflow.engine import options_for
from kickflow.profiles import Profile, load_profile
from kickflow.profiles.model import TrackSpec
from tests.integration.engine_helpers import measure_file
from tests.music_material import (
    effects_wav,
    mixed_wav,
    music_wav,
    run_ffmpeg,
    silence_wav,
    speech_wav,
)
from tests.speech_media import needs_espeak

SECONDS = 12.0


@pytest.fixture(autouse=True)
def _espeak() -> None:
    needs_espeak()  # espeak-ng makes the speech


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("music")


def me_profile() -> Profile:
    base = load_profile("ebu-r128")
    audio = base.audio.model_copy(update={"tracks": (TrackSpec(role="me", loudness=False),)})
    return base.model_copy(update={"audio": audio})


def judged(path: Path) -> CheckResult:
    profile = me_profile()
    return run_check("audio.music_bed", measure_file(path, options_for(profile)), profile)


def bed_found(result: CheckResult) -> bool:
    return result.status != "skipped" and not [f for f in result.findings if f.start_s is None]


def test_music_only_has_a_bed(work: Path) -> None:
    result = judged(music_wav(work / "music.wav", SECONDS, -24.0))
    assert result.status == "passed", result.summary
    assert bed_found(result)


def test_speech_only_has_none(work: Path) -> None:
    result = judged(speech_wav(work / "speech.wav", SECONDS))
    assert result.status == "failed"
    assert not bed_found(result)
    assert "no music or effects bed (100% speech-like)" in result.findings[0].message


def test_speech_over_music_has_a_bed(work: Path) -> None:
    speech = speech_wav(work / "speech-under.wav", SECONDS)
    bed = music_wav(work / "bed.wav", SECONDS, -34.0)
    result = judged(mixed_wav(work / "mixed.wav", speech, bed))
    assert result.status == "passed", result.summary


def test_effects_bursts_are_a_bed(work: Path) -> None:
    result = judged(effects_wav(work / "effects.wav", SECONDS, -24.0))
    assert result.status == "passed", result.summary


def test_silence_and_room_tone_have_none(work: Path) -> None:
    for path in (
        silence_wav(work / "zero.wav", SECONDS),
        silence_wav(work / "tone.wav", SECONDS, -65.0),
    ):
        result = judged(path)
        assert not bed_found(result)
        assert "100% silent" in result.findings[0].message


def test_a_long_stretch_of_dialogue_in_the_me_is_found_at_its_time(work: Path) -> None:
    music = music_wav(work / "intro.wav", 9.0, -24.0)
    speech = speech_wav(work / "leak.wav", 36.0)
    track = work / "leaked.wav"
    run_ffmpeg(["-i", str(music), "-i", str(speech), "-filter_complex",
             "[0:a][1:a]concat=n=2:v=0:a=1", "-c:a", "pcm_s16le", str(track)])  # fmt: skip
    result = judged(track)
    assert result.status == "failed"
    [finding] = result.findings
    assert finding.start_s == pytest.approx(9.0, abs=0.01)
    assert finding.end_s == pytest.approx(45.0, abs=0.1)
    assert "no music or effects bed for 36.0 s from 9.00 s (speech-like)" in finding.message

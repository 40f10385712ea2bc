"""Speech through the stage: espeak-ng lines at known times, the PCM FFmpeg writes for a
listened track, voice activity, and the speech checks on what the stage heard."""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from kickflow.checks import run_check
from kickflow.errors import TranscriptionUnavailable
from kickflow.media.model import (
    AudioStream,
    Measurements,
    MediaInfo,
    Segment,
    SubtitleFile,
    TrackSpeech,
    Transcript,
)
from kickflow.media.timed_outputs import pad_start
from kickflow.profiles import Profile, load_profile_text
from kickflow.speech.stage import SpeechStage
from kickflow.speech.vad import WINDOW, WINDOW_S, speech_segments, window_scores
from kickflow.subtitles.load import parse_subtitle_bytes
from tests.speech_media import (
    RATE,
    Line,
    listened_pcm,
    music_bed,
    needs_espeak,
    programme,
    spoken_extent,
    spread,
    write_wav,
)

SECONDS = 76.0
LINES = spread(12)  # one line every 6 s from 2 s
FRENCH = (
    "Bonsoir, et bienvenue dans notre émission.",
    "Le port était calme cette nuit-là.",
    "Personne n'a vu partir le bateau.",
    "Je t'avais dit d'attendre la marée du matin.",
    "Où étiez-vous à neuf heures?",
    "Chez moi, je lisais.",
    "Alors expliquez le sable sur vos bottes, inspecteur.",
    "Il a plu toute la semaine au village.",
    "Nous avons trouvé la lettre sous le plancher de la vieille chapelle.",
    "Oui.",
    "Appelez les garde-côtes et dites-leur tout.",
    "La fin de l'histoire n'est pas celle que vous croyez.",
)
PROFILE = """
extends = "ebu-r128"
name = "speech-test"
[[audio.tracks]]
role = "mix"
language = "eng"
[[audio.tracks]]
role = "language:fra"
[speech]
enabled = true
max_speechless_s = 30.0
"""


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    needs_espeak()
    return tmp_path_factory.mktemp("speech")


def pcm_of(work: Path, name: str, audio: np.ndarray) -> Path:
    """The listened-track PCM of a mono programme, made the way the analysis makes it."""
    target = work / f"{name}.pcm"
    if not target.exists():
        listened_pcm(write_wav(work / f"{name}.wav", audio), target)
    return target


@pytest.fixture(scope="module")
def original(work: Path) -> Path:
    return pcm_of(work, "original", programme(LINES, SECONDS))


@pytest.fixture(scope="module")
def dub(work: Path) -> Path:
    """The French dub over music: lines 3 and 10 left out, line 7 spoken 1.5 s late."""
    lines = [
        Line(line.at_s + (1.5 if i == 6 else 0.0), FRENCH[i], "fr")
        for i, line in enumerate(LINES)
        if i not in (2, 9)
    ]
    return pcm_of(work, "dub", programme(lines, SECONDS, music_bed(SECONDS)))


def profile() -> Profile:
    return load_profile_text(PROFILE, "speech-test")


def streams() -> tuple[AudioStream, ...]:
    return tuple(
        AudioStream(i, "pcm_s16le", RATE, 1, "mono", 0.0, SECONDS, language=lang)
        for i, lang in ((1, "eng"), (2, "fra"))
    )


def heard(files: dict[int, Path]) -> tuple[TrackSpeech, ...]:
    """What the stage hears on ``files`` with the test profile (once per set of files: voice
    activity is the slow part of these tests)."""
    return _heard(tuple(sorted(files.items())))


@cache
def _heard(files: tuple[tuple[int, Path], ...]) -> tuple[TrackSpeech, ...]:
    return SpeechStage(profile(), streams(), None)(dict(files), SECONDS)


def measurements(speech: Sequence[TrackSpeech], *subtitles: SubtitleFile) -> Measurements:
    media = MediaInfo("/x/ep.wav", 1, "wav", SECONDS, None, audio=streams())
    return Measurements(media=media, speech=tuple(speech), subtitles=subtitles)


def test_speech_segments_are_within_0_3_s_of_the_spoken_lines(original: Path) -> None:
    found = speech_segments(original, min_speech_s=0.25, min_silence_s=0.4, pad_s=0.05)
    truth = [spoken_extent(line) for line in LINES]
    assert len(found) == len(truth)
    for segment, spoken in zip(found, truth, strict=True):
        assert segment.start_s == pytest.approx(spoken.start_s, abs=0.3)
        assert segment.end_s == pytest.approx(spoken.end_s, abs=0.3)


def test_speech_over_music_is_found_and_the_music_alone_is_not(work: Path) -> None:
    bed = music_bed(SECONDS, level=0.1)
    found = speech_segments(
        pcm_of(work, "over-music", programme(LINES[:4], SECONDS, bed)),
        min_speech_s=0.25,
        min_silence_s=0.4,
        pad_s=0.05,
    )
    starts = [round(s.start_s) for s in found]
    assert starts == [round(spoken_extent(line).start_s) for line in LINES[:4]]


def test_the_stage_cuts_at_the_programme_end_and_skips_files_not_written(
    original: Path, work: Path
) -> None:
    stage = SpeechStage(profile(), streams(), None)
    [track] = stage({1: original, 2: work / "never-written.pcm"}, 30.0)
    assert track.position == 1 and track.analysed_s == 30.0
    assert track.segments[-1].end_s <= 30.0
    assert len(track.segments) == 5  # lines at 2, 8, 14, 20, 26 s


def test_a_speechless_dialogue_track_is_found(original: Path, work: Path) -> None:
    t = np.arange(round(SECONDS * RATE)) / RATE
    tone = pcm_of(work, "tone", (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32))
    result = run_check(
        "speech.dialogue_presence", measurements(heard({1: original, 2: tone})), profile()
    )
    assert result.status == "failed"
    [finding] = result.findings
    assert finding.message.startswith("Track 2 (mono, fra): no speech in 76.0 s, where the profile")


def test_a_long_pause_in_a_dialogue_track_is_timecoded(work: Path) -> None:
    sparse = [LINES[0], LINES[-1]]  # 2 s … 68 s: 60 s without a word
    pcm = pcm_of(work, "sparse", programme(sparse, SECONDS))
    result = run_check("speech.dialogue_presence", measurements(heard({2: pcm})), profile())
    [finding] = result.findings
    assert finding.severity == "warning"
    assert finding.start_s == pytest.approx(spoken_extent(LINES[0]).end_s, abs=0.3)
    assert finding.end_s == pytest.approx(spoken_extent(LINES[-1]).start_s, abs=0.3)


def srt(lines: Sequence[Line], shift: float = 0.0, ratio: float = 1.0) -> SubtitleFile:
    """An SRT file timed to the voice (out 0.5 s after it), then moved, parsed as delivered."""
    blocks = []
    for number, line in enumerate(lines, 1):
        spoken = spoken_extent(line)
        start, end = ratio * spoken.start_s + shift, ratio * (spoken.end_s + 0.5) + shift
        blocks.append(f"{number}\n{_srt_time(start)} --> {_srt_time(end)}\n{line.text}\n")
    return parse_subtitle_bytes("\n".join(blocks).encode(), "EP01.en.srt")


def _srt_time(seconds: float) -> str:
    ms = round(seconds * 1000)
    return f"{ms // 3600000:02}:{ms // 60000 % 60:02}:{ms // 1000 % 60:02},{ms % 1000:03}"


def test_a_subtitle_file_shifted_by_0_8_s_is_measured_within_0_1_s(original: Path) -> None:
    speech = heard({1: original})
    late = run_check("speech.subtitle_sync", measurements(speech, srt(LINES, 0.8)), profile())
    [finding] = late.findings
    measured = re.match(
        r"EP01\.en\.srt: \+(\d\.\d\d) s late against the speech of Track 1", finding.message
    )
    assert measured, finding.message
    assert float(measured.group(1)) == pytest.approx(0.8, abs=0.1)
    on_time = run_check("speech.subtitle_sync", measurements(speech, srt(LINES)), profile())
    assert on_time.status == "passed", on_time.summary


def test_a_25_to_23_976_drift_is_reported_as_drift(work: Path) -> None:
    lines = spread(20, every_s=8.0)  # 160 s: the drift grows to 6.5 s
    pcm = pcm_of(work, "long", programme(lines, 170.0))
    speech = SpeechStage(profile(), streams(), None)({1: pcm}, 170.0)
    drifting = srt(lines, ratio=(24000 / 1001) / 25)
    media = MediaInfo("/x/ep.wav", 1, "wav", 170.0, None, audio=streams())
    m = Measurements(media=media, speech=speech, subtitles=(drifting,))
    [finding] = run_check("speech.subtitle_sync", m, profile()).findings
    assert "cues drift against the speech of Track 1" in finding.message
    assert "as from 25 → 23.976 fps" in finding.message
    per_minute = re.search(r"\((-\d+) ms per minute", finding.message)
    assert per_minute and int(per_minute.group(1)) == pytest.approx(-2458, abs=40)


def test_sync_holds_with_music_and_cues_without_speech(work: Path, original: Path) -> None:
    bed = music_bed(SECONDS, level=0.08)
    pcm = pcm_of(work, "music-original", programme(LINES, SECONDS, bed))
    described = [*LINES, Line(5.0, "[MUSIC]"), Line(47.0, "[DOOR SLAMS]")]
    sub = srt(sorted(described, key=lambda line: line.at_s), 0.8)
    [finding] = run_check(
        "speech.subtitle_sync", measurements(heard({1: pcm}), sub), profile()
    ).findings
    measured = re.search(r"\+(\d\.\d\d) s late", finding.message)
    assert measured and float(measured.group(1)) == pytest.approx(0.8, abs=0.1)


def test_a_dub_with_two_lines_removed_and_one_moved_is_reported_at_those_lines(
    original: Path, dub: Path
) -> None:
    result = run_check("speech.dub_timing", measurements(heard({1: original, 2: dub})), profile())
    truth = [spoken_extent(line) for line in LINES]
    expected = [
        (r"missing line, Track 1 speaks for", truth[2]),
        (r"line starts \+1\.[456]\d s late", truth[6]),
        (r"missing line, Track 1 speaks for", truth[9]),
    ]
    assert len(result.findings) == len(expected), [f.message for f in result.findings]
    for finding, (pattern, line) in zip(result.findings, expected, strict=True):
        assert re.match(rf"Track 2 \(mono, fra\): {pattern}", finding.message), finding.message
        assert finding.start_s == pytest.approx(line.start_s, abs=0.3)
    assert result.status == "failed"


class FakeTranscriber:
    """Stands in for the provider client: records what it was given, or fails like it."""

    def __init__(self, fail: bool = False) -> None:
        self.fail = fail
        self.calls: list[tuple[Path, int, str | None]] = []

    def transcribe(
        self, pcm: Path, segments: Sequence[Segment], *, language: str | None = None
    ) -> Transcript:
        self.calls.append((pcm, len(segments), language))
        if self.fail:
            raise TranscriptionUnavailable(
                "transcription unavailable: the provider refused the API key"
            )
        return Transcript(model="fake", language="en", audio_seconds_sent=1.0)


def transcribing(hint: bool = False) -> Profile:
    base = profile()
    asked = base.speech.transcription.model_copy(update={"enabled": True, "language_hint": hint})
    return base.model_copy(
        update={"speech": base.speech.model_copy(update={"transcription": asked})}
    )


def test_the_stage_transcribes_each_track_and_keeps_a_provider_failure(
    original: Path, dub: Path
) -> None:
    fake = FakeTranscriber()
    tracks = SpeechStage(transcribing(hint=True), streams(), fake)({1: original, 2: dub}, SECONDS)  # type: ignore[arg-type]
    assert [t.transcript.model if t.transcript else None for t in tracks] == ["fake", "fake"]
    assert [(c[1], c[2]) for c in fake.calls] == [(12, "eng"), (10, "fra")]
    failing = SpeechStage(transcribing(), streams(), FakeTranscriber(fail=True))  # type: ignore[arg-type]
    [track] = failing({1: original}, SECONDS)
    assert track.transcript is None and len(track.segments) == 12
    assert (
        track.transcription_error == "transcription unavailable: the provider refused the API key"
    )
    off = SpeechStage(profile(), streams(), fake)  # type: ignore[arg-type]
    assert off({1: original}, SECONDS)[0].transcript is None  # the profile does not ask
    assert len(fake.calls) == 2


def test_scores_that_follow_a_growing_file_equal_the_whole_files(
    original: Path, work: Path
) -> None:
    """The analysis run writes the PCM while the VAD reads it: a reader that catches up with
    the writer waits for more (a cut in mid-window and mid-sample too) instead of ending."""
    data = original.read_bytes()
    cut = len(data) // 2 + 301  # an odd byte count: half a sample, in mid-window
    growing = work / "growing.pcm"
    growing.write_bytes(data[:cut])
    written, first_part_read = threading.Event(), threading.Event()

    def writer() -> None:
        first_part_read.wait(timeout=120)
        with growing.open("ab") as out:
            out.write(data[cut:])
        written.set()

    thread = threading.Thread(target=writer)
    thread.start()
    scores = window_scores(growing, written)
    followed = [next(scores) for _ in range(cut // (WINDOW * 2))]  # all the first part holds
    first_part_read.set()
    followed += list(scores)
    thread.join()
    assert followed == list(window_scores(original))


@pytest.mark.parametrize(("lead_s", "within_s"), [(48 * WINDOW_S, 0.0), (1.5, 0.15)])
def test_a_stage_that_listens_during_the_run_hears_what_one_after_it_hears(
    original: Path, work: Path, lead_s: float, within_s: float
) -> None:
    """``follow`` scores the file as it is written, before its lead of silence is put in, and
    moves the segments by the lead: exactly the same when the lead is whole windows, and
    within the model's window-phase jitter otherwise."""
    late = work / f"late-{lead_s}.pcm"
    late.write_bytes(original.read_bytes())
    live = SpeechStage(profile(), streams(), None)
    live.follow({1: late}, {1: lead_s})
    live.written(complete=True)
    pad_start(late, lead_s)
    [during] = live({1: late}, SECONDS + lead_s)
    [after] = SpeechStage(profile(), streams(), None)({1: late}, SECONDS + lead_s)
    assert len(during.segments) == len(after.segments) == len(LINES)
    for a, b in zip(during.segments, after.segments, strict=True):
        assert a.start_s == pytest.approx(b.start_s, abs=within_s + 0.001)
        assert a.end_s == pytest.approx(b.end_s, abs=within_s + 0.001)


def test_a_failed_run_stops_the_listening_and_an_unwritten_file_is_silence(
    original: Path, work: Path
) -> None:
    half = work / "half.pcm"
    half.write_bytes(original.read_bytes()[: RATE * 2 * 10])
    failed = SpeechStage(profile(), streams(), None)
    failed.follow({1: half}, {})
    failed.written(complete=False)  # the follower stops instead of waiting for the rest
    scores = failed._live[1].scores
    assert len(scores.result(timeout=120)) <= 10 / WINDOW_S + 1
    never = SpeechStage(profile(), streams(), None)
    never.follow({1: work / "never-created.pcm"}, {})
    never.written(complete=True)
    scores = never._live[1].scores
    assert len(scores.result(timeout=120)) == 0

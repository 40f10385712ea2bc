"""The transcription client against a local fake provider (real HTTP on 127.0.0.1, real FFmpeg
encoding): only speech is sent, chunks stay under the duration and size caps and are cut at
silences, retries honour Retry-After, 413 splits, a refused key is one sentence, and the
provider's chunk times come back as programme times."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from kickflow.config import Settings
from kickflow.errors import TranscriptionUnavailable
from kickflow.media.binaries import find_ffmpeg
from kickflow.media.model import Segment, Transcript
from kickflow.speech.chunks import JOIN_S, PAD_S, quietest_time
from kickflow.speech.transcribe import (
    REFUSED_KEY,
    ProviderConfig,
    Transcriber,
    transcriber_from_settings,
)
from tests.fakes.transcription_server import KEY, FakeProvider, running_provider

RATE = 16000
BURSTS = ((5.0, 8.0), (20.0, 21.5), (60.0, 64.0), (100.0, 103.0))


def programme(
    path: Path, seconds: float, bursts: Sequence[tuple[float, float]], dips: Sequence[float] = ()
) -> Path:
    """A 16 kHz mono s16le track: -70 dBFS noise with modulated tones ("speech") at
    ``bursts``, and 0.1 s of that noise floor at each of ``dips`` (a breath in a long line)."""
    rng = np.random.default_rng(7)
    signal = rng.normal(0, 10, int(seconds * RATE))
    t = np.arange(len(signal)) / RATE
    for start, end in bursts:
        inside = (t >= start) & (t < end)
        tone = np.sin(2 * np.pi * 310 * t) * (0.6 + 0.4 * np.sin(2 * np.pi * 3 * t))
        signal[inside] += 8000 * tone[inside]
    for dip in dips:
        inside = (t >= dip) & (t < dip + 0.1)
        signal[inside] = rng.normal(0, 10, int(inside.sum()))
    path.write_bytes(np.clip(signal, -32768, 32767).astype("<i2").tobytes())
    return path


def segments(bursts: Sequence[tuple[float, float]]) -> list[Segment]:
    return [Segment(a, b) for a, b in bursts]


class Sleeps:
    """The client's ``sleep``: records the waits instead of spending them."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    with running_provider() as running:
        yield running


def client(
    provider: FakeProvider,
    sleeps: Sleeps | None = None,
    *,
    budget_s: float | None = None,
    **kw: object,
) -> Transcriber:
    config = ProviderConfig(base_url=provider.url, api_key=KEY, timeout_s=30.0, **kw)  # type: ignore[arg-type]
    return Transcriber(
        config,
        ffmpeg=find_ffmpeg().path,
        budget_s=budget_s,
        sleep=sleeps or Sleeps(),
        jitter=lambda: 0.0,
    )


def assert_lands_on(transcript: Transcript, bursts: Sequence[tuple[float, float]]) -> None:
    """One transcript segment per burst, at the burst's programme time (±0.1 s)."""
    found = [(s.start_s, s.end_s) for s in transcript.segments]
    assert len(found) == len(bursts), found
    for (start, end), (want_start, want_end) in zip(found, bursts, strict=True):
        assert start == pytest.approx(want_start, abs=0.1), found
        assert end == pytest.approx(want_end, abs=0.1), found


def test_only_the_speech_is_sent_and_its_times_come_back(
    tmp_path: Path, provider: FakeProvider
) -> None:
    pcm = programme(tmp_path / "track.pcm", 120.0, BURSTS)
    transcript = client(provider).transcribe(pcm, segments(BURSTS))

    assert_lands_on(transcript, BURSTS)
    [upload] = provider.uploads
    speech = sum(b - a for a, b in BURSTS)
    most = speech + 2 * PAD_S * len(BURSTS) + JOIN_S * (len(BURSTS) - 1)
    print(
        f"\nsent {upload.seconds:.2f} s of 120 s ({speech:.1f} s speech), {len(upload.audio)} bytes"
    )
    assert speech <= upload.seconds <= most + 0.05
    assert transcript.audio_seconds_sent == pytest.approx(upload.seconds, abs=0.05)
    assert transcript.bytes_sent == len(upload.audio) < upload.seconds * 3300  # 24 kb/s Opus
    assert transcript.requests == 1
    assert upload.authorization == f"Bearer {KEY}"
    assert upload.content_type == "audio/ogg" and upload.filename.endswith(".ogg")
    assert upload.fields["model"] == "whisper-large-v3-turbo"
    assert upload.fields["response_format"] == "verbose_json"
    assert "language" not in upload.fields  # the provider detects it: speech.language checks it
    assert transcript.language == "en"  # "english", as Whisper says it
    assert [s.text for s in transcript.segments] == [f"segment {i}" for i in range(1, 5)]


def test_chunks_respect_the_duration_cap_and_end_at_silences(
    tmp_path: Path, provider: FakeProvider
) -> None:
    bursts = ((5.0, 8.0), (10.0, 13.0), (20.0, 24.0), (30.0, 33.0), (40.0, 47.0))
    pcm = programme(tmp_path / "track.pcm", 60.0, bursts)
    transcript = client(provider, max_chunk_s=12.0).transcribe(pcm, segments(bursts))

    # Padded runs of 3.3, 3.3, 4.3, 3.3 and 7.3 s, 0.3 s joins: 11.5 s, then 10.9 s.
    seconds = [round(u.seconds, 1) for u in provider.uploads]
    assert seconds == [11.5, 10.9]
    assert_lands_on(transcript, bursts)  # every line whole: no chunk cut one in two


def test_a_line_longer_than_the_cap_is_cut_at_its_quietest_moment(
    tmp_path: Path, provider: FakeProvider
) -> None:
    line = ((10.0, 30.0),)
    pcm = programme(tmp_path / "track.pcm", 40.0, line, dips=(18.0, 27.0))
    assert quietest_time(pcm, 15.0, 21.0) == pytest.approx(18.05, abs=0.03)

    transcript = client(provider, max_chunk_s=12.0).transcribe(pcm, segments(line))

    seconds = [u.seconds for u in provider.uploads]
    assert len(seconds) == 3 and max(seconds) <= 12.0, seconds
    starts = [s.start_s for s in transcript.segments]
    ends = [s.end_s for s in transcript.segments]
    assert starts[0] == pytest.approx(10.0, abs=0.1) and ends[-1] == pytest.approx(30.0, abs=0.1)
    cuts = [round(s, 1) for s in starts[1:]]
    assert cuts == [18.1, 27.1], transcript.segments  # each piece starts just after a dip


def test_chunks_stay_under_the_size_limit(tmp_path: Path, provider: FakeProvider) -> None:
    pcm = programme(tmp_path / "track.pcm", 120.0, BURSTS)
    whole = client(provider, codec="flac").transcribe(pcm, segments(BURSTS))
    limit = whole.bytes_sent // 3

    provider.state.uploads.clear()
    small = client(provider, codec="flac", max_chunk_bytes=limit).transcribe(pcm, segments(BURSTS))

    sizes = [len(u.audio) for u in provider.uploads]
    assert len(sizes) >= 3 and max(sizes) <= limit, (sizes, limit)
    assert all(u.content_type == "audio/flac" for u in provider.uploads)
    assert small.audio_seconds_sent == pytest.approx(whole.audio_seconds_sent, abs=1.0)
    assert small.segments[0].start_s == pytest.approx(5.0, abs=0.1)
    assert small.segments[-1].end_s == pytest.approx(103.0, abs=0.1)


def test_413_splits_the_chunk_and_later_chunks_are_sized_to_fit(
    tmp_path: Path, provider: FakeProvider
) -> None:
    bursts = ((5.0, 9.0), (15.0, 19.0), (40.0, 44.0), (50.0, 54.0))
    pcm = programme(tmp_path / "track.pcm", 60.0, bursts)
    probe = client(provider, codec="flac", max_chunk_s=10.0).transcribe(pcm, segments(bursts))
    first_body = provider.uploads[0].body_bytes
    provider.state.uploads.clear()
    provider.state.requests.clear()
    provider.state.max_body_bytes = first_body * 2 // 3  # a half fits, a whole chunk does not

    transcript = client(provider, codec="flac", max_chunk_s=10.0).transcribe(pcm, segments(bursts))

    statuses = provider.statuses()
    assert statuses.count(413) == 1, statuses  # the second chunk was split before sending
    assert statuses.count(200) == 4
    assert all(u.body_bytes <= provider.state.max_body_bytes for u in provider.uploads)
    assert_lands_on(transcript, bursts)
    assert probe.requests == 2 and transcript.requests == 4


def test_429_waits_as_long_as_retry_after_says(tmp_path: Path, provider: FakeProvider) -> None:
    pcm = programme(tmp_path / "track.pcm", 30.0, BURSTS[:1])
    provider.fail_next(429, retry_after="2")
    sleeps = Sleeps()

    transcript = client(provider, sleeps).transcribe(pcm, segments(BURSTS[:1]))

    assert provider.statuses() == [429, 200]
    assert sleeps.waits == [2.0]
    assert len(transcript.segments) == 1 and transcript.requests == 1


def test_500_is_retried_with_exponential_backoff(tmp_path: Path, provider: FakeProvider) -> None:
    pcm = programme(tmp_path / "track.pcm", 30.0, BURSTS[:1])
    provider.fail_next(500, times=2)
    sleeps = Sleeps()

    transcript = client(provider, sleeps).transcribe(pcm, segments(BURSTS[:1]))

    assert provider.statuses() == [500, 500, 200]
    assert sleeps.waits == [0.5, 1.0]  # base 1 s doubling, jitter at its low end (×0.5)
    assert len(transcript.segments) == 1


def test_a_provider_that_keeps_failing_gives_one_sentence(
    tmp_path: Path, provider: FakeProvider
) -> None:
    pcm = programme(tmp_path / "track.pcm", 30.0, BURSTS[:1])
    provider.fail_next(503, times=10)
    sleeps = Sleeps()

    with pytest.raises(TranscriptionUnavailable) as caught:
        client(provider, sleeps, retries=3).transcribe(pcm, segments(BURSTS[:1]))

    assert str(caught.value) == "transcription unavailable: the provider failed (HTTP 503), 4 tries"
    assert provider.statuses() == [503] * 4 and len(sleeps.waits) == 3


def test_a_retry_after_past_the_allowed_wait_gives_up_at_once(
    tmp_path: Path, provider: FakeProvider
) -> None:
    pcm = programme(tmp_path / "track.pcm", 30.0, BURSTS[:1])
    provider.fail_next(429, retry_after="3600")
    sleeps = Sleeps()

    with pytest.raises(TranscriptionUnavailable) as caught:
        client(provider, sleeps, max_wait_s=60.0).transcribe(pcm, segments(BURSTS[:1]))

    assert str(caught.value) == (
        "transcription unavailable: the provider is rate-limiting requests (HTTP 429), and "
        "waiting 3600 s more would pass the 60 s allowed"
    )
    assert sleeps.waits == []


def test_a_refused_key_is_one_sentence_and_never_retried(
    tmp_path: Path, provider: FakeProvider, caplog: pytest.LogCaptureFixture
) -> None:
    pcm = programme(tmp_path / "track.pcm", 30.0, BURSTS[:1])
    provider.state.key = "another-key"
    caplog.set_level(logging.DEBUG)

    with pytest.raises(TranscriptionUnavailable) as caught:
        client(provider).transcribe(pcm, segments(BURSTS[:1]))

    assert str(caught.value) == REFUSED_KEY
    assert provider.statuses() == [401]
    assert KEY not in caplog.text and KEY not in repr(client(provider).config)


def test_an_unreachable_provider_is_retried_then_one_sentence(tmp_path: Path) -> None:
    with running_provider() as gone:
        url = gone.url  # a loopback port nobody listens on once it stops
    pcm = programme(tmp_path / "track.pcm", 30.0, BURSTS[:1])
    sleeps = Sleeps()
    config = ProviderConfig(base_url=url, api_key=KEY, retries=2, timeout_s=5.0)
    transcriber = Transcriber(config, ffmpeg=find_ffmpeg().path, sleep=sleeps, jitter=lambda: 0.0)

    with pytest.raises(TranscriptionUnavailable) as caught:
        transcriber.transcribe(pcm, segments(BURSTS[:1]))

    assert str(caught.value) == (
        "transcription unavailable: the provider could not be reached (ConnectError), 3 tries"
    )
    assert sleeps.waits == [0.5, 1.0]


def test_the_budget_stops_sending_and_says_how_much_was_left(
    tmp_path: Path, provider: FakeProvider
) -> None:
    pcm = programme(tmp_path / "track.pcm", 120.0, BURSTS)
    transcriber = client(provider, budget_s=8.0)

    first = transcriber.transcribe(pcm, segments(BURSTS))
    second = transcriber.transcribe(pcm, segments(BURSTS))  # the same job's next track

    sent = sum(u.seconds for u in provider.uploads)
    assert sent <= 8.05 and first.audio_seconds_sent == pytest.approx(8.0, abs=0.05)
    speech = sum(b - a for a, b in BURSTS) + 2 * PAD_S * len(BURSTS)
    # 8 s of chunk audio = two whole runs, two joins and the start of the third run.
    assert first.unsent_s == pytest.approx(speech - (8.0 - 2 * JOIN_S), abs=0.05)
    assert second.requests == 0 and second.unsent_s == pytest.approx(speech, abs=0.05)


def test_a_language_hint_is_sent_as_iso_639_1(tmp_path: Path, provider: FakeProvider) -> None:
    pcm = programme(tmp_path / "track.pcm", 30.0, BURSTS[:1])
    transcript = client(provider).transcribe(pcm, segments(BURSTS[:1]), language="fre")
    assert provider.uploads[0].fields["language"] == "fr"
    assert transcript.language == "fr"


def test_no_speech_means_no_request(tmp_path: Path, provider: FakeProvider) -> None:
    pcm = programme(tmp_path / "track.pcm", 30.0, ())
    transcript = client(provider).transcribe(pcm, [])
    assert transcript.requests == 0 and transcript.segments == () and provider.uploads == []


def test_settings_build_the_client_and_old_groq_names_still_work(
    tmp_path: Path, provider: FakeProvider, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert transcriber_from_settings(Settings()) is None  # no key: transcription is off
    monkeypatch.setenv("KICKFLOW_GROQ_API_KEY", KEY)
    monkeypatch.setenv("KICKFLOW_GROQ_BASE_URL", provider.url)
    monkeypatch.setenv("KICKFLOW_TRANSCRIPTION_MODEL", "whisper-large-v3")
    transcriber = transcriber_from_settings(Settings(), budget_s=30.0)
    assert transcriber is not None and transcriber.budget_s == 30.0

    pcm = programme(tmp_path / "track.pcm", 30.0, BURSTS[:1])
    transcript = transcriber.transcribe(pcm, segments(BURSTS[:1]))

    assert transcript.model == "whisper-large-v3" and len(transcript.segments) == 1
    assert provider.uploads[0].fields["model"] == "whisper-large-v3"

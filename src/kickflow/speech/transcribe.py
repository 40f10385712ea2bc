"""Transcription through an OpenAI-compatible ``POST /audio/transcriptions`` (Groq's by default).

Only the speech of a track is sent (:mod:`kickflow.speech.chunks`), each chunk encoded small
(16 kHz mono Opus in Ogg, or FLAC) by the project's FFmpeg and kept under the provider's size
limit. The provider answers ``verbose_json``: segments with times in the chunk's audio, which
are mapped back to programme time.

Failures are never swallowed and never a traceback: a refused key, a provider that keeps
answering 5xx or 429 past the bounded wait, or an unreachable host raise
:class:`TranscriptionUnavailable` with one sentence, which the speech stage stores on the
track (a finding). The key is sent in the ``Authorization`` header only and never appears in a
log line or a message.
"""

from __future__ import annotations

import email.utils
import logging
import random
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx

from kickflow.config import Settings
from kickflow.errors import FfmpegError, TranscriptionUnavailable
from kickflow.media.binaries import find_ffmpeg
from kickflow.media.model import Segment, Transcript, TranscriptSegment
from kickflow.media.runner import RunLimits, run_ffmpeg
from kickflow.speech import SPEECH_RATE
from kickflow.speech.chunks import (
    Chunk,
    chunk_pcm,
    halves,
    pack,
    pcm_seconds,
    speech_runs,
    split_long,
)
from kickflow.speech.language import iso1_of

log = logging.getLogger("kickflow.speech")

REFUSED_KEY = "transcription unavailable: the provider refused the API key"
MIN_SPLIT_S = 1.0  # a chunk this short that is still too large is not split further
BACKOFF_BASE_S = 1.0
BACKOFF_CAP_S = 30.0
MIN_REQUEST_S = 0.5  # a budget remainder shorter than this is not worth a request
ENCODERS = {
    "opus": (["-c:a", "libopus", "-b:a", "24k", "-application", "voip", "-f", "ogg"], "ogg"),
    "flac": (["-c:a", "flac", "-compression_level", "8", "-f", "flac"], "flac"),
}
MIME = {"ogg": "audio/ogg", "flac": "audio/flac"}


@dataclass(frozen=True)
class ProviderConfig:
    """Where and how chunks are sent (from the ``KICKFLOW_TRANSCRIPTION_*`` settings)."""

    base_url: str
    api_key: str
    model: str = "whisper-large-v3-turbo"
    codec: str = "opus"
    max_chunk_bytes: int = 24_000_000
    max_chunk_s: float = 600.0
    timeout_s: float = 120.0
    retries: int = 4
    max_wait_s: float = 60.0

    def __repr__(self) -> str:  # the dataclass default would print the key
        return f"ProviderConfig(base_url={self.base_url!r}, model={self.model!r})"


@dataclass(frozen=True)
class Answer:
    """One chunk's transcription: its segments in programme time, and the request's cost."""

    segments: tuple[TranscriptSegment, ...]
    language: str | None
    speech_s: float
    bytes_sent: int
    requests: int


class _TooLarge(Exception):
    """The provider answered 413 for this body."""


class Transcriber:
    """Sends the speech of tracks to the provider, within a budget of seconds of audio.

    One instance serves one job: the budget and the total backoff wait are shared by every
    track it transcribes.
    """

    def __init__(
        self,
        config: ProviderConfig,
        *,
        ffmpeg: str,
        limits: RunLimits | None = None,
        budget_s: float | None = None,
        sleep: Callable[[float], None] = time.sleep,
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.config = config
        self.ffmpeg = ffmpeg
        self.limits = limits or RunLimits(stall_seconds=60.0)
        self.budget_s = budget_s
        self.spent_s = 0.0
        self.waited_s = 0.0
        self._max_bytes = config.max_chunk_bytes
        self._sleep = sleep
        self._jitter = jitter

    def limited(self, budget_s: float) -> Transcriber:
        """A transcriber like this one with at most ``budget_s`` seconds of audio to send
        (and no more than this one has left)."""
        left = self.remaining_s
        budget = budget_s if left is None else min(budget_s, left)
        return Transcriber(
            self.config,
            ffmpeg=self.ffmpeg,
            limits=self.limits,
            budget_s=budget,
            sleep=self._sleep,
            jitter=self._jitter,
        )

    @property
    def remaining_s(self) -> float | None:
        return None if self.budget_s is None else max(0.0, self.budget_s - self.spent_s)

    def transcribe(
        self, pcm: Path, segments: Sequence[Segment], *, language: str | None = None
    ) -> Transcript:
        """The transcript of the speech ``segments`` of a track's PCM (programme times).

        ``language`` is a hint for the provider (any ISO 639 form); None lets it detect the
        language, which is what ``speech.language`` checks.
        """
        runs = speech_runs(segments, pcm_seconds(pcm))
        runs = split_long(runs, self.config.max_chunk_s, pcm)
        chunks = pack(runs, self.config.max_chunk_s)
        hint = iso1_of(language) if language else None
        answers, unsent = self._send_all(pcm, chunks, hint)
        return _transcript(self.config.model, answers, unsent)

    def _send_all(
        self, pcm: Path, chunks: Sequence[Chunk], hint: str | None
    ) -> tuple[list[Answer], float]:
        answers: list[Answer] = []
        with tempfile.TemporaryDirectory(prefix="transcribe-", dir=pcm.parent) as tmp:
            for index, chunk in enumerate(chunks):
                allowed = self._within_budget(chunk)
                if allowed is None:
                    return answers, sum(c.speech_s for c in chunks[index:])
                answers += self._send(pcm, allowed, hint, Path(tmp))
                if allowed is not chunk:
                    left = chunk.speech_s - allowed.speech_s
                    return answers, left + sum(c.speech_s for c in chunks[index + 1 :])
        return answers, 0.0

    def _within_budget(self, chunk: Chunk) -> Chunk | None:
        """The chunk, or its first part that fits what is left of the budget (None: nothing)."""
        remaining = self.remaining_s
        if remaining is None or chunk.duration_s <= remaining:
            return chunk
        if remaining < MIN_REQUEST_S:
            return None
        pieces = []
        for piece in chunk.pieces:
            if piece.offset_s >= remaining:
                break
            pieces.append(
                replace(piece, duration_s=min(piece.duration_s, remaining - piece.offset_s))
            )
        return Chunk(tuple(pieces))

    def _send(self, pcm: Path, chunk: Chunk, hint: str | None, tmp: Path) -> list[Answer]:
        """One chunk's answer; a chunk too large for the provider is halved and each half sent."""
        body = self._encode(pcm, chunk, tmp)
        if len(body) > self._max_bytes:
            return self._halved(pcm, chunk, hint, tmp, len(body))
        try:
            reply = self._post(body, hint)
        except _TooLarge:
            self._max_bytes = min(self._max_bytes, len(body) - 1)
            return self._halved(pcm, chunk, hint, tmp, len(body))
        self.spent_s += chunk.duration_s
        return [_answer(chunk, reply, len(body))]

    def _halved(
        self, pcm: Path, chunk: Chunk, hint: str | None, tmp: Path, size: int
    ) -> list[Answer]:
        if chunk.duration_s < 2 * MIN_SPLIT_S:
            raise TranscriptionUnavailable(
                f"transcription unavailable: the provider refused {chunk.duration_s:.1f} s of "
                f"audio ({size} bytes) as too large"
            )
        log.info("transcription chunk too large, split: %d bytes", size)
        first, second = halves(chunk, pcm)
        return self._send(pcm, first, hint, tmp) + self._send(pcm, second, hint, tmp)

    def _encode(self, pcm: Path, chunk: Chunk, tmp: Path) -> bytes:
        """The chunk's speech encoded with the configured codec (FFmpeg, through the runner)."""
        raw, (codec_args, ext) = tmp / "chunk.pcm", ENCODERS[self.config.codec]
        with pcm.open("rb") as source, raw.open("wb") as sink:
            for block in chunk_pcm(source, chunk):
                sink.write(block)
        out = tmp / f"chunk.{ext}"
        args = ["-y", "-f", "s16le", "-ar", str(SPEECH_RATE), "-ac", "1", "-i", str(raw)]
        try:
            run_ffmpeg(self.ffmpeg, [*args, *codec_args, str(out)], limits=self.limits)
        except FfmpegError as exc:
            raise TranscriptionUnavailable(
                f"transcription unavailable: the speech audio could not be encoded ({exc})"
            ) from exc
        return out.read_bytes()

    # --- HTTP ---------------------------------------------------------------------------------

    def _post(self, body: bytes, hint: str | None) -> dict[str, Any]:
        """The provider's JSON answer, after retries; raises _TooLarge on 413."""
        attempt = 0
        while True:
            try:
                reply = self._request(body, hint)
            except httpx.TransportError as exc:
                reason = f"the provider could not be reached ({type(exc).__name__})"
                self._wait_or_give_up(attempt, None, reason)
            else:
                verdict = self._judge(reply)
                if verdict is not None:
                    return verdict
                reason = _busy_reason(reply.status_code)
                self._wait_or_give_up(
                    attempt, retry_after_s(reply.headers.get("Retry-After")), reason
                )
            attempt += 1

    def _request(self, body: bytes, hint: str | None) -> httpx.Response:
        ext = ENCODERS[self.config.codec][1]
        data = {"model": self.config.model, "response_format": "verbose_json", "temperature": "0"}
        if hint:
            data["language"] = hint
        return httpx.post(
            f"{self.config.base_url.rstrip('/')}/audio/transcriptions",
            headers={"Authorization": f"Bearer {self.config.api_key}"},
            data=data,
            files={"file": (f"speech.{ext}", body, MIME[ext])},
            timeout=self.config.timeout_s,
        )

    def _judge(self, reply: httpx.Response) -> dict[str, Any] | None:
        """The JSON of a good answer; None for one worth retrying; raises for the rest."""
        status = reply.status_code
        if status in (401, 403):
            raise TranscriptionUnavailable(REFUSED_KEY)
        if status == 413:
            raise _TooLarge()
        if status == 429 or status >= 500:
            return None
        if status != 200:
            raise TranscriptionUnavailable(
                f"transcription unavailable: the provider answered HTTP {status}"
                f"{_provider_words(reply, self.config.api_key)}"
            )
        try:
            data = reply.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise TranscriptionUnavailable(
                "transcription unavailable: the provider's answer is not JSON"
            )
        return data

    def _wait_or_give_up(self, attempt: int, retry_after: float | None, reason: str) -> None:
        """Sleep before the next try (``Retry-After`` when given, else exponential backoff with
        jitter), or raise when the retries or the job's total wait would be exceeded."""
        if attempt >= self.config.retries:
            raise TranscriptionUnavailable(
                f"transcription unavailable: {reason}, {attempt + 1} tries"
            )
        backoff = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt) * (0.5 + self._jitter() / 2)
        wait = backoff if retry_after is None else retry_after
        if self.waited_s + wait > self.config.max_wait_s:
            raise TranscriptionUnavailable(
                f"transcription unavailable: {reason}, and waiting {wait:.0f} s more would "
                f"pass the {self.config.max_wait_s:.0f} s allowed"
            )
        log.info("transcription retry in %.1f s: %s", wait, reason)
        self.waited_s += wait
        self._sleep(wait)


def _busy_reason(status: int) -> str:
    if status == 429:
        return "the provider is rate-limiting requests (HTTP 429)"
    return f"the provider failed (HTTP {status})"


def _provider_words(reply: httpx.Response, key: str) -> str:
    """``: <the provider's error message>``, short and without the key, or nothing."""
    try:
        error = reply.json().get("error")
        message = error.get("message") if isinstance(error, dict) else error
    except (ValueError, AttributeError):
        return ""
    if not isinstance(message, str) or not message.strip():
        return ""
    text = " ".join(message.split())[:160]
    return f": {text.replace(key, '…')}" if key else f": {text}"


def retry_after_s(value: str | None) -> float | None:
    """``Retry-After`` in seconds: a number, or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _answer(chunk: Chunk, data: dict[str, Any], size: int) -> Answer:
    """The provider's segments mapped back to programme time."""
    segments = []
    for item in data.get("segments") or ():
        if not isinstance(item, dict):
            continue
        text = str(item.get("text") or "").strip()
        start, end = _number(item.get("start")), _number(item.get("end"))
        if not text or start is None or end is None:
            continue
        begin, finish = chunk.to_programme(start), chunk.to_programme(end, end=True)
        segments.append(TranscriptSegment(round(begin, 3), round(max(begin, finish), 3), text))
    language = data.get("language")
    return Answer(
        tuple(segments),
        language if isinstance(language, str) and language else None,
        chunk.duration_s,
        size,
        1,
    )


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _transcript(model: str, answers: Sequence[Answer], unsent_s: float) -> Transcript:
    """All chunks' answers as one transcript; its language is the one heard longest."""
    heard: dict[str, float] = {}
    for answer in answers:
        if answer.language:
            key = answer.language.lower()
            heard[key] = heard.get(key, 0.0) + answer.speech_s
    language = max(heard, key=heard.__getitem__) if heard else None
    segments = sorted((s for a in answers for s in a.segments), key=lambda s: s.start_s)
    return Transcript(
        model=model,
        language=(iso1_of(language) or language) if language else None,
        segments=tuple(segments),
        audio_seconds_sent=round(sum(a.speech_s for a in answers), 3),
        bytes_sent=sum(a.bytes_sent for a in answers),
        requests=sum(a.requests for a in answers),
        unsent_s=round(unsent_s, 3),
    )


def provider_config(settings: Settings) -> ProviderConfig:
    """The provider's address, key and limits from the settings (deprecated names included)."""
    return ProviderConfig(
        base_url=settings.resolved_transcription_url(),
        api_key=settings.resolved_transcription_key(),
        model=settings.transcription_model,
        codec=settings.transcription_codec,
        max_chunk_bytes=int(settings.transcription_max_chunk_mb * 1_000_000),
        max_chunk_s=settings.transcription_max_chunk_seconds,
        timeout_s=settings.transcription_timeout_seconds,
        retries=settings.transcription_retries,
        max_wait_s=settings.transcription_max_wait_seconds,
    )


def transcriber_from_settings(
    settings: Settings, *, budget_s: float | None = None
) -> Transcriber | None:
    """A transcriber for one job, or None when no API key is configured (transcription off).

    FFmpeg is located here, as everywhere else (KICKFLOW_FFMPEG, PATH, the wheel's).
    """
    config = provider_config(settings)
    if not config.api_key:
        return None
    limits = RunLimits(
        stall_seconds=settings.ffmpeg_stall_seconds,
        max_memory_mb=settings.ffmpeg_max_memory_mb,
        kill_grace_seconds=settings.ffmpeg_kill_grace_seconds,
    )
    ffmpeg = find_ffmpeg(settings.ffmpeg).path
    return Transcriber(config, ffmpeg=ffmpeg, limits=limits, budget_s=budget_s)

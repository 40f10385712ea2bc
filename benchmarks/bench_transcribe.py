"""Benchmark: what transcription sends per programme minute, against sending the whole track.

Builds (and caches) a speech programme: espeak-ng sentences placed every few seconds with
pauses and a long speechless stretch, mixed over -60 dBFS noise, as the decode writes it
(16 kHz mono s16le). Runs the real VAD (kickflow.speech.vad) on it, then the real client
against the local fake provider (tests/fakes/transcription_server.py, 127.0.0.1), once with
Opus and once with FLAC, and prints side by side: audio seconds sent, bytes sent, bytes per
programme minute, requests, and the ratio to the whole track encoded the same way (what the
old system did, before its own media overhead) and to the raw PCM.

    .venv/bin/python benchmarks/bench_transcribe.py [--minutes 10] [--max-chunk-s 600]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # tests.fakes

from tests.fakes.transcription_server import KEY, running_provider  # noqa: E402

from kickflow.media.binaries import find_ffmpeg  # noqa: E402
from kickflow.speech import SPEECH_RATE  # noqa: E402
from kickflow.speech.transcribe import ENCODERS, ProviderConfig, Transcriber  # noqa: E402
from kickflow.speech.vad import speech_segments  # noqa: E402

CACHE = Path(__file__).resolve().parent / ".cache"
SENTENCES = (
    "The harbour was quiet when the ferry came in.",
    "Nobody on the quay knew who had sent the letter.",
    "We should have left before the storm.",
    "Tell me what you saw that night, and take your time.",
    "It was never about the money.",
)


def speech_programme(minutes: float) -> Path:
    """The cached PCM of a programme: a line every ~7 s, and a 2-minute speechless stretch."""
    target = CACHE / f"speech-{minutes:g}min.pcm"
    if target.exists():
        return target
    CACHE.mkdir(exist_ok=True)
    lines = [_spoken(text) for text in SENTENCES]
    rng = np.random.default_rng(3)
    total = int(minutes * 60 * SPEECH_RATE)
    signal = rng.normal(0, 30, total)
    at, index = 2.0, 0
    while at < minutes * 60 - 5:
        if 180 <= at < 300:  # music or effects only: nothing to send
            at = 300.0
            continue
        line = lines[index % len(lines)]
        start = int(at * SPEECH_RATE)
        end = min(total, start + len(line))
        signal[start:end] += line[: end - start]
        at += len(line) / SPEECH_RATE + 1.0 + 4.0 * rng.random()
        index += 1
    target.write_bytes(np.clip(signal, -32768, 32767).astype("<i2").tobytes())
    return target


def _spoken(text: str) -> np.ndarray:
    with tempfile.TemporaryDirectory() as tmp:
        wav = Path(tmp) / "line.wav"
        subprocess.run(["espeak-ng", "-w", str(wav), text], check=True)
        out = _ffmpeg(["-i", str(wav), "-f", "s16le", "-ac", "1", "-ar", str(SPEECH_RATE), "-"])
    return np.frombuffer(out, dtype="<i2").astype(np.float64)


def _ffmpeg(args: list[str]) -> bytes:
    quiet = [find_ffmpeg().path, "-nostdin", "-loglevel", "error", "-y"]
    return subprocess.run([*quiet, *args], check=True, capture_output=True).stdout


def whole_track_bytes(pcm: Path, codec: str) -> int:
    """The whole track encoded the way the chunks are: what sending everything would cost."""
    args, ext = ENCODERS[codec]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / f"whole.{ext}"
        rate = str(SPEECH_RATE)
        _ffmpeg(["-f", "s16le", "-ar", rate, "-ac", "1", "-i", str(pcm), *args, str(out)])
        return out.stat().st_size


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--max-chunk-s", type=float, default=600.0)
    options = parser.parse_args()

    pcm = speech_programme(options.minutes)
    programme_min = pcm.stat().st_size / 2 / SPEECH_RATE / 60
    started = time.monotonic()
    segments = speech_segments(pcm, min_speech_s=0.25, min_silence_s=0.4, pad_s=0.05)
    vad_s = time.monotonic() - started
    speech_s = sum(s.duration_s for s in segments)
    print(
        f"programme {programme_min:.1f} min, VAD {vad_s:.1f} s: {len(segments)} segments, "
        f"{speech_s:.0f} s of speech ({speech_s / programme_min / 60:.0%})"
    )
    print(
        f"{'codec':6} {'sent s':>7} {'bytes':>10} {'B/prog-min':>11} {'requests':>8} "
        f"{'whole track':>11} {'ratio':>6} {'vs PCM':>7} {'wall s':>6}"
    )
    raw = pcm.stat().st_size
    with running_provider() as provider:
        for codec in ("opus", "flac"):
            config = ProviderConfig(
                base_url=provider.url, api_key=KEY, codec=codec, max_chunk_s=options.max_chunk_s
            )
            client = Transcriber(config, ffmpeg=find_ffmpeg().path)
            started = time.monotonic()
            transcript = client.transcribe(pcm, segments)
            wall = time.monotonic() - started
            whole = whole_track_bytes(pcm, codec)
            sent = transcript.bytes_sent
            print(
                f"{codec:6} {transcript.audio_seconds_sent:7.0f} {sent:10d} "
                f"{sent / programme_min:11.0f} {transcript.requests:8d} {whole:11d} "
                f"{sent / whole:6.2f} {sent / raw:7.3f} {wall:6.1f}"
            )


if __name__ == "__main__":
    main()

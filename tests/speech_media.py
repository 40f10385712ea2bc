"""Programmes with speech at known times: espeak-ng lines placed on a timeline with numpy.

The truth of each line is where its samples are audible (above -40 dBFS), not where its WAV was
placed: espeak pads its output with a little silence.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import wave
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from tempfile import mkdtemp

import numpy as np
import pytest

from kickflow.media.model import Segment
from tests.fixtures_media import run_ffmpeg_cli

RATE = 48000
AUDIBLE = 10 ** (-40 / 20)

# Lines of different lengths, so no two are alike in the activity signal.
SENTENCES = (
    "Good evening, and welcome to the programme.",
    "The harbour was quiet that night.",
    "Nobody saw the boat leave.",
    "I told you we should have waited for the morning tide.",
    "Where were you at nine o'clock?",
    "At home, reading.",
    "Then explain the sand on your boots, inspector.",
    "It rained all week in the village.",
    "We found the letter under the floorboards of the old chapel.",
    "Yes.",
    "Call the coastguard and tell them everything we know.",
    "The end of the story is not what you think.",
)


@dataclass(frozen=True)
class Line:
    """One spoken line: the WAV placed at ``at_s``."""

    at_s: float
    text: str
    voice: str = "en"


def needs_espeak() -> None:
    """Skip without espeak-ng, except in CI, where the test set-up installs it: fail there."""
    if shutil.which("espeak-ng") is None:
        assert os.environ.get("CI") != "true", "espeak-ng is missing (scripts/test-deps.sh)"
        pytest.skip("espeak-ng is not installed (the test set-up installs it)")


@cache
def _spoken(text: str, voice: str) -> np.ndarray:
    """espeak-ng's rendering of ``text`` as float samples at RATE."""
    target = Path(mkdtemp(prefix="kf-espeak-")) / "line.wav"
    subprocess.run(["espeak-ng", "-v", voice, "-w", str(target), text], check=True)
    with wave.open(str(target)) as wav:
        rate, frames = wav.getframerate(), wav.readframes(wav.getnframes())
    shutil.rmtree(target.parent)
    samples = np.frombuffer(frames, dtype="<i2").astype(np.float32) / 32768
    times = np.arange(round(len(samples) * RATE / rate)) / RATE
    return np.interp(times, np.arange(len(samples)) / rate, samples).astype(np.float32)


def spoken_extent(line: Line) -> Segment:
    """Where ``line`` is audible on the programme's timeline."""
    loud = np.flatnonzero(np.abs(_spoken(line.text, line.voice)) > AUDIBLE)
    return Segment(line.at_s + loud[0] / RATE, line.at_s + (loud[-1] + 1) / RATE)


def programme(lines: Sequence[Line], seconds: float, bed: np.ndarray | None = None) -> np.ndarray:
    """``seconds`` of mono audio at RATE with ``lines`` spoken (and an optional bed under)."""
    out = np.zeros(round(seconds * RATE), dtype=np.float32)
    if bed is not None:
        out += bed[: len(out)]
    for line in lines:
        voice = _spoken(line.text, line.voice)
        start = round(line.at_s * RATE)
        out[start : start + len(voice)] += voice[: len(out) - start]
    return out


def music_bed(seconds: float, level: float = 0.05) -> np.ndarray:
    """A chord that swells every two seconds: music-like, with no speech in it."""
    t = np.arange(round(seconds * RATE)) / RATE
    chord = sum(np.sin(2 * np.pi * f * t) for f in (220.0, 277.2, 329.6, 440.0))
    swell = 0.6 + 0.4 * np.sin(2 * np.pi * 0.5 * t)
    return (level * swell * chord / 4).astype(np.float32)


def write_wav(target: Path, *channels: np.ndarray) -> Path:
    """A 16-bit PCM WAV of the given mono channels (one channel each, same length)."""
    stacked = np.stack(channels, axis=1) if len(channels) > 1 else channels[0][:, None]
    ints = (np.clip(stacked, -1, 1) * 32767).astype("<i2")
    with wave.open(str(target), "wb") as wav:
        wav.setnchannels(ints.shape[1])
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(ints.tobytes())
    return target


def listened_pcm(source: Path, target: Path) -> Path:
    """The 16 kHz mono s16le PCM the analysis writes for a listened track."""
    run_ffmpeg_cli(["-i", str(source), "-ac", "1", "-ar", "16000", "-f", "s16le", str(target)])
    return target


def spread(count: int, first_s: float = 2.0, every_s: float = 6.0) -> list[Line]:
    """``count`` English lines, one every ``every_s`` seconds from ``first_s``."""
    return [Line(first_s + i * every_s, SENTENCES[i % len(SENTENCES)]) for i in range(count)]

"""Speech on the audio tracks: voice activity (vad), the analysis stage that listens to the
tracks (stage), subtitle-to-speech and dub-to-original alignment (align), transcription
(transcribe) and language tags (language).

Every listened track reaches this package as raw PCM written by the one decode: signed 16-bit
little-endian, mono, ``SPEECH_RATE`` Hz, sample 0 at programme time 0.
"""

from __future__ import annotations

SPEECH_RATE = 16000  # Hz: what the VAD model and the transcription providers expect

__all__ = ["SPEECH_RATE"]

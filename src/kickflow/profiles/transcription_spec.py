"""``[speech.transcription]``: whether and how speech is sent to the transcription provider."""

from __future__ import annotations

from kickflow.profiles.sections import Section


class TranscriptionSpec(Section):
    """Transcription settings of a profile (speech/transcribe.py)."""

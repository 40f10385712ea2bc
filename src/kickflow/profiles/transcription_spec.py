"""``[speech.transcription]``: whether and how speech is sent to the transcription provider."""

from __future__ import annotations

from pydantic import Field

from kickflow.profiles.sections import Section


class TranscriptionSpec(Section):
    """Transcription settings of a profile (speech/transcribe.py, checks/speech_language.py).

    Off by default: it sends audio to an outside provider and costs money per minute. When
    it is on but not ``required``, a provider outage is a warning finding (and a health
    warning), never a failed file.
    """

    enabled: bool = False
    required: bool = False  # true: no transcript (outage, bad key, budget) fails the file
    # Tell the provider each track's expected language. Better text, but the provider then
    # reports that language back, so speech.language can no longer catch a wrong-language dub.
    language_hint: bool = False
    max_minutes_per_job: float = Field(default=60.0, gt=0)  # of speech audio sent, all tracks
    # Seconds of transcribed speech below which a track's language is not judged (too little).
    min_language_speech_s: float = Field(default=10.0, ge=0)

    @property
    def budget_s(self) -> float:
        return self.max_minutes_per_job * 60.0

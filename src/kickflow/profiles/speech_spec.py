"""``[speech]``: voice activity, dialogue presence, sync, dub timing and transcription."""

from __future__ import annotations

from kickflow.profiles.sections import Section


class SpeechSpec(Section):
    """Speech thresholds (checks/speech.py, speech/)."""

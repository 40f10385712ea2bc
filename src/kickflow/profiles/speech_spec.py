"""``[speech]``: voice activity, dialogue presence, sync, dub timing and transcription.

When the tracks are listened to (``enabled``): ``true`` always, ``false`` never, and left out
only when the delivery carries subtitles (sidecar files or text streams in the container), so
the default profile stays as cheap as before for a file that comes alone. Which tracks: those
of the layout whose role is ``dialogue``, ``mix`` or ``language:*``, or track 1 when the
profile has no layout (kickflow.speech.stage.listened_tracks).
"""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from kickflow.profiles.sections import Section
from kickflow.profiles.transcription_spec import TranscriptionSpec


class SpeechSpec(Section):
    """Speech thresholds (checks/speech.py, speech/)."""

    enabled: bool | None = None  # None: listen when the delivery has subtitles
    # Voice activity (silero): a window is speech from this probability (hysteresis below it).
    vad_threshold: float = Field(default=0.5, gt=0, lt=1)
    min_speech_s: float = Field(default=0.25, ge=0)  # shorter bursts are not speech
    min_silence_s: float = Field(default=0.4, ge=0)  # shorter pauses do not end a line
    pad_s: float = Field(default=0.05, ge=0, le=1)  # added around each speech segment
    # speech.dialogue_presence
    expect_speech: bool = True  # a listened track with no speech at all is a finding
    max_speechless_s: float = Field(default=300.0, gt=0)  # on dialogue tracks
    # speech.subtitle_sync
    sync_tolerance_s: float = Field(default=0.2, gt=0)  # offset, or drift over the programme
    min_cues_with_speech: float = Field(default=0.5, ge=0, le=1)  # share of cues over speech
    # speech.dub_timing: the original track (None: the layout's first dialogue or mix track)
    # and its dubs (empty: the layout's language:* tracks).
    original_track: int | None = Field(default=None, ge=1)
    dub_tracks: tuple[int, ...] = ()
    dub_tolerance_s: float = Field(default=0.5, gt=0)  # a line's start may differ this much
    transcription: TranscriptionSpec = TranscriptionSpec()

    @field_validator("dub_tracks")
    @classmethod
    def _positions(cls, value: tuple[int, ...]) -> tuple[int, ...]:
        if any(p < 1 for p in value):
            raise ValueError("tracks are numbered from 1")
        return value

    @model_validator(mode="after")
    def _original_is_not_a_dub(self) -> SpeechSpec:
        if self.original_track is not None and self.original_track in self.dub_tracks:
            raise ValueError(f"track {self.original_track} cannot be both original and dub")
        return self

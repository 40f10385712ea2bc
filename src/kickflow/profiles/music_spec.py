"""``[music_bed]``: which tracks must carry a music & effects bed, and the heuristic's thresholds.

``audio.music_bed`` (checks/music_bed.py) judges tracks by their layout role: ``me`` always, and
the roles listed in ``roles`` besides (e.g. ``["mix"]`` for a mix that must carry the score).
The thresholds apply to the per-block statistics of media/music.py (3-s blocks of 25 ms windows
of a 16 kHz mono downmix).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import Field, field_validator

from kickflow.profiles.sections import Section

if TYPE_CHECKING:
    from kickflow.profiles.model import Profile

ALWAYS = ("me",)  # music & effects tracks carry a bed by definition


class MusicBedSpec(Section):
    """Music & effects presence (a heuristic, not a classifier; see media/music.py)."""

    roles: tuple[str, ...] = ()  # roles judged besides ``me`` (e.g. "mix")
    # A bed keeps the level floor (5th percentile of 25 ms windows) at least this loud…
    min_floor_dbfs: float = Field(default=-50.0, le=0)
    # …and within this many dB of the block's median (speech alone dips much deeper).
    max_dip_db: float = Field(default=24.0, gt=0)
    min_continuous_s: float = Field(default=6.0, gt=0)  # …for at least this long
    # A block whose active windows are mostly noise-like carries effects.
    min_noise_share: float = Field(default=0.5, gt=0, le=1)
    min_active_share: float = Field(default=0.1, gt=0, le=1)  # …when it is active this much
    silent_below_dbfs: float = Field(default=-50.0, le=0)  # a block whose top is below: silent
    missing_min_s: float = Field(default=30.0, gt=0)  # a stretch without a bed this long
    min_bed_share: float = Field(default=0.05, ge=0, le=1)  # less of the track: no bed at all

    @field_validator("roles")
    @classmethod
    def _layout_roles(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for role in value:
            if role not in ("mix", "dialogue", "stem") and not role.startswith("language:"):
                raise ValueError(f"has {role!r}; use mix, dialogue, stem or language:<tag>")
        return value


def judged_roles(spec: MusicBedSpec) -> tuple[str, ...]:
    return (*ALWAYS, *spec.roles)


def bed_track_positions(profile: Profile) -> tuple[int, ...]:
    """The layout positions whose music-bed branch must run (none when the check is off).

    Here, not in checks/music_bed.py: the decode needs it, and importing the checks would
    delay the decode's start by every check's imports."""
    if profile.severity_of("audio.music_bed") == "off":
        return ()
    roles = judged_roles(profile.music_bed)
    return tuple(i for i, t in enumerate(profile.audio.tracks, 1) if t.role in roles)

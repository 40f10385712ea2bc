"""``[subtitles]``: the timed-text rules a delivery's subtitle files are held to."""

from __future__ import annotations

from kickflow.profiles.sections import Section


class SubtitleSpec(Section):
    """Timed-text thresholds (checks/subtitles.py)."""

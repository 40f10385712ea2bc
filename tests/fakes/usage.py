"""Transcription usage in the fake store, with the rules of :mod:`kickflow.jobs.usage` (one
total per organisation and day, adds accumulate, an unknown organisation is refused)."""

from __future__ import annotations

from kickflow.errors import DatabaseError
from tests.fakes.base import FakeStoreBase


class FakeUsage(FakeStoreBase):
    """Seconds by (organisation, day) (part of :class:`~tests.fakes.FakeJobStore`)."""

    def transcription_used_s(self, org_id: str, day: str) -> float:
        with self._tx("transcription_used_s", org_id, day):
            return self._t.org_usage.get((org_id, day), 0.0)

    def add_transcription_usage(self, org_id: str, day: str, seconds: float) -> None:
        with self._tx("add_transcription_usage", org_id, day, seconds):
            if org_id not in self._t.orgs:
                raise DatabaseError("database error: FOREIGN KEY constraint failed (no org)")
            self._t.org_usage[(org_id, day)] = self._t.org_usage.get((org_id, day), 0.0) + seconds

"""Part of the USER contract (``TestUserContract`` inherits it): transcription usage, the
seconds of audio each organisation sent per UTC day, which the daily cap is checked against."""

from __future__ import annotations

import threading

from tests.contract.harness import ContractStore

DAY, NEXT_DAY = "2026-12-01", "2026-12-02"


class UsageContract:
    def test_usage_adds_up_per_organisation_and_per_day(self, store: ContractStore) -> None:
        jobs, other = store.jobs, store.jobs.ensure_org("other")
        assert jobs.transcription_used_s(store.org, DAY) == 0.0
        jobs.add_transcription_usage(store.org, DAY, 90.5)
        jobs.add_transcription_usage(store.org, DAY, 29.5)
        jobs.add_transcription_usage(store.org, NEXT_DAY, 7.25)
        jobs.add_transcription_usage(other, DAY, 600.0)
        assert jobs.transcription_used_s(store.org, DAY) == 120.0
        assert jobs.transcription_used_s(store.org, NEXT_DAY) == 7.25
        assert jobs.transcription_used_s(other, DAY) == 600.0, "another organisation's own"
        assert jobs.transcription_used_s(other, NEXT_DAY) == 0.0

    def test_adds_at_once_all_count(self, store: ContractStore) -> None:
        def add_five() -> None:
            for _ in range(5):
                store.jobs.add_transcription_usage(store.org, DAY, 1.5)

        threads = [threading.Thread(target=add_five) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert store.jobs.transcription_used_s(store.org, DAY) == 30.0

"""Part of the USER contract (``TestUserContract`` inherits it): organisation profiles (custom
TOML delivery specs stored per organisation), the snapshot of a custom profile in the jobs
submitted with it, and the hourly outcomes the operations page charts."""

from __future__ import annotations

import itertools

import pytest

from kickflow.errors import RequestInvalid
from kickflow.jobs import JobState
from kickflow.jobs.throughput import HOUR as HOUR_SECONDS
from tests.contract.harness import ContractStore

SPEC = "[loudness]\ntarget_lufs = -23.0\nmax_true_peak_dbtp = -1.0\n"
LOUDER = SPEC.replace("-23.0", "-16.0")


class OrgProfilesContract:
    # --- organisation profiles --------------------------------------------------------------

    def test_a_saved_profile_is_read_back_and_listed_by_name(self, store: ContractStore) -> None:
        jobs = store.jobs
        saved = jobs.save_org_profile(store.org, "web-loud", LOUDER, "user-1")
        assert (saved.org_id, saved.name, saved.source, saved.updated_by) == (
            store.org, "web-loud", LOUDER, "user-1",
        )  # fmt: skip
        assert saved.created_at == saved.updated_at
        jobs.save_org_profile(store.org, "broadcast", SPEC, None)
        assert jobs.org_profile(store.org, "web-loud") == saved
        assert [p.name for p in jobs.org_profiles(store.org)] == ["broadcast", "web-loud"]
        assert jobs.org_profile(store.org, "nothing") is None

    def test_profiles_are_the_organisations_own(self, store: ContractStore) -> None:
        jobs = store.jobs
        other = jobs.ensure_org("other")
        jobs.save_org_profile(store.org, "house", SPEC, None)
        assert jobs.org_profiles(other) == []
        assert jobs.org_profile(other, "house") is None
        assert jobs.delete_org_profile(other, "house") is False
        theirs = jobs.save_org_profile(other, "house", LOUDER, None)  # the same name is theirs
        assert jobs.org_profile(store.org, "house").source == SPEC  # type: ignore[union-attr]
        assert jobs.org_profile(other, "house") == theirs

    def test_saving_again_replaces_the_source_and_keeps_the_creation_time(
        self, store: ContractStore
    ) -> None:
        jobs = store.jobs
        first = jobs.save_org_profile(store.org, "house", SPEC, "user-1")
        store.clock_moves_past(first.updated_at)
        second = jobs.save_org_profile(store.org, "house", LOUDER, "user-2")
        assert (second.source, second.updated_by) == (LOUDER, "user-2")
        assert second.created_at == first.created_at
        assert second.updated_at > first.updated_at
        assert jobs.org_profiles(store.org) == [second]

    def test_delete_says_whether_there_was_one(self, store: ContractStore) -> None:
        jobs = store.jobs
        jobs.save_org_profile(store.org, "house", SPEC, None)
        jobs.save_org_profile(store.org, "kept", SPEC, None)
        assert jobs.delete_org_profile(store.org, "house") is True
        assert jobs.delete_org_profile(store.org, "house") is False
        assert [p.name for p in jobs.org_profiles(store.org)] == ["kept"]

    @pytest.mark.parametrize(
        "name", ["", "Upper", "with space", "-leading", "trailing-", "dot.ted", "x" * 101, "é"]
    )
    def test_a_name_that_is_not_a_short_slug_is_refused(
        self, store: ContractStore, name: str
    ) -> None:
        with pytest.raises(RequestInvalid, match="profile name"):
            store.jobs.save_org_profile(store.org, name, SPEC, None)
        assert store.jobs.org_profiles(store.org) == []

    def test_the_longest_name_is_accepted(self, store: ContractStore) -> None:
        name = "a" * 99 + "1"
        assert store.jobs.save_org_profile(store.org, name, SPEC, None).name == name

    # --- the snapshot in a job --------------------------------------------------------------

    def test_a_job_keeps_the_profile_source_it_was_submitted_with(
        self, store: ContractStore
    ) -> None:
        one = store.add("one.mov", profile="house", profile_source=SPEC)
        [two] = store.jobs.enqueue_many(
            [
                store.jobs.new_job(
                    store.org, "path", "/media/two.mov", file_name="two.mov",
                    profile="house", profile_source=SPEC,
                )
            ]
        )  # fmt: skip
        plain = store.add("plain.mov")
        assert (one.profile, one.profile_source) == ("house", SPEC)
        assert two.profile_source == SPEC
        assert plain.profile_source is None
        store.jobs.save_org_profile(store.org, "house", LOUDER, None)  # replaced afterwards
        assert store.jobs.get(store.org, one.id).profile_source == SPEC
        claimed = {c.job.id: c.job for c in store.worker.claim("w1", limit=3)}
        assert claimed[one.id].profile_source == SPEC, "the worker is handed the snapshot"
        assert claimed[two.id].profile_source == SPEC
        assert claimed[plain.id].profile_source is None

    # --- hourly outcomes --------------------------------------------------------------------

    def test_hourly_outcomes_cover_clock_hours_up_to_now(self, store: ContractStore) -> None:
        hours = store.jobs.hourly_outcomes(store.org)
        now = store.jobs.now()
        assert len(hours) == 24
        assert all(h.finished == 0 and h.failure_rate is None for h in hours)
        starts = [h.start for h in hours]
        assert all(s % HOUR_SECONDS == 0 for s in starts)
        assert [b - a for a, b in itertools.pairwise(starts)] == [HOUR_SECONDS] * 23
        assert starts[-1] <= now < starts[-1] + HOUR_SECONDS + 1  # +1: the hour may just turn
        assert len(store.jobs.hourly_outcomes(store.org, hours=3)) == 3

    def test_hourly_outcomes_count_each_end_by_state_in_its_organisation(
        self, store: ContractStore
    ) -> None:
        jobs = store.jobs
        other = jobs.ensure_org("other")
        done, failed, cancelled, waiting = (store.add(n) for n in ("c", "f", "x", "q"))
        elsewhere = store.add("e", org=other)
        leases = {c.job.id: c.lease for c in store.worker.claim("w1", limit=5)}
        jobs.complete(leases[done.id], "failed", {"n": 1})  # a QC verdict, not a job failure
        jobs.fail(leases[failed.id], "not_media", "not media", permanent=True)
        jobs.cancel(store.org, cancelled.id)
        jobs.acknowledge_cancel(leases[cancelled.id])
        jobs.complete(leases[elsewhere.id], "passed", {"n": 1})
        jobs.release(leases[waiting.id])
        jobs.retry(store.org, done.id)  # re-queued: the hour it finished in keeps it

        def totals(org: str | None) -> tuple[int, int, int]:
            hours = jobs.hourly_outcomes(org)
            return (
                sum(h.completed for h in hours),
                sum(h.failed for h in hours),
                sum(h.cancelled for h in hours),
            )

        assert totals(store.org) == (1, 1, 1)
        assert totals(other) == (1, 0, 0)
        assert totals(None) == (2, 1, 1)
        assert jobs.get(store.org, done.id).state is JobState.QUEUED

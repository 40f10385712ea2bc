"""The jobs list's filters (part of the USER contract): profile, text on the file name,
creation-time ranges, their combination with state/verdict/project, pagination through a
filtered list and tenant scoping. Expected sets are computed from what ``enqueue`` returned,
so the tests hold on any clock (the fake's stands still; a database's moves)."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from kickflow.errors import RequestInvalid
from kickflow.jobs import DEFAULT_PROFILE, Job
from tests.contract.harness import ContractStore

NAMES = (
    "Episode_01.MXF",
    "episode%02.mov",
    "trailer.wav",
    "EPISODE-03.mov",
    "back\\slash.mov",
    "Épisode-04.mov",
)


def ids(jobs: Iterable[Job]) -> set[str]:
    return {j.id for j in jobs}


def named(store: ContractStore) -> dict[str, Job]:
    """One job per name in NAMES; the trailer has another profile and a project."""
    out = {}
    for name in NAMES:
        extra = {"profile": "trailers", "project": "promo"} if name == "trailer.wav" else {}
        out[name] = store.add(name, **extra)
    return out


class ListingContract:
    def test_text_is_a_case_insensitive_literal_substring(self, store: ContractStore) -> None:
        jobs = named(store)
        found = ids(store.jobs.list_jobs(store.org, text="episode").jobs)
        assert found == ids(jobs[n] for n in ("Episode_01.MXF", "episode%02.mov", "EPISODE-03.mov"))
        for text, only in (
            ("_0", "Episode_01.MXF"),  # not "any character, then 0"
            ("%", "episode%02.mov"),  # not "anything"
            ("\\s", "back\\slash.mov"),  # the escape character itself, literally
            ("E%0", "episode%02.mov"),
        ):
            assert ids(store.jobs.list_jobs(store.org, text=text).jobs) == {jobs[only].id}, text
        assert store.jobs.list_jobs(store.org, text="nothing like it").jobs == []
        # Only ASCII letters are folded, on every store (what SQLite's LIKE can do).
        accented = [j.id for j in store.jobs.list_jobs(store.org, text="ÉPISODE").jobs]
        assert accented == [jobs["Épisode-04.mov"].id]
        assert store.jobs.list_jobs(store.org, text="épisode").jobs == []
        assert len(store.jobs.list_jobs(store.org, text="").jobs) == len(NAMES), "blank: no filter"

    def test_profile_filter(self, store: ContractStore) -> None:
        jobs = named(store)
        trailers = store.jobs.list_jobs(store.org, profile="trailers").jobs
        assert [j.id for j in trailers] == [jobs["trailer.wav"].id]
        default = ids(store.jobs.list_jobs(store.org, profile=DEFAULT_PROFILE).jobs)
        assert default == ids(j for n, j in jobs.items() if n != "trailer.wav")
        assert store.jobs.list_jobs(store.org, profile="no-such-profile").jobs == []

    def test_created_ranges_are_from_inclusive_to_exclusive(self, store: ContractStore) -> None:
        added = list(named(store).values())
        lo, hi = added[1].created_at, added[3].created_at

        def listed(**kw: float) -> set[str]:
            return ids(store.jobs.list_jobs(store.org, **kw).jobs)

        assert listed(created_from=lo) == ids(j for j in added if j.created_at >= lo)
        assert listed(created_to=hi) == ids(j for j in added if j.created_at < hi)
        between = ids(j for j in added if lo <= j.created_at < hi)
        assert listed(created_from=lo, created_to=hi) == between
        assert added[1].id in between and added[3].id not in between
        assert listed(created_from=hi + 3600) == set()
        assert listed(created_to=added[0].created_at) == set()

    def test_filters_combine_and_page_newest_first(self, store: ContractStore) -> None:
        added = [store.add(f"clip-{i}.mov", project="p" if i % 3 else "q") for i in range(7)]
        store.add("other-7.mov", project="p")
        wanted = sorted(
            (j for j in added if j.project == "p"),
            key=lambda j: (j.created_at, j.id),
            reverse=True,
        )
        page = store.jobs.list_jobs(store.org, project="p", text="CLIP", limit=2)
        seen = list(page.jobs)
        while page.next_cursor:
            page = store.jobs.list_jobs(
                store.org, project="p", text="CLIP", limit=2, cursor=page.next_cursor
            )
            seen += page.jobs
        assert [j.id for j in seen] == [j.id for j in wanted]
        done = store.jobs.complete(store.claim_one().lease, "passed", {})
        completed = store.jobs.list_jobs(store.org, state="completed", text="clip").jobs
        assert [j.id for j in completed] == [done.id]
        assert store.jobs.list_jobs(store.org, state="completed", text="other").jobs == []
        assert store.jobs.list_jobs(store.org, verdict="passed", project="none").jobs == []

    def test_filters_stay_inside_the_organisation(self, store: ContractStore) -> None:
        other = store.jobs.ensure_org("listing-other")
        mine = store.add("shared-name.mov", profile="trailers")
        store.add("shared-name.mov", org=other, profile="trailers")
        for kw in ({"text": "shared"}, {"profile": "trailers"}, {"created_from": 0.0}):
            assert [j.id for j in store.jobs.list_jobs(store.org, **kw).jobs] == [mine.id], kw
        assert len(store.jobs.list_jobs(None, text="shared").jobs) == 2, "None: every org"

    @pytest.mark.parametrize(
        "bad",
        [{"state": "done"}, {"verdict": "ok"}, {"text": "x" * 201}, {"created_from": float("nan")}],
    )
    def test_unknown_filter_values_are_refused(
        self, store: ContractStore, bad: dict[str, object]
    ) -> None:
        with pytest.raises(RequestInvalid):
            store.jobs.list_jobs(store.org, **bad)  # type: ignore[arg-type]

    def test_listed_jobs_carry_no_report(self, store: ContractStore) -> None:
        store.add("done.mov")
        done = store.jobs.complete(store.claim_one().lease, "passed", {"findings": [1, 2]})
        [listed] = store.jobs.list_jobs(store.org).jobs
        assert listed.id == done.id and listed.verdict == "passed"
        assert listed.report is None, "a list does not decode reports"
        assert store.jobs.get(store.org, done.id).report == {"findings": [1, 2]}

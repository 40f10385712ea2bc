"""Organisation profiles and the ops page's hourly outcomes in the fake store, with the rules
of :mod:`kickflow.jobs.org_profiles` (the same name check) and :mod:`kickflow.jobs.throughput`
(the same window, finishing kinds and bucketing)."""

from __future__ import annotations

from collections import Counter

from kickflow.errors import DatabaseError
from kickflow.jobs import HourlyOutcomes, OrgProfile
from kickflow.jobs.org_profiles import check_name
from kickflow.jobs.throughput import FINISHING_KINDS, HOUR, OUTCOMES, bucketed, window
from tests.fakes.base import FakeStoreBase


class FakeOrgProfiles(FakeStoreBase):
    """Custom profiles by (organisation, name) (part of :class:`~tests.fakes.FakeJobStore`)."""

    def save_org_profile(
        self, org_id: str, name: str, source: str, user_id: str | None
    ) -> OrgProfile:
        check_name(name)
        with self._tx("save_org_profile", org_id, name, source, user_id) as now:
            if org_id not in self._t.orgs:
                raise DatabaseError("database error: FOREIGN KEY constraint failed (no org)")
            old = self._t.org_profiles.get((org_id, name))
            created = now if old is None else old.created_at
            saved = OrgProfile(org_id, name, source, created, now, user_id)
            self._t.org_profiles[(org_id, name)] = saved
            return saved

    def org_profiles(self, org_id: str) -> list[OrgProfile]:
        with self._tx("org_profiles", org_id):
            mine = [p for (org, _), p in self._t.org_profiles.items() if org == org_id]
            return sorted(mine, key=lambda p: p.name)

    def org_profile(self, org_id: str, name: str) -> OrgProfile | None:
        with self._tx("org_profile", org_id, name):
            return self._t.org_profiles.get((org_id, name))

    def delete_org_profile(self, org_id: str, name: str) -> bool:
        with self._tx("delete_org_profile", org_id, name):
            return self._t.org_profiles.pop((org_id, name), None) is not None


class FakeThroughput(FakeStoreBase):
    """Jobs finished per hour, from the fake's event list."""

    def hourly_outcomes(self, org_id: str | None = None, hours: int = 24) -> list[HourlyOutcomes]:
        with self._tx("hourly_outcomes", org_id, hours) as now:
            starts = window(now, hours)
            ends = Counter(
                (e.to_state, int((e.at - starts[0]) // HOUR))
                for e in self._t.events
                if e.kind in FINISHING_KINDS
                and e.at >= starts[0]
                and e.to_state in OUTCOMES
                and e.from_state != e.to_state
                and (org_id is None or e.org_id == org_id)
            )
            return bucketed(starts, [(str(s), i, n) for (s, i), n in ends.items()])

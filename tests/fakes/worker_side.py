"""The worker side of the fake store (:class:`~kickflow.jobs.WorkerPort`): claim, heartbeat,
the fenced final writes, the worker registry and the reaper, with the SQL store's rules."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable, Sequence
from typing import Any

from kickflow.errors import KickflowError, LeaseLost
from kickflow.jobs import (
    Claimed,
    HeartbeatReply,
    Job,
    JobState,
    Lease,
    ReapResult,
    WorkerInfo,
    reaper,
)
from kickflow.jobs.claim import PAUSE_FLAG
from kickflow.jobs.ops import backoff_seconds, cleared_lease
from kickflow.jobs.store import REAPER_ERROR_FLAG, REAPER_RUN_FLAG
from tests.fakes.base import FakeStoreBase, as_json_column, copied

Q, R = JobState.QUEUED, JobState.RUNNING
Decision = tuple[str, str, str | None, dict[str, Any]]  # action, event kind, message, values


class FakeWorkerSide(FakeStoreBase):
    """WorkerPort in memory (the user side is :class:`~tests.fakes.store.FakeJobStore`)."""

    # --- reaper -----------------------------------------------------------------------------

    def reap(self) -> ReapResult:
        """One reaper pass, with :func:`kickflow.jobs.reaper.decide` as the SQL store."""
        s = self.settings
        policy = reaper.ReapPolicy(s.stuck_after_seconds, s.retry_base_seconds, s.retry_max_seconds)
        try:
            with self._tx("reap") as now:
                out: dict[str, list[str]] = {
                    "queued": [],
                    "failed": [],
                    "cancelled": [],
                    "paused": [],
                }
                for job in self._stuck(None, now)[: reaper.BATCH]:
                    new = self._reap_one(job, now, policy)
                    out[new.state.value].append(job.id)
                result = ReapResult(out["queued"], out["failed"], out["cancelled"], out["paused"])
        except KickflowError as exc:
            self._set_flag(REAPER_ERROR_FLAG, exc.message)
            raise
        self._set_flag(REAPER_RUN_FLAG, str(result.total))
        return result

    def _reap_one(self, job: Job, now: float, policy: reaper.ReapPolicy) -> Job:
        decision = reaper.decide(job, now, policy)
        new = self._move(job, decision.action, now, **decision.values)
        self._event(
            job,
            "reaped",
            now,
            to_state=new.state.value,
            code=decision.code,
            message=decision.message,
        )
        return new

    def reaper_status(self) -> dict[str, Any]:
        run, err = self._flag(REAPER_RUN_FLAG), self._flag(REAPER_ERROR_FLAG)
        return {
            "last_run": run[1] if run else None,
            "last_recovered": int(run[0]) if run else 0,
            "last_error": err[0] if err else None,
            "last_error_at": err[1] if err else None,
        }

    # --- worker registry --------------------------------------------------------------------

    def register_worker(self, worker_id: str, hostname: str, pid: int, concurrency: int) -> None:
        with self._tx("register_worker", worker_id, hostname, pid, concurrency) as now:
            info = WorkerInfo(worker_id, hostname, pid, concurrency, "running", now, now, None)
            self._t.workers.pop(worker_id, None)
            self._t.workers[worker_id] = info

    def worker_heartbeat(self, worker_id: str, state: str = "running") -> None:
        with self._tx("worker_heartbeat", worker_id, state) as now:
            info = self._t.workers.get(worker_id)
            if info is None:
                return
            stopped_at = now if state == "stopped" else info.stopped_at
            self._t.workers[worker_id] = dataclasses.replace(
                info, heartbeat_at=now, state=state, stopped_at=stopped_at
            )

    def prune_workers(self, older_than_seconds: float = 86400.0) -> int:
        with self._tx("prune_workers", older_than_seconds) as now:
            old = [w for w in self._t.workers.values() if w.heartbeat_at < now - older_than_seconds]
            for w in old:
                del self._t.workers[w.id]
            return len(old)

    def live_workers(self) -> list[WorkerInfo]:
        within = max(3 * self.settings.heartbeat_seconds, 5.0)
        with self._tx("live_workers") as now:
            live = [
                w
                for w in self._t.workers.values()
                if w.state != "stopped" and w.heartbeat_at > now - within
            ]
            return sorted(live, key=lambda w: w.started_at)

    def registered_workers(self, hostname: str) -> dict[str, int]:
        with self._tx("registered_workers", hostname):
            return {w.id: w.pid for w in self._t.workers.values() if w.hostname == hostname}

    # --- worker side: claim -----------------------------------------------------------------

    def claim(self, worker_id: str, limit: int = 1) -> list[Claimed]:
        """Claim up to ``limit`` due jobs, in the order of :mod:`kickflow.jobs.claim`."""
        with self._tx("claim", worker_id, limit) as now:
            flag = self._t.flags.get(PAUSE_FLAG)
            if flag is not None and flag[0] == "1":
                return []
            return [self._claim_one(job, worker_id, now) for job in self._pick(now, limit)]

    def _pick(self, now: float, limit: int) -> list[Job]:
        """Each organisation's first due jobs in its own order, numbered k = 1, 2, …; then by
        running + k, the organisation served least recently (never first), age."""
        arrival = {job_id: n for n, job_id in enumerate(self._t.jobs)}
        heads: list[tuple[tuple[Any, ...], Job]] = []
        for org in self._t.orgs.values():
            cap = self.settings.org_max_running if org.max_running is None else org.max_running
            mine = [j for j in self._t.jobs.values() if j.org_id == org.id]
            running = sum(1 for j in mine if j.state is R)
            served = self._t.served.get(org.id)
            due = [j for j in mine if j.state is Q and j.run_at <= now]
            due.sort(key=lambda j: (-j.priority, j.run_at, j.created_at, arrival[j.id]))
            for k, job in enumerate(due[: max(0, limit)], start=1):
                if cap <= 0 or running + k <= cap:
                    key = (running + k, served is not None, served or 0, job.created_at, job.id)
                    heads.append((key, job))
        heads.sort(key=lambda h: h[0])
        return [job for _, job in heads[: max(0, limit)]]

    def _claim_one(self, job: Job, worker_id: str, now: float) -> Claimed:
        new = self._move(
            job, "claim", now, attempt=job.attempt + 1, lease_token=uuid.uuid4().hex,
            lease_expires_at=now + self.settings.lease_seconds, worker_id=worker_id,
            heartbeat_at=now, progress=0.0, progress_at=now, phase="initializing",
            started_at=now, finished_at=None,
        )  # fmt: skip
        self._append(
            job_id=new.id, org_id=new.org_id, at=now, kind="claimed", from_state=Q.value,
            to_state=R.value, attempt=new.attempt, worker_id=worker_id, code=None,
            message=f"attempt {new.attempt} of {new.max_attempts} claimed by {worker_id}",
        )  # fmt: skip
        return Claimed(copied(new), Lease(new.id, new.lease_token or "", new.attempt, worker_id))

    # --- worker side: fenced writes ---------------------------------------------------------

    def _fenced(self, lease: Lease) -> Job | None:
        """The job if ``lease`` still holds it: same token, still running."""
        job = self._t.jobs.get(lease.job_id)
        if job is None or job.lease_token != lease.token or job.state is not R:
            return None
        return job

    def _record_fenced(self, lease: Lease, what: str, now: float) -> None:
        job = self._t.jobs.get(lease.job_id)
        if job is None:
            return
        self._append(
            job_id=lease.job_id, org_id=job.org_id, at=now, kind="fenced", from_state=None,
            to_state=None, attempt=lease.attempt, worker_id=lease.worker_id, code="lease_lost",
            message=f"rejected {what} from {lease.worker_id} (attempt {lease.attempt}): lease lost",
        )  # fmt: skip

    def heartbeat(self, lease: Lease, progress: float, phase: str) -> HeartbeatReply:
        with self._tx("heartbeat", lease, progress, phase) as now:
            job = self._fenced(lease)
            if job is None:
                self._record_fenced(lease, "heartbeat", now)
                return HeartbeatReply(lease_held=False)
            moved = job.progress != progress or job.phase != phase
            new = self._put(
                dataclasses.replace(
                    job, heartbeat_at=now, lease_expires_at=now + self.settings.lease_seconds,
                    progress_at=now if moved else job.progress_at, progress=float(progress),
                    phase=phase, updated_at=now,
                )
            )  # fmt: skip
            return HeartbeatReply(True, new.cancel_requested, new.pause_requested)

    def _finish(
        self,
        method: str,
        lease: Lease,
        what: str,
        decide: Callable[[Job, float], Decision],
    ) -> Job:
        """One fenced final write: ``decide(job, now)`` gives (action, event kind, event
        message, values). LeaseLost (and a ``fenced`` event) when the lease is lost."""
        with self._tx(method, lease) as now:
            job = self._fenced(lease)
            if job is None:
                self._record_fenced(lease, what, now)
            else:
                action, kind, message, values = decide(job, now)
                new = self._move(job, action, now, **values)
                self._event(
                    new, kind, now, from_state=R.value, to_state=new.state.value,
                    code=values.get("error_code"), message=message, attempt=lease.attempt,
                    worker_id=lease.worker_id,
                )  # fmt: skip
                return copied(new)
        raise LeaseLost(f"job {lease.job_id}: lease lost, {what} rejected")

    def complete(self, lease: Lease, verdict: str, report: dict[str, Any]) -> Job:
        stored = as_json_column(report)
        return self._finish(
            "complete", lease, "result", lambda _, now: _completion(verdict, stored, now)
        )

    def complete_many(self, results: Sequence[tuple[Lease, str, dict[str, Any]]]) -> list[bool]:
        stored = [as_json_column(report) for _, _, report in results]
        with self._tx("complete_many", tuple(results)) as now:
            accepted = []
            for (lease, verdict, _), report in zip(results, stored, strict=True):
                job = self._fenced(lease)
                if job is not None:
                    action, kind, message, values = _completion(verdict, report, now)
                    new = self._move(job, action, now, **values)
                    self._event(
                        new, kind, now, from_state=R.value, to_state=new.state.value,
                        message=message, attempt=lease.attempt, worker_id=lease.worker_id,
                    )  # fmt: skip
                accepted.append(job is not None)
            for (lease, _, _), ok in zip(results, accepted, strict=True):
                if not ok:
                    self._record_fenced(lease, "result", now)
            return accepted

    def fail(self, lease: Lease, code: str, message: str, *, permanent: bool) -> Job:
        s = self.settings

        def decide(job: Job, now: float) -> Decision:
            common = {"error_code": code, "error_message": message, **cleared_lease()}
            if permanent or lease.attempt >= job.max_attempts:
                return "fail", "failed", message, {"finished_at": now, **common}
            delay = backoff_seconds(lease.attempt, s.retry_base_seconds, s.retry_max_seconds)
            note = f"{message} (retry in {delay:.0f} s)"
            return "retry_later", "retry_scheduled", note, {"run_at": now + delay, **common}

        return self._finish("fail", lease, "failure", decide)

    def release(self, lease: Lease, reason: str = "worker shutting down") -> Job:
        def decide(job: Job, now: float) -> Decision:
            values = {"attempt": job.attempt - 1, "run_at": now, "progress": 0.0, "phase": None}
            return "release", "released", reason, {**values, **cleared_lease()}

        return self._finish("release", lease, "release", decide)

    def acknowledge_cancel(self, lease: Lease, message: str = "cancelled on request") -> Job:
        def decide(_job: Job, now: float) -> Decision:
            values = {"error_code": "cancelled", "error_message": message, "finished_at": now}
            return "cancel_ack", "cancelled", message, {**values, **cleared_lease()}

        return self._finish("acknowledge_cancel", lease, "cancel", decide)

    def acknowledge_pause(self, lease: Lease, message: str = "paused on request") -> Job:
        def decide(job: Job, _now: float) -> Decision:
            values = {"attempt": job.attempt - 1, "pause_requested": False, "progress": 0.0}
            return "pause_ack", "paused", message, {**values, "phase": None, **cleared_lease()}

        return self._finish("acknowledge_pause", lease, "pause", decide)


def _completion(verdict: str, report: dict[str, Any], now: float) -> Decision:
    values = {
        "verdict": verdict, "report": report, "progress": 100.0, "phase": "done",
        "progress_at": now, "finished_at": now, "error_code": None, "error_message": None,
        **cleared_lease(),
    }  # fmt: skip
    return "complete", "completed", f"verdict {verdict}", values

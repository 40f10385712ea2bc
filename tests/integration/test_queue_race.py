"""Claim race: several processes on one database, 500 jobs ⇒ every attempt claimed once."""

from __future__ import annotations

import json
import multiprocessing
import time
from pathlib import Path

from kickflow.config import Settings
from kickflow.jobs import JobState, JobStore, SqlJobStore

JOBS = 500
PROCESSES = 6
GIVE_UP_S = 240.0


def _claimer(url: str, settings_json: str, out: str, start_at: float) -> None:
    store = SqlJobStore(url, Settings.model_validate_json(settings_json))
    while time.time() < start_at:
        time.sleep(0.001)
    seen: list[list[object]] = []
    deadline = time.monotonic() + GIVE_UP_S
    # Until the queue is empty (an empty claim alone proves nothing: on a loaded machine the
    # others may hold the write lock for a while), with a deadline so a bug cannot hang CI.
    while time.monotonic() < deadline:
        claimed = store.claim(f"racer-{out[-6:]}", limit=2)
        if not claimed and store.counts()[JobState.QUEUED.value] == 0:
            break
        for c in claimed:
            seen.append([c.job.id, c.lease.attempt, c.lease.token])
            store.complete(c.lease, "passed", {"by": out})
    Path(out).write_text(json.dumps(seen))
    store.close()


def test_many_processes_never_claim_the_same_attempt_twice(
    store: JobStore, job_settings: Settings, tmp_path: Path
) -> None:
    org = store.ensure_org()
    ids = {store.enqueue(org, "path", f"/m/{i}", file_name=f"{i}.mov").id for i in range(JOBS)}
    ctx = multiprocessing.get_context("spawn")
    start_at = time.time() + 2.0
    outs = [str(tmp_path / f"claims-{i:06d}") for i in range(PROCESSES)]
    procs = [
        ctx.Process(target=_claimer, args=(store.url, job_settings.model_dump_json(), o, start_at))
        for o in outs
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=GIVE_UP_S + 60)
        assert p.exitcode == 0
    claims = [tuple(c) for o in outs for c in json.loads(Path(o).read_text())]
    attempts = [(job_id, attempt) for job_id, attempt, _ in claims]
    assert len(attempts) == len(set(attempts)) == JOBS
    assert {job_id for job_id, _ in attempts} == ids
    assert sum(1 for o in outs if json.loads(Path(o).read_text())) > 1  # a real race
    counts = store.counts(org)
    assert counts[JobState.COMPLETED.value] == JOBS and counts["running"] == 0

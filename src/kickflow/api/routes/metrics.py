"""``GET /metrics``: Prometheus text, read from the database at scrape time."""

from __future__ import annotations

from fastapi import APIRouter, Response

from kickflow import metrics
from kickflow.api import queries
from kickflow.api.context import Svc
from kickflow.jobs import JobStore
from kickflow.jobs.db import read_tx

router = APIRouter(tags=["observability"])


def snapshot(store: JobStore) -> metrics.Snapshot:
    """Everything /metrics reports, from the store and the event history."""
    counts = store.counts()
    reaper = store.reaper_status()
    with read_tx(store.engine) as conn:
        history = {
            "finished_by_state": queries.finished_by_state(conn),
            "recoveries_by_reason": queries.event_codes(conn, ["reaped"], None),
            "ffmpeg_kills_by_reason": queries.event_codes(
                conn, ["failed", "retry_scheduled"], queries.FFMPEG_KILL_CODES
            ),
            "fenced_writes": queries.event_count(conn, "fenced"),
            "job_duration": queries.job_durations(conn, metrics.DURATION_BUCKETS),
            "attempts": queries.attempts(conn, metrics.ATTEMPT_BUCKETS),
        }
    return metrics.Snapshot(
        jobs_by_state={k: v for k, v in counts.items() if k in metrics.JOB_STATES},
        stuck=counts["stuck"],
        queue_oldest_age_seconds=store.oldest_queued_age() or 0.0,
        workers_alive=len(store.live_workers()),
        reaper_last_run=reaper["last_run"] or 0.0,
        **history,  # type: ignore[arg-type]
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def prometheus(svc: Svc) -> Response:
    return Response(metrics.render(snapshot(svc.store)), media_type=metrics.CONTENT_TYPE)

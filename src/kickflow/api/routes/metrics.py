"""``GET /metrics``: Prometheus text, read from the database at scrape time."""

from __future__ import annotations

from fastapi import APIRouter, Response

from kickflow import metrics
from kickflow.api.context import Svc
from kickflow.jobs import JobStore

router = APIRouter(tags=["observability"])


def snapshot(store: JobStore) -> metrics.Snapshot:
    """Everything /metrics reports, from the store and the event history."""
    counts = store.counts()
    reaper = store.reaper_status()
    history = store.job_history(metrics.DURATION_BUCKETS, metrics.ATTEMPT_BUCKETS)
    return metrics.Snapshot(
        jobs_by_state={k: v for k, v in counts.items() if k in metrics.JOB_STATES},
        stuck=counts["stuck"],
        queue_oldest_age_seconds=store.oldest_queued_age() or 0.0,
        workers_alive=len(store.live_workers()),
        reaper_last_run=reaper["last_run"] or 0.0,
        finished_by_state=history.finished_by_state,
        recoveries_by_reason=history.recoveries_by_reason,
        ffmpeg_kills_by_reason=history.ffmpeg_kills_by_reason,
        fenced_writes=history.fenced_writes,
        job_duration=history.job_duration,
        attempts=history.attempts,
    )


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def prometheus(svc: Svc) -> Response:
    return Response(metrics.render(snapshot(svc.store)), media_type=metrics.CONTENT_TYPE)

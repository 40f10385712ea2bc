"""The JSON body of a delivery. It names the job as the API does (camelCase), with nothing a
receiver should not see: no source reference (a server path or a signed URL), no secrets, no
worker or lease details. The body is fixed when the delivery is queued, so every attempt sends
the same bytes."""

from __future__ import annotations

import json
from typing import Any

from kickflow.integrations.webhooks.events import PING
from kickflow.jobs import Job
from kickflow.jobs.webhooks import NewDelivery, WebhookEndpoint


def job_fields(job: Job, public_url: str) -> dict[str, Any]:
    """What a receiver is told about the job."""
    report = f"{public_url}/api/qc/jobs/{job.id}/report" if job.verdict is not None else None
    return {
        "id": job.id,
        "fileName": job.file_name,
        "state": job.state.value,
        "verdict": job.verdict,
        "profile": job.profile,
        "project": job.project,
        "createdAt": job.created_at,
        "finishedAt": job.finished_at,
        "errorCode": job.error_code,
        "errorMessage": job.error_message,
        "reportUrl": report,
    }


def body(
    event: str, delivery_id: str, endpoint: WebhookEndpoint, job: dict[str, Any] | None
) -> str:
    """The exact body text (compact JSON, keys in a fixed order)."""
    data = {
        "event": event,
        "id": delivery_id,
        "job": job,
        "org": {"id": endpoint.org_id, "name": endpoint.org_name},
    }
    return json.dumps(data, separators=(",", ":"), ensure_ascii=False)


def for_job(
    event: str, delivery_id: str, endpoint: WebhookEndpoint, job: Job, public_url: str
) -> NewDelivery:
    """The delivery of ``event`` about ``job`` to ``endpoint``."""
    text = body(event, delivery_id, endpoint, job_fields(job, public_url))
    return NewDelivery(delivery_id, job.id, event, text)


def ping(delivery_id: str, endpoint: WebhookEndpoint) -> NewDelivery:
    """A test delivery: ``event`` "ping" and ``job`` null."""
    return NewDelivery(delivery_id, None, PING, body(PING, delivery_id, endpoint, None))

"""``/api/qc/webhooks``: an organisation's webhook endpoints and their delivery log (admins).

The signing secret is in the answer to the ``POST`` that creates the endpoint, and nowhere
else, ever. Another organisation's endpoint or delivery is 404, as if it did not exist.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import JSONResponse
from pydantic import Field

from kickflow.api.auth import Admin
from kickflow.api.context import Svc
from kickflow.api.schemas import Body, JobId, Text200
from kickflow.api.views import iso
from kickflow.errors import WebhookNotFound
from kickflow.integrations.webhooks.service import Webhooks
from kickflow.jobs.webhooks import WebhookDelivery, WebhookEndpoint

router = APIRouter(prefix="/api/qc", tags=["webhooks"])
Events = Annotated[list[Annotated[str, Field(max_length=40)]], Field(min_length=1, max_length=10)]
Url = Annotated[str, Field(min_length=1, max_length=2000)]


class NewEndpoint(Body):
    url: Url
    events: Events
    description: Text200 | None = None


class EndpointChange(Body):
    url: Url | None = None
    events: Events | None = None
    active: bool | None = None
    description: Annotated[str, Field(max_length=200)] | None = None


def endpoint_view(endpoint: WebhookEndpoint) -> dict[str, Any]:
    """An endpoint as the API shows it (never its secret)."""
    return {
        "id": endpoint.id,
        "url": endpoint.url,
        "description": endpoint.description,
        "events": list(endpoint.events),
        "active": endpoint.active,
        "failing": endpoint.failures > 0,
        "retryAt": iso(endpoint.retry_at),
        "createdAt": iso(endpoint.created_at),
        "updatedAt": iso(endpoint.updated_at),
    }


def delivery_view(delivery: WebhookDelivery) -> dict[str, Any]:
    """A line of the delivery log."""
    return {
        "id": delivery.id,
        "endpointId": delivery.endpoint_id,
        "event": delivery.event,
        "jobId": delivery.job_id,
        "status": delivery.status,
        "attempts": delivery.attempts,
        "lastStatusCode": delivery.last_status_code,
        "lastError": delivery.last_error,
        "lastAttemptAt": iso(delivery.last_attempt_at),
        "nextAttemptAt": iso(delivery.next_attempt_at),
        "deliveredAt": iso(delivery.delivered_at),
        "createdAt": iso(delivery.created_at),
    }


def _webhooks(svc: Svc) -> Webhooks:
    return Webhooks(svc.store, svc.settings)


@router.get("/webhooks", summary="Your organisation's webhook endpoints")
def list_endpoints(principal: Admin, svc: Svc) -> dict[str, Any]:
    found = _webhooks(svc).endpoints(principal.org_id)
    return {"endpoints": [endpoint_view(e) for e in found]}


@router.post(
    "/webhooks",
    status_code=201,
    summary="Add a webhook endpoint; the answer holds its signing secret, shown this once",
)
def create_endpoint(body: NewEndpoint, principal: Admin, svc: Svc) -> JSONResponse:
    made = _webhooks(svc).create(principal.org_id, body.url, body.events, body.description)
    view = {**endpoint_view(made.endpoint), "secret": made.secret}
    return JSONResponse(view, status_code=201, headers={"Cache-Control": "no-store"})


@router.get("/webhooks/{endpoint_id}", summary="One webhook endpoint")
def get_endpoint(endpoint_id: JobId, principal: Admin, svc: Svc) -> dict[str, Any]:
    return endpoint_view(_webhooks(svc).endpoint(principal.org_id, endpoint_id))


@router.patch("/webhooks/{endpoint_id}", summary="Change a webhook endpoint")
def update_endpoint(
    endpoint_id: JobId, body: EndpointChange, principal: Admin, svc: Svc
) -> dict[str, Any]:
    changed = _webhooks(svc).update(
        principal.org_id,
        endpoint_id,
        url=body.url,
        events=body.events,
        active=body.active,
        description=body.description,
    )
    return endpoint_view(changed)


@router.delete("/webhooks/{endpoint_id}", status_code=204, summary="Delete a webhook endpoint")
def delete_endpoint(endpoint_id: JobId, principal: Admin, svc: Svc) -> Response:
    if not _webhooks(svc).delete(principal.org_id, endpoint_id):
        raise WebhookNotFound()
    return Response(status_code=204)


@router.get("/webhooks/{endpoint_id}/deliveries", summary="An endpoint's delivery log")
def list_deliveries(
    endpoint_id: JobId,
    principal: Admin,
    svc: Svc,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> dict[str, Any]:
    found = _webhooks(svc).deliveries(principal.org_id, endpoint_id, limit)
    return {"deliveries": [delivery_view(d) for d in found]}


@router.post("/webhooks/{endpoint_id}/test", summary="Send a ping event to the endpoint now")
def test_endpoint(endpoint_id: JobId, principal: Admin, svc: Svc) -> dict[str, Any]:
    return delivery_view(_webhooks(svc).test(principal.org_id, endpoint_id))


@router.post(
    "/webhooks/deliveries/{delivery_id}/redeliver",
    summary="Send a delivery again now (retried as usual should it fail)",
)
def redeliver(delivery_id: JobId, principal: Admin, svc: Svc) -> dict[str, Any]:
    return delivery_view(_webhooks(svc).redeliver(principal.org_id, delivery_id))

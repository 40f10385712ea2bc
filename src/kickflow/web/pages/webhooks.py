"""Settings → Webhooks (admins): add an endpoint (its signing secret shown in that answer
only), list, pause or resume, delete, send a test ping, and the delivery log with a
Redeliver button per line. Every id in a URL is looked up in the session's organisation
(another organisation's is not found); every form carries the session's CSRF token.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from kickflow.errors import KickflowError, WebhookNotFound
from kickflow.integrations.webhooks.events import EVENTS
from kickflow.integrations.webhooks.service import Webhooks
from kickflow.jobs.webhooks import WebhookDelivery
from kickflow.web.session import AdminPage, PageUser
from kickflow.web.templating import redirect, render, sentence

router = APIRouter(include_in_schema=False)
PAGE = "/settings/webhooks"
LOG_SIZE = 50


def _webhooks(request: Request) -> Webhooks:
    svc = request.app.state.services
    return Webhooks(svc.store, svc.settings)


def _page(request: Request, user: PageUser, status: int = 200, **extra: Any) -> HTMLResponse:
    hooks = _webhooks(request)
    endpoints = hooks.endpoints(user.org_id)
    context: dict[str, Any] = {
        "endpoints": endpoints,
        "urls": {e.id: e.url for e in endpoints},
        "deliveries": hooks.deliveries(user.org_id, limit=LOG_SIZE),
        "all_events": EVENTS,
        "form_url": "",
        "form_events": list(EVENTS),
        "form_description": "",
        "form_error": None,
    }
    return render(request, "settings/webhooks.html", context | extra, status_code=status)


@router.get(PAGE, response_class=HTMLResponse)
def webhooks_page(request: Request, user: AdminPage) -> Response:
    """The organisation's endpoints and the latest deliveries."""
    return _page(request, user)


@router.post(PAGE, response_class=HTMLResponse)
def add_endpoint(
    request: Request,
    user: AdminPage,
    url: Annotated[str, Form()] = "",
    events: Annotated[list[str] | None, Form()] = None,
    description: Annotated[str, Form()] = "",
) -> Response:
    """A new endpoint; the answer shows its signing secret, once."""
    chosen = events or []
    try:
        made = _webhooks(request).create(user.org_id, url, chosen, description.strip() or None)
    except KickflowError as exc:
        return _page(
            request, user, 400, form_error=sentence(exc.message), form_url=url[:2000],
            form_events=[e for e in chosen if e in EVENTS], form_description=description[:200],
        )  # fmt: skip
    return _page(request, user, new_endpoint=made.endpoint, new_secret=made.secret)


@router.post(PAGE + "/{endpoint_id}/delete")
def delete_endpoint(request: Request, endpoint_id: str, user: AdminPage) -> Response:
    """The endpoint and its delivery log go; nothing more is sent to it."""
    if not _webhooks(request).delete(user.org_id, endpoint_id):
        raise WebhookNotFound()
    return redirect(PAGE, "The webhook endpoint is deleted.")


@router.post(PAGE + "/{endpoint_id}/active")
def set_active(
    request: Request, endpoint_id: str, user: AdminPage, active: Annotated[str, Form()] = ""
) -> Response:
    """Pause an endpoint (nothing is sent to it; the jobs that finish meanwhile are sent
    once it is resumed) or resume it."""
    on = active == "on"
    _webhooks(request).update(user.org_id, endpoint_id, active=on)
    return redirect(PAGE, "The endpoint is active again." if on else "The endpoint is paused.")


@router.post(PAGE + "/{endpoint_id}/test")
def send_test(request: Request, endpoint_id: str, user: AdminPage) -> Response:
    """Send a ping now and say what the receiver answered."""
    sent = _webhooks(request).test(user.org_id, endpoint_id)
    return redirect(PAGE + "#deliveries", *outcome_message("The test ping", sent))


@router.post(PAGE + "/deliveries/{delivery_id}/redeliver")
def redeliver(request: Request, delivery_id: str, user: AdminPage) -> Response:
    """Send the delivery again now."""
    sent = _webhooks(request).redeliver(user.org_id, delivery_id)
    return redirect(PAGE + "#deliveries", *outcome_message("The delivery", sent))


def outcome_message(what: str, sent: WebhookDelivery) -> tuple[str, str]:
    """The flash sentence and its kind after an attempt made on request."""
    if sent.status == "delivered":
        return f"{what} was delivered (HTTP {sent.last_status_code}).", "ok"
    if sent.status == "failed":
        return f"{what} failed: {sent.last_error or 'the receiver refused it'}.", "error"
    if sent.attempts == 0:
        return f"{what} is queued: another send to this endpoint is in progress.", "info"
    return f"{what} did not go through ({sent.last_error}); it is retried.", "warn"

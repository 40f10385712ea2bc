"""One attempt: sign the stored body, POST it through the SSRF-safe client, and say what the
answer means.

- 2xx: delivered.
- 408, 429, 5xx, a timeout, a refused or broken connection, a name that does not resolve:
  retried (:mod:`.backoff`), and the endpoint rests for the same step so a dead receiver is
  probed, not flooded.
- any other answer (3xx: redirects are not followed; 4xx: the receiver refuses it), a URL the
  policy now refuses, an invalid TLS certificate: failed at once. Redeliver after fixing the
  receiver.
"""

from __future__ import annotations

import time

from kickflow.config import Settings
from kickflow.errors import KickflowError, SecretUnreadable, UrlNotFound, UrlUnreachable
from kickflow.integrations.webhooks.backoff import retry_delay
from kickflow.integrations.webhooks.signing import headers
from kickflow.jobs.webhooks import AttemptResult, ClaimedDelivery
from kickflow.net import OutboundClient, OutboundPolicy
from kickflow.security.secrets import SecretBox

RETRIED_STATUSES = frozenset({408, 429})


def attempt(
    claimed: ClaimedDelivery, settings: Settings, box: SecretBox, policy: OutboundPolicy
) -> AttemptResult:
    """Send ``claimed`` once; what came of it (never raises for the receiver's faults)."""
    sent = claimed.delivery
    try:
        secret = box.decrypt(claimed.secret_enc)
    except SecretUnreadable as exc:
        return AttemptResult("failed", None, exc.message)
    body = sent.payload.encode("utf-8")
    signed = headers(secret, int(time.time()), body, sent.event, sent.id)
    try:
        with (
            OutboundClient(policy) as client,
            client.open("POST", claimed.url, headers=signed, content=body) as reply,
        ):
            status = reply.status_code
            for _ in reply.iter_bytes():  # read (and cap) the answer so the connection ends
                pass
    except (UrlUnreachable, UrlNotFound) as exc:
        return _retry(claimed, settings, None, exc.message)
    except KickflowError as exc:
        return AttemptResult("failed", None, exc.message)
    return outcome(claimed, settings, status)


def outcome(claimed: ClaimedDelivery, settings: Settings, status: int) -> AttemptResult:
    """What the receiver's HTTP status means for the delivery."""
    if 200 <= status < 300:
        return AttemptResult("delivered", status)
    error = f"the receiver answered HTTP {status}"
    if status >= 500 or status in RETRIED_STATUSES:
        return _retry(claimed, settings, status, error)
    return AttemptResult("failed", status, error + " (not retried: redeliver once it is fixed)")


def _retry(
    claimed: ClaimedDelivery, settings: Settings, status: int | None, error: str
) -> AttemptResult:
    base, cap = settings.webhook_retry_base_seconds, settings.webhook_retry_max_seconds
    return AttemptResult(
        "retry",
        status,
        error,
        retry_in=retry_delay(claimed.delivery.attempts, base, cap),
        window=settings.webhook_retry_window_seconds,
        endpoint_retry_in=retry_delay(claimed.endpoint_failures + 1, base, cap),
    )

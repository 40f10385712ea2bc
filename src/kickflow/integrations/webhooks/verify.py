"""The receiver's check of a delivery (what ``docs/webhooks.md`` describes), usable as is::

    from kickflow.integrations.webhooks.verify import verify

    event = verify(secret, request.headers["KickFlow-Signature"], raw_body)  # or raises

Compare against the *raw* body bytes (before any JSON parsing), in constant time; refuse a
signature time more than ``tolerance`` seconds (default 5 minutes) away from now, so a request
captured on the way cannot be replayed later. Deliveries are at least once: use the
``KickFlow-Delivery`` id (the body's ``id``) to drop one seen before.
"""

from __future__ import annotations

import hmac
import json
import time
from typing import Any

from kickflow.errors import WebhookSignatureInvalid
from kickflow.integrations.webhooks.signing import SCHEME, signature

TOLERANCE_SECONDS = 300


def parse_header(header: str) -> tuple[int, list[str]]:
    """The time and every ``v1`` signature in a ``KickFlow-Signature`` value."""
    stamp: int | None = None
    found: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t" and value.isdigit():
            stamp = int(value)
        elif key == SCHEME and value:
            found.append(value)
    if stamp is None or not found:
        raise WebhookSignatureInvalid("the KickFlow-Signature header is malformed")
    return stamp, found


def verify(
    secret: str,
    header: str,
    body: bytes,
    *,
    tolerance: float = TOLERANCE_SECONDS,
    now: float | None = None,
) -> dict[str, Any]:
    """The delivery's JSON when ``header`` signs ``body`` under ``secret`` within
    ``tolerance`` seconds of ``now``; WebhookSignatureInvalid otherwise."""
    stamp, candidates = parse_header(header)
    current = time.time() if now is None else now
    if abs(current - stamp) > tolerance:
        raise WebhookSignatureInvalid("the signature is too old (or from the future): refused")
    expected = signature(secret, stamp, body)
    if not any(hmac.compare_digest(expected, c) for c in candidates):
        raise WebhookSignatureInvalid("the signature does not match the body")
    data: dict[str, Any] = json.loads(body)
    return data

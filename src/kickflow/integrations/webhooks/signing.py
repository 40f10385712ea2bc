"""The signature a receiver checks: ``KickFlow-Signature: t=<unix seconds>,v1=<hex>`` where the
hex is HMAC-SHA256 with the endpoint's secret over ``f"{t}.{body}"``. The time is inside the
signed text, so a captured request cannot be replayed later with a fresh time (receivers
refuse old ones: :mod:`.verify`)."""

from __future__ import annotations

import hashlib
import hmac

SIGNATURE_HEADER = "KickFlow-Signature"
EVENT_HEADER = "KickFlow-Event"
DELIVERY_HEADER = "KickFlow-Delivery"
SCHEME = "v1"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The hex HMAC-SHA256 of ``"<timestamp>.<body>"`` under ``secret``."""
    signed = str(timestamp).encode("ascii") + b"." + body
    return hmac.new(secret.encode("utf-8"), signed, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    """The ``KickFlow-Signature`` value."""
    return f"t={timestamp},{SCHEME}={signature(secret, timestamp, body)}"


def headers(
    secret: str, timestamp: int, body: bytes, event: str, delivery_id: str
) -> dict[str, str]:
    """Every header a delivery carries."""
    return {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature_header(secret, timestamp, body),
        EVENT_HEADER: event,
        DELIVERY_HEADER: delivery_id,
    }

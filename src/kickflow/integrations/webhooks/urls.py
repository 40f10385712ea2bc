"""A receiver's URL, checked like the ``url`` source's (:mod:`kickflow.net`): http(s) only, no
credentials in it, and every address its host resolves to public unless the operator's
allow-list (KICKFLOW_URL_ALLOW_HOSTS / KICKFLOW_URL_ALLOW_NETWORKS) admits it. Checked when an
endpoint is saved (a lookup, no connection) and again on every send, since a name can change
what it points to."""

from __future__ import annotations

from kickflow.config import Settings
from kickflow.errors import UrlInvalid
from kickflow.net import Limits, OutboundPolicy, Resolver
from kickflow.net.policy import shown_url

MAX_URL = 2000
RESPONSE_BYTES = 64 * 1024  # what is read of a receiver's answer, at most


def webhook_limits(settings: Settings) -> Limits:
    """Short timeouts, no redirects (a receiver answers itself), a small answer read."""
    return Limits(
        max_redirects=0,
        max_bytes=RESPONSE_BYTES,
        connect_seconds=settings.webhook_connect_timeout_seconds,
        read_seconds=settings.webhook_total_timeout_seconds,
        total_seconds=settings.webhook_total_timeout_seconds,
    )


def webhook_policy(settings: Settings, resolver: Resolver | None = None) -> OutboundPolicy:
    """The URL source's allow-list with the webhook limits."""
    policy = OutboundPolicy.from_settings(settings, resolver=resolver)
    return OutboundPolicy(policy.allow, webhook_limits(settings), policy.resolver, policy.verify)


def check_url(text: str, policy: OutboundPolicy) -> str:
    """The URL as it will be stored, when the policy admits it (UrlInvalid / UrlRefused /
    UrlNotFound otherwise); its host is looked up, nothing is connected to."""
    text = text.strip()
    shown = shown_url(text)
    if not text or len(text) > MAX_URL or not text.isprintable():
        raise UrlInvalid(f"{shown or 'the URL'} is not a valid URL")
    url = policy.parse(text, shown)
    policy.target(url, shown)
    return str(url)

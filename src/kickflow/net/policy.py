"""The outbound policy: which URLs may be fetched, resolved once, and the caps on a fetch.

:meth:`OutboundPolicy.target` looks the host up once and checks every address it got; the
client then connects to those checked addresses and to nothing else (a second lookup at
connect time is what DNS rebinding exploits: the first answer passes the check, the second
points inside). One refused address refuses the URL: with several answers the attacker would
otherwise choose which one is used.
"""

from __future__ import annotations

import re
import socket
import ssl
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from ipaddress import ip_address

import httpx

from kickflow.config import Settings
from kickflow.errors import UnsafeConfiguration, UrlInvalid, UrlNotFound, UrlRefused, UrlUnreachable
from kickflow.net.addresses import METADATA, NOTHING, AllowList, Host, parse_host, refusal

Resolver = Callable[[str, int], Sequence[str]]
SCHEMES = frozenset({"http", "https"})
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_SHOWN = 200
_USERINFO = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*://)[^/?#]*@")
_NAME_UNKNOWN = {getattr(socket, n) for n in ("EAI_NONAME", "EAI_NODATA") if hasattr(socket, n)}


def shown_url(text: str) -> str:
    """``text`` as messages and logs show it: without credentials or query string (signed
    links carry their secret there), printable, and at most ``MAX_SHOWN`` characters."""
    text = _USERINFO.sub(r"\1…@", text.split("#", 1)[0])
    if "?" in text:
        text = text.split("?", 1)[0] + "?…"
    text = "".join(c if c.isprintable() else "?" for c in text)
    return text if len(text) <= MAX_SHOWN else text[: MAX_SHOWN - 1] + "…"


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the system's resolver gives for ``host``, in its order, once each."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


@dataclass(frozen=True)
class Limits:
    """Caps on one fetch: redirects followed, body bytes (None: no cap), seconds to connect,
    longest pause between two reads, and the whole exchange."""

    max_redirects: int = 5
    max_bytes: int | None = None
    connect_seconds: float = 10.0
    read_seconds: float = 30.0
    total_seconds: float = 3600.0


@dataclass(frozen=True)
class Target:
    """One hop, checked: the URL as followed (host normalised) and the addresses to connect
    to, in order."""

    url: httpx.URL
    host: Host
    addresses: tuple[str, ...]

    def url_for(self, address: str) -> httpx.URL:
        """The request URL that connects to ``address`` itself."""
        return self.url.copy_with(host=address)

    @property
    def host_header(self) -> str:
        name = f"[{self.host.name}]" if ":" in self.host.name else self.host.name
        return name if self.url.port is None else f"{name}:{self.url.port}"

    @property
    def sni(self) -> str | None:
        """The TLS server name: the host name (an address is verified as itself)."""
        return self.host.name if self.host.ip is None else None


@dataclass(frozen=True)
class OutboundPolicy:
    """Which URLs may be fetched and the caps on a fetch. ``resolver`` and ``verify`` (a CA
    for TLS) are injectable so tests can point names at loopback servers."""

    allow: AllowList = NOTHING
    limits: Limits = field(default_factory=Limits)
    resolver: Resolver = system_resolver
    verify: ssl.SSLContext | bool = True

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        resolver: Resolver | None = None,
        verify: ssl.SSLContext | bool = True,
    ) -> OutboundPolicy:
        """The URL source's policy from ``KICKFLOW_URL_*``; UnsafeConfiguration when the
        allow-list has an entry that is not a network."""
        try:
            allow = AllowList.parse(settings.url_allow_hosts, settings.url_allow_networks)
        except ValueError as exc:
            raise UnsafeConfiguration(
                f"KICKFLOW_URL_ALLOW_NETWORKS: {str(exc)!r} is not a network; "
                "write addresses or CIDR ranges such as 10.20.0.0/16, separated by commas"
            ) from None
        return cls(allow, url_limits(settings), resolver or system_resolver, verify)

    def parse(self, text: str, shown: str) -> httpx.URL:
        """``text`` as a URL the policy may fetch (not looked up yet), else UrlInvalid or
        UrlRefused naming ``shown``."""
        try:
            url = httpx.URL(text)
        except (httpx.InvalidURL, TypeError):
            raise UrlInvalid(f"{shown} is not a valid URL") from None
        if url.scheme not in SCHEMES:
            raise UrlRefused(f"{shown}: refused, only http:// and https:// URLs are fetched")
        if url.userinfo:
            raise UrlRefused(
                f"{shown}: refused, the URL carries a user name or password; "
                "give a link that needs none"
            )
        return url.copy_with(host=_host_of(url, shown).name)

    def target(self, url: httpx.URL, shown: str, hop: int = 0) -> Target:
        """Look ``url``'s host up once and check every address (``hop`` > 0 on a redirect,
        for the message)."""
        host = _host_of(url, shown)
        port = url.port or DEFAULT_PORTS[url.scheme]
        addresses = (str(host.ip),) if host.ip is not None else self._resolve(host, port, shown)
        for address in addresses:
            why = self._refusal(address, host)
            if why is not None:
                raise UrlRefused(f"{shown}: refused, {_where(host, hop)} {why}")
        return Target(url, host, addresses)

    def _resolve(self, host: Host, port: int, shown: str) -> tuple[str, ...]:
        try:
            found = tuple(self.resolver(host.name, port))
        except OSError as exc:
            if isinstance(exc, socket.gaierror) and exc.errno in _NAME_UNKNOWN:
                raise UrlNotFound(f"{shown}: the host name {host.name} does not exist") from None
            raise UrlUnreachable(
                f"{shown}: the host name {host.name} cannot be looked up"
            ) from None
        if not found:
            raise UrlNotFound(f"{shown}: the host name {host.name} has no address")
        return found

    def _refusal(self, address: str, host: Host) -> str | None:
        try:
            ip = ip_address(address)
        except ValueError:
            return "an address that is not valid"
        why = refusal(ip, self.allow)
        if why is None or METADATA in why:
            return why
        named = host.ip is None and self.allow.permits_host(host.name)
        return None if named else why


def _host_of(url: httpx.URL, shown: str) -> Host:
    host = parse_host(url.raw_host.decode("ascii", "replace"))  # IDNA-encoded: plain ASCII
    if host is None:
        raise UrlInvalid(f"{shown} is not a valid URL: its host is not a name or address")
    return host


def _where(host: Host, hop: int) -> str:
    if hop:
        return f"redirect {hop} leads to"
    return "its host is" if host.ip is not None else f"{host.name} resolves to"


def url_limits(settings: Settings) -> Limits:
    """The URL source's caps: ``KICKFLOW_URL_MAX_MB`` (or ``KICKFLOW_MAX_FILE_MB`` when that
    is smaller), redirects and timeouts."""
    caps = [mb * 1_000_000 for mb in (settings.url_max_mb, settings.max_file_mb) if mb]
    return Limits(
        max_redirects=settings.url_max_redirects,
        max_bytes=min(caps) if caps else None,
        connect_seconds=settings.url_connect_timeout_seconds,
        read_seconds=settings.url_read_timeout_seconds,
        total_seconds=settings.url_total_timeout_seconds,
    )

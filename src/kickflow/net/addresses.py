"""Which hosts and addresses the service may connect to (pure: no DNS, no sockets).

The table below is explicit rather than ``ipaddress``'s ``is_global`` alone: that flag has
changed between Python releases, and it calls some addresses global that route inside the
network (``fec0::/10`` site-local, ``::a.b.c.d`` IPv4-compatible, the NAT64 and 6to4 forms of
a private IPv4 address). ``is_global`` is kept as the last word for anything the table misses.

An IPv6 address that carries an IPv4 address (IPv4-mapped ``::ffff:a.b.c.d``, NAT64
``64:ff9b::/96``, 6to4 ``2002::/16``, Teredo) is judged by the IPv4 address it carries too:
the packets may end up there. Cloud metadata addresses are refused whatever the operator's
allow-list says: no internal source lives there, and they hand out credentials.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from ipaddress import (
    IPv4Address,
    IPv4Network,
    IPv6Address,
    IPv6Network,
    ip_address,
    ip_network,
)
from urllib.parse import unquote

IPAddress = IPv4Address | IPv6Address
Network = IPv4Network | IPv6Network

UNSPECIFIED = "an unspecified address"
LOOPBACK = "a loopback address"
PRIVATE = "a private address"
SHARED = "a carrier-grade NAT address"
LINK_LOCAL = "a link-local address"
SITE_LOCAL = "a site-local address"
MULTICAST = "a multicast address"
RESERVED = "a reserved address"
DOCUMENTATION = "a documentation address"
METADATA = "a cloud metadata address"
NOT_PUBLIC = "a non-public address"

_V4_ROWS = (
    ("0.0.0.0/8", UNSPECIFIED),
    ("10.0.0.0/8", PRIVATE),
    ("100.64.0.0/10", SHARED),
    ("127.0.0.0/8", LOOPBACK),
    ("169.254.0.0/16", LINK_LOCAL),
    ("172.16.0.0/12", PRIVATE),
    ("192.0.0.0/24", RESERVED),  # IETF protocol assignments
    ("192.0.2.0/24", DOCUMENTATION),
    ("192.88.99.0/24", RESERVED),  # the retired 6to4 relay anycast
    ("192.168.0.0/16", PRIVATE),
    ("198.18.0.0/15", RESERVED),  # benchmarking
    ("198.51.100.0/24", DOCUMENTATION),
    ("203.0.113.0/24", DOCUMENTATION),
    ("224.0.0.0/4", MULTICAST),
    ("240.0.0.0/4", RESERVED),  # and the broadcast address 255.255.255.255
)
_V6_ROWS = (
    ("::/128", UNSPECIFIED),
    ("::1/128", LOOPBACK),
    ("64:ff9b:1::/48", PRIVATE),  # local-use NAT64
    ("::/8", RESERVED),  # IPv4-compatible ::a.b.c.d among them (mapped, NAT64 judged first)
    ("100::/64", RESERVED),  # discard
    ("2001::/23", RESERVED),  # IETF protocol assignments, Teredo 2001::/32 among them
    ("2001:db8::/32", DOCUMENTATION),
    ("3fff::/20", DOCUMENTATION),
    ("fc00::/7", PRIVATE),  # unique local
    ("fe80::/10", LINK_LOCAL),
    ("fec0::/10", SITE_LOCAL),
    ("ff00::/8", MULTICAST),
)
TABLE: tuple[tuple[Network, str], ...] = tuple(
    (ip_network(net), why) for net, why in (*_V4_ROWS, *_V6_ROWS)
)

# AWS, GCP and Azure (IMDS), AWS's DNS and ECS task endpoints, Azure's wire server, Alibaba
# Cloud, Oracle Cloud, and AWS's IPv6 IMDS and DNS.
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    ip_address(a)
    for a in (
        "169.254.169.254",
        "169.254.169.253",
        "169.254.170.2",
        "168.63.129.16",
        "100.100.100.200",
        "192.0.0.192",
        "fd00:ec2::254",
        "fd00:ec2::253",
        "fd00:ec2::23",
    )
)
NAT64 = IPv6Network("64:ff9b::/96")


@dataclass(frozen=True)
class AllowList:
    """What the operator lets through although it is internal: host names (``.example.org``
    means any name below it) and networks."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[Network, ...] = ()

    @classmethod
    def parse(cls, hosts: str, networks: str) -> AllowList:
        """From the settings' comma-separated lists; ValueError names an entry that is not a
        network."""
        names = frozenset(_normal_name(h) for h in hosts.split(",") if h.strip())
        return cls(names, tuple(_network(n.strip()) for n in networks.split(",") if n.strip()))

    def permits(self, ip: IPAddress) -> bool:
        """Whether ``ip`` is inside one of the allowed networks."""
        return any(ip.version == net.version and ip in net for net in self.networks)

    def permits_host(self, name: str) -> bool:
        """Whether the host name ``name`` (normalised) is allowed by name."""
        if name in self.hosts:
            return True
        return any(entry.startswith(".") and name.endswith(entry) for entry in self.hosts)


NOTHING = AllowList()


def _network(text: str) -> Network:
    try:
        return ip_network(text, strict=False)
    except ValueError:
        raise ValueError(text) from None


def _normal_name(text: str) -> str:
    return text.strip().lower().rstrip(".")


def _unscoped(ip: IPAddress) -> IPAddress:
    """``fe80::1%eth0`` as ``fe80::1``: the zone does not change what kind of address it is."""
    if isinstance(ip, IPv6Address) and ip.scope_id:
        return IPv6Address(int(ip))
    return ip


def translated_ipv4(ip: IPv6Address) -> IPv4Address | None:
    """The IPv4 address ``ip`` stands for (IPv4-mapped, or NAT64's well-known prefix, which
    DNS64 gives for every IPv4-only host on an IPv6-only network), or None."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip in NAT64:
        return IPv4Address(int(ip) & 0xFFFF_FFFF)
    return None


def embedded_ipv4(ip: IPv6Address) -> tuple[IPv4Address, ...]:
    """The IPv4 addresses that traffic to ``ip`` may reach (translated, 6to4, Teredo)."""
    same = translated_ipv4(ip)
    if same is not None:
        return (same,)
    if ip.sixtofour is not None:
        return (ip.sixtofour,)
    if ip.teredo is not None:
        return ip.teredo  # (server, client)
    return ()


def table_refusal(ip: IPAddress) -> str | None:
    """The table's reason to refuse ``ip``, ignoring any allow-list; None for a public one."""
    for net, why in TABLE:
        if ip.version == net.version and ip in net:
            return why
    return None if ip.is_global else NOT_PUBLIC


def refusal(ip: IPAddress, allow: AllowList = NOTHING) -> str | None:
    """Why the service must not connect to ``ip`` (a phrase like "a loopback address"), or
    None when it may."""
    ip = _unscoped(ip)
    if ip in METADATA_ADDRESSES:
        return METADATA
    same = translated_ipv4(ip) if isinstance(ip, IPv6Address) else None
    if same is not None:
        return refusal(same, allow)  # the very same destination
    if allow.permits(ip):
        return None
    if isinstance(ip, IPv6Address):
        for inner in embedded_ipv4(ip):
            why = refusal(inner)  # the allow-list names destinations, not tunnels to them
            if why is not None:
                return f"an IPv6 address that carries {why}"
    return table_refusal(ip)


# --- host names as they appear in a URL ------------------------------------------------------


@dataclass(frozen=True)
class Host:
    """A URL's host, normalised: ``name`` goes in the Host header, ``ip`` is set when the URL
    names an address itself (then nothing is looked up)."""

    name: str
    ip: IPAddress | None = None


_NUMBER = re.compile(r"^(0[xX][0-9a-fA-F]*|0[0-7]*|[1-9][0-9]*)$")
_NUMERIC_LABEL = re.compile(r"^(0[xX][0-9a-fA-F]*|[0-9]+)$")
_LABEL = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)$")
MAX_NAME = 253


def _number(part: str) -> int:
    if part[:2].lower() == "0x":
        return int(part[2:] or "0", 16)
    if part.startswith("0"):
        return int(part, 8)
    return int(part)


def numeric_ipv4(text: str) -> IPv4Address | None:
    """The address an all-numeric host means to ``inet_aton`` and browsers: "2130706433",
    "0x7f.1", "017700000001" and "127.1" are all 127.0.0.1. None when ``text`` is not
    all-numeric; ValueError when it is but names no address (a part out of range)."""
    parts = text.split(".")
    if len(parts) > 4 or not all(_NUMBER.match(p) for p in parts):
        return None
    *head, last = (_number(p) for p in parts)
    if any(v > 255 for v in head) or last >= 1 << (8 * (4 - len(head))):
        raise ValueError(text)
    value = last
    for index, byte in enumerate(head):
        value |= byte << (8 * (3 - index))
    return IPv4Address(value)


def parse_host(raw: str) -> Host | None:
    """The normalised host of a URL (``raw`` as httpx gives it: lower case, IDNA-encoded,
    IPv6 without brackets), or None when it is not a host name or address."""
    if ":" in raw:  # only an IPv6 literal has colons here
        return _ipv6_literal(raw)
    name = raw[:-1] if raw.endswith(".") else raw
    try:
        ip4 = numeric_ipv4(name)
    except ValueError:
        return None
    if ip4 is not None:
        return Host(str(ip4), ip4)
    return Host(name) if _is_host_name(name) else None


def _ipv6_literal(raw: str) -> Host | None:
    try:
        ip = ip_address(unquote(raw))  # a zone comes percent-encoded: fe80::1%25eth0
    except ValueError:
        return None
    return Host(str(_unscoped(ip)), ip)


def _is_host_name(name: str) -> bool:
    labels = name.split(".")
    if len(name) > MAX_NAME or not all(_LABEL.match(label) for label in labels):
        return False
    return not _NUMERIC_LABEL.match(labels[-1])  # "1.2.3.4.5", "foo.0x1": numeric, yet no address

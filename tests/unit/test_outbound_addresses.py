"""The address table and host normalisation of the outbound policy: pure, nothing connects.

Addresses other than loopback appear here only as values handed to the pure check: no test in
this file opens a socket.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address, ip_address

import pytest

from kickflow.net.addresses import (
    LINK_LOCAL,
    LOOPBACK,
    METADATA,
    MULTICAST,
    PRIVATE,
    RESERVED,
    SHARED,
    SITE_LOCAL,
    UNSPECIFIED,
    AllowList,
    Host,
    embedded_ipv4,
    numeric_ipv4,
    parse_host,
    refusal,
)

REFUSED = [
    ("127.0.0.1", LOOPBACK),
    ("127.255.255.254", LOOPBACK),
    ("::1", LOOPBACK),
    ("0.0.0.0", UNSPECIFIED),
    ("::", UNSPECIFIED),
    ("10.1.2.3", PRIVATE),
    ("172.16.0.1", PRIVATE),
    ("172.31.255.255", PRIVATE),
    ("192.168.1.1", PRIVATE),
    ("fc00::1", PRIVATE),
    ("fd12:3456::1", PRIVATE),
    ("64:ff9b:1::1", PRIVATE),
    ("100.64.0.1", SHARED),
    ("100.127.255.255", SHARED),
    ("169.254.1.1", LINK_LOCAL),
    ("fe80::1", LINK_LOCAL),
    ("fe80::1%eth0", LINK_LOCAL),
    ("fec0::1", SITE_LOCAL),
    ("224.0.0.1", MULTICAST),
    ("239.255.255.250", MULTICAST),
    ("ff02::1", MULTICAST),
    ("240.0.0.1", RESERVED),
    ("255.255.255.255", RESERVED),
    ("198.18.0.1", RESERVED),
    ("::7f00:1", RESERVED),  # IPv4-compatible ::127.0.0.1
    ("100::1", RESERVED),
    ("169.254.169.254", METADATA),
    ("169.254.170.2", METADATA),
    ("168.63.129.16", METADATA),
    ("100.100.100.200", METADATA),
    ("fd00:ec2::254", METADATA),
]


@pytest.mark.parametrize(("address", "why"), REFUSED)
def test_every_non_public_range_is_refused_with_its_name(address: str, why: str) -> None:
    assert refusal(ip_address(address)) == why


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("::ffff:127.0.0.1", LOOPBACK),  # IPv4-mapped: the same destination
        ("::ffff:10.0.0.1", PRIVATE),
        ("::ffff:169.254.169.254", METADATA),
        ("64:ff9b::7f00:1", LOOPBACK),  # NAT64: the same destination, translated
        ("64:ff9b::a00:1", PRIVATE),
        ("2002:7f00:1::", f"an IPv6 address that carries {LOOPBACK}"),  # 6to4
        ("2002:c0a8:101::1", f"an IPv6 address that carries {PRIVATE}"),
        ("2002:a9fe:a9fe::", f"an IPv6 address that carries {METADATA}"),
    ],
)
def test_ipv6_forms_are_judged_by_the_ipv4_address_they_carry(address: str, why: str) -> None:
    assert refusal(ip_address(address)) == why


def test_teredo_is_refused_and_its_embedded_client_is_read() -> None:
    # Client 127.0.0.1 is stored inverted (0x80fffffe) in the last 32 bits.
    teredo = IPv6Address("2001:0:4136:e378:8000:63bf:80ff:fffe")
    assert embedded_ipv4(teredo)[1] == IPv4Address("127.0.0.1")
    assert refusal(teredo) == f"an IPv6 address that carries {LOOPBACK}"


@pytest.mark.parametrize(
    "address",
    ["1.1.1.1", "2606:4700:4700::1111", "::ffff:1.1.1.1", "64:ff9b::101:101", "2002:101:101::"],
)
def test_public_addresses_pass(address: str) -> None:
    assert refusal(ip_address(address)) is None


def test_allowed_networks_let_internal_addresses_through_but_never_metadata() -> None:
    allow = AllowList.parse("", "127.0.0.0/8, 10.20.0.0/16, 169.254.0.0/16")
    assert refusal(ip_address("127.0.0.5"), allow) is None
    assert refusal(ip_address("::ffff:127.0.0.1"), allow) is None
    assert refusal(ip_address("10.20.1.1"), allow) is None
    assert refusal(ip_address("10.21.1.1"), allow) == PRIVATE
    assert refusal(ip_address("169.254.169.254"), allow) == METADATA
    # An allowed destination does not allow tunnels to it.
    assert refusal(ip_address("2002:7f00:1::"), allow) == f"an IPv6 address that carries {LOOPBACK}"


def test_allowed_host_names_match_exactly_or_below_a_leading_dot() -> None:
    allow = AllowList.parse("Media.Example., .corp.example", "")
    assert allow.permits_host("media.example")
    assert allow.permits_host("nas.corp.example")
    assert not allow.permits_host("corp.example")
    assert not allow.permits_host("evilcorp.example")
    assert not allow.permits_host("media.example.evil")


def test_a_network_entry_that_is_not_a_network_is_named() -> None:
    with pytest.raises(ValueError, match=r"10\.0\.0\.0/33"):
        AllowList.parse("", "127.0.0.0/8,10.0.0.0/33")


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("017700000001", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("127.0.1", "127.0.0.1"),
        ("0", "0.0.0.0"),
        ("0x", "0.0.0.0"),
        ("127.0.0.1", "127.0.0.1"),
    ],
)
def test_numeric_spellings_of_ipv4_are_normalised(host: str, address: str) -> None:
    assert numeric_ipv4(host) == IPv4Address(address)
    assert parse_host(host) == Host(address, IPv4Address(address))


@pytest.mark.parametrize("host", ["4294967296", "256.0.0.1", "1.2.3.4.5", "0x1.0x100.0.0", "08"])
def test_numeric_hosts_that_name_no_address_are_invalid(host: str) -> None:
    assert parse_host(host) is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("media.example", Host("media.example")),
        ("media.example.", Host("media.example")),
        ("xn--bcher-kva.example", Host("xn--bcher-kva.example")),
        ("::ffff:127.0.0.1", Host("::ffff:7f00:1", IPv6Address("::ffff:127.0.0.1"))),
        ("::1", Host("::1", IPv6Address("::1"))),
    ],
)
def test_host_names_and_ipv6_literals(raw: str, expected: Host) -> None:
    assert parse_host(raw) == expected


@pytest.mark.parametrize(
    "raw", ["ex%61mple.com", "a%20b", "-bad.example", "foo.0x1f", "foo.123", "a..b", ":::", ""]
)
def test_hosts_that_are_neither_names_nor_addresses_are_refused(raw: str) -> None:
    assert parse_host(raw) is None

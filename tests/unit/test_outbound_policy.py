"""The outbound policy's URL checks with an injected resolver: pure, nothing connects.

The resolver answers are values handed to the check; no address here is ever connected to.
"""

from __future__ import annotations

import socket
from collections.abc import Sequence

import httpx
import pytest

from kickflow.config import Settings
from kickflow.errors import UnsafeConfiguration, UrlInvalid, UrlNotFound, UrlRefused, UrlUnreachable
from kickflow.net import Limits, OutboundPolicy, shown_url
from kickflow.net.addresses import AllowList
from kickflow.net.client import Hop
from kickflow.net.policy import url_limits


class FakeDns:
    """A resolver with fixed answers per name that counts its lookups."""

    def __init__(self, answers: dict[str, Sequence[str] | OSError]) -> None:
        self.answers = answers
        self.lookups: list[tuple[str, int]] = []

    def __call__(self, host: str, port: int) -> Sequence[str]:
        self.lookups.append((host, port))
        answer = self.answers[host]
        if isinstance(answer, OSError):
            raise answer
        return answer


def policy(dns: FakeDns, hosts: str = "", networks: str = "") -> OutboundPolicy:
    return OutboundPolicy(AllowList.parse(hosts, networks), Limits(), dns)


def check(p: OutboundPolicy, url: str) -> tuple[str, ...]:
    shown = shown_url(url)
    return p.target(p.parse(url, shown), shown).addresses


@pytest.mark.parametrize(
    "url", ["ftp://media.example/a.mov", "file:///etc/passwd", "gopher://media.example/"]
)
def test_only_http_and_https_are_fetched(url: str) -> None:
    with pytest.raises(UrlRefused, match=r"only http:// and https://"):
        check(policy(FakeDns({})), url)


def test_credentials_in_the_url_are_refused_and_never_repeated() -> None:
    with pytest.raises(UrlRefused, match="user name or password") as caught:
        check(policy(FakeDns({})), "https://alice:s3cret@media.example/a.mov")
    assert "s3cret" not in str(caught.value)
    assert "alice" not in str(caught.value)


@pytest.mark.parametrize(
    "url", ["http://", "http:///a.mov", "http://1.2.3.4.5/a.mov", "http://ex%61mple.com/", "nope"]
)
def test_malformed_urls_are_invalid(url: str) -> None:
    with pytest.raises((UrlInvalid, UrlRefused)):
        check(policy(FakeDns({})), url)


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        (["10.0.0.7"], "a private address"),
        (["127.0.0.1"], "a loopback address"),
        (["169.254.169.254"], "a cloud metadata address"),
        (["::ffff:192.168.0.9"], "a private address"),
        (["fd00::5"], "a private address"),
        (["1.1.1.1", "10.0.0.7"], "a private address"),  # one refused answer refuses all
    ],
)
def test_names_resolving_inside_are_refused_without_naming_the_address(
    answer: list[str], why: str
) -> None:
    dns = FakeDns({"media.example": answer})
    with pytest.raises(UrlRefused) as caught:
        check(policy(dns), "https://media.example/ep01.mxf?sig=abc")
    message = str(caught.value)
    assert message == f"https://media.example/ep01.mxf?…: refused, media.example resolves to {why}"
    assert all(address not in message for address in answer)
    assert dns.lookups == [("media.example", 443)]


def test_a_name_is_looked_up_once_per_check_and_its_checked_answer_kept() -> None:
    dns = FakeDns({"media.example": ["1.1.1.1", "2606:4700:4700::1111"]})
    assert check(policy(dns), "http://media.example:8080/a.wav") == (
        "1.1.1.1",
        "2606:4700:4700::1111",
    )
    assert dns.lookups == [("media.example", 8080)]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://0x7f.1/a.wav", "a loopback address"),
        ("http://0X7F.1/a.wav", "a loopback address"),
        ("http://127\u30020\u30020\u30021/a.wav", "a loopback address"),  # ideographic full stops
        ("HTTP://[0:0:0:0:0:ffff:7f00:1]/a.wav", "a loopback address"),
        ("http://0/a.wav", "an unspecified address"),
        ("http://[::]/a.wav", "an unspecified address"),
    ],
)
def test_address_literals_are_judged_without_a_lookup(url: str, why: str) -> None:
    dns = FakeDns({})
    with pytest.raises(UrlRefused, match=f"its host is {why}$"):
        check(policy(dns), url)
    assert dns.lookups == []


def test_allow_lists_let_internal_sources_through_but_never_metadata() -> None:
    dns = FakeDns({"nas.corp.example": ["10.0.0.7"], "imds.corp.example": ["169.254.169.254"]})
    assert check(policy(dns, hosts=".corp.example"), "http://nas.corp.example/a.mov")
    assert check(policy(dns, networks="10.0.0.0/24"), "http://nas.corp.example/a.mov")
    with pytest.raises(UrlRefused, match="cloud metadata"):
        check(policy(dns, hosts=".corp.example"), "http://imds.corp.example/latest")
    with pytest.raises(UrlRefused, match="cloud metadata"):
        check(policy(dns, networks="169.254.0.0/16"), "http://169.254.169.254/latest")


def test_an_allowed_name_does_not_allow_an_address_literal() -> None:
    with pytest.raises(UrlRefused, match="loopback"):
        check(policy(FakeDns({}), hosts="localhost,127.0.0.1"), "http://127.0.0.1/a.mov")


def test_lookup_failures_are_sentences_and_say_whether_retrying_helps() -> None:
    gone = socket.gaierror(socket.EAI_NONAME, "Name or service not known")
    later = socket.gaierror(socket.EAI_AGAIN, "Temporary failure in name resolution")
    dns = FakeDns({"gone.example": gone, "later.example": later, "empty.example": []})
    with pytest.raises(UrlNotFound, match=r"gone\.example does not exist") as caught:
        check(policy(dns), "http://gone.example/a.mov")
    assert caught.value.permanent
    with pytest.raises(UrlUnreachable, match="cannot be looked up") as retry:
        check(policy(dns), "http://later.example/a.mov")
    assert not retry.value.permanent
    with pytest.raises(UrlNotFound, match="has no address"):
        check(policy(dns), "http://empty.example/a.mov")


def test_shown_url_drops_credentials_and_the_query_and_is_bounded() -> None:
    assert (
        shown_url("https://u:p@h.example/a.mov?X-Amz-Signature=1#t")
        == "https://…@h.example/a.mov?…"
    )
    assert shown_url("http://h.example/\x1b[2J") == "http://h.example/?[2J"
    long = shown_url("http://h.example/" + "a" * 500)
    assert len(long) == 200
    assert long.endswith("…")


def test_settings_give_the_caps_and_a_bad_network_stops_the_service() -> None:
    limits = url_limits(Settings(url_max_mb=50, max_file_mb=20, url_max_redirects=2))
    assert (limits.max_bytes, limits.max_redirects) == (20_000_000, 2)
    assert url_limits(Settings(url_max_mb=50)).max_bytes == 50_000_000
    with pytest.raises(UnsafeConfiguration, match=r"KICKFLOW_URL_ALLOW_NETWORKS: 'corp'"):
        OutboundPolicy.from_settings(Settings(url_allow_networks="10.0.0.0/8,corp"))


def test_redirects_turn_into_get_like_browsers_and_leave_credentials_behind() -> None:
    first = Hop("POST", httpx.URL("https://a.example/x"), {"Authorization": "Bearer t"}, b"{}")
    same = first.redirected(307, httpx.URL("https://a.example/y"))
    assert (same.method, same.content, same.headers) == (
        "POST",
        b"{}",
        {"Authorization": "Bearer t"},
    )
    other = first.redirected(303, httpx.URL("https://b.example/y"))
    assert (other.method, other.content, other.headers) == ("GET", None, {})
    head = Hop("HEAD", httpx.URL("http://a.example/"), {}, None).redirected(303, first.url)
    assert head.method == "HEAD"

"""An HTTP client that only connects where the policy allows: pinned addresses, redirects
followed by hand (each hop checked again), caps on hops, bytes and time.

Pinning: the request URL carries the checked address itself, the Host header carries the
host as given, and for https the ``sni_hostname`` extension (httpx/httpcore) sends the host
name in TLS SNI, against which the certificate is verified. No name is looked up at connect
time, so a DNS answer that changes after the check changes nothing.

Connections are never kept alive: a pooled connection is keyed by address, so a later request
to another name on the same address would reuse a TLS session verified for the first name.
Bodies are read raw (``Accept-Encoding: identity``, no decoding): the bytes counted against
the cap are the bytes received, and a small compressed body cannot inflate past it.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from types import TracebackType

import httpx

from kickflow.errors import FileTooLarge, KickflowError, UrlFailed, UrlInvalid, UrlUnreachable
from kickflow.net.policy import Limits, OutboundPolicy, Target, shown_url

CHUNK = 1024 * 1024
REDIRECTS = frozenset({301, 302, 303, 307, 308})
# Sent to the first origin only: a redirect to another origin must not carry them along.
CREDENTIAL_HEADERS = frozenset({"authorization", "cookie", "proxy-authorization"})
USER_AGENT = "kickflow-qc"


class Deadline:
    """The whole exchange's time limit (``Limits.total_seconds``)."""

    def __init__(self, seconds: float, shown: str) -> None:
        self.seconds, self.shown = seconds, shown
        self.ends = time.monotonic() + seconds

    def remaining(self) -> float:
        """Seconds left; UrlUnreachable once there are none."""
        left = self.ends - time.monotonic()
        if left <= 0:
            raise UrlUnreachable(f"{self.shown}: stopped, it took longer than {self.seconds:g} s")
        return left


def transport_error(exc: httpx.TransportError, shown: str, limits: Limits) -> KickflowError:
    """One sentence for a network failure (transient unless the certificate is wrong)."""
    if isinstance(exc, httpx.ConnectTimeout):
        return UrlUnreachable(
            f"{shown}: the server did not answer within {limits.connect_seconds:g} s"
        )
    if isinstance(exc, httpx.ReadTimeout):
        return UrlUnreachable(f"{shown}: stalled, no data for {limits.read_seconds:g} s")
    if _caused_by(exc, ssl.SSLCertVerificationError):
        return UrlFailed(f"{shown}: the server's TLS certificate is not valid for its host name")
    if isinstance(exc, httpx.ConnectError):
        return UrlUnreachable(f"{shown}: cannot connect to the server")
    return UrlUnreachable(f"{shown}: the connection broke off")


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def too_large(shown: str, size: int, cap: int, *, complete: bool) -> FileTooLarge:
    """The size cap's sentence (``complete``: ``size`` is the whole file's, not bytes so far)."""
    what = f"{size / 1e6:.1f} MB" if complete else "more than that"
    return FileTooLarge(
        f"{shown}: the file is larger than the {cap / 1e6:g} MB limit for URL downloads "
        f"({what}; KICKFLOW_URL_MAX_MB / KICKFLOW_MAX_FILE_MB)"
    )


class Reply:
    """The response at the end of the redirects. ``url`` is the last hop as followed (names,
    never the address connected to); ``iter_bytes`` counts against the caps."""

    def __init__(
        self,
        response: httpx.Response,
        url: httpx.URL,
        shown: str,
        limits: Limits,
        deadline: Deadline,
    ) -> None:
        self._response, self.url, self.shown = response, url, shown
        self._limits, self._deadline = limits, deadline

    @property
    def status_code(self) -> int:
        return self._response.status_code

    @property
    def headers(self) -> httpx.Headers:
        return self._response.headers

    @property
    def content_length(self) -> int | None:
        """The declared body size, or None when absent or not a number."""
        value = self._response.headers.get("content-length", "")
        return int(value) if value.isdigit() else None

    def check_size(self, size: int | None) -> None:
        """FileTooLarge when ``size`` (a declared size) is over the cap."""
        cap = self._limits.max_bytes
        if cap is not None and size is not None and size > cap:
            raise too_large(self.shown, size, cap, complete=True)

    def iter_bytes(self) -> Iterator[bytes]:
        """The body as it arrives: FileTooLarge past the cap, UrlUnreachable on a stall, the
        total time limit, a network error or a body shorter than declared."""
        declared, cap, done = self.content_length, self._limits.max_bytes, 0
        self.check_size(declared)
        try:
            for chunk in self._response.iter_raw(CHUNK):
                done += len(chunk)
                if cap is not None and done > cap:
                    raise too_large(self.shown, done, cap, complete=False)
                self._deadline.remaining()
                yield chunk
        except httpx.TransportError as exc:
            raise transport_error(exc, self.shown, self._limits) from None
        if declared is not None and done < declared:
            raise UrlUnreachable(f"{self.shown}: the download ended early")


class OutboundClient:
    """Requests under an :class:`OutboundPolicy`; use as a context manager."""

    def __init__(self, policy: OutboundPolicy) -> None:
        self.policy = policy
        self._client = httpx.Client(
            verify=policy.verify,
            trust_env=False,  # an environment proxy would make its own lookups
            follow_redirects=False,
            limits=httpx.Limits(max_keepalive_connections=0),
            headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"},
        )

    def __enter__(self) -> OutboundClient:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    @contextmanager
    def open(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        content: bytes | None = None,
    ) -> Iterator[Reply]:
        """The streamed response to ``method url`` after following redirects, each hop
        checked by the policy; errors name ``url`` as given (see :func:`shown_url`)."""
        shown = shown_url(url)
        limits = self.policy.limits
        deadline = Deadline(limits.total_seconds, shown)
        hop = Hop(method, self.policy.parse(url, shown), dict(headers or {}), content)
        redirects = 0
        while True:
            target = self.policy.target(hop.url, shown, redirects)
            response = self._send(target, hop, deadline, shown)
            location = response.headers.get("location")
            if response.status_code not in REDIRECTS or not location:
                break
            response.close()
            if redirects == limits.max_redirects:
                raise UrlFailed(f"{shown}: stopped after {limits.max_redirects} redirects")
            redirects += 1
            hop = hop.redirected(response.status_code, self._next_url(hop.url, location, shown))
        try:
            yield Reply(response, hop.url, shown, limits, deadline)
        finally:
            response.close()

    def _next_url(self, current: httpx.URL, location: str, shown: str) -> httpx.URL:
        try:
            joined = current.join(location)
        except httpx.InvalidURL:
            raise UrlFailed(f"{shown}: the server redirects to a URL that is not valid") from None
        try:
            return self.policy.parse(str(joined), shown)
        except UrlInvalid:
            raise UrlFailed(f"{shown}: the server redirects to a URL that is not valid") from None

    def _send(self, target: Target, hop: Hop, deadline: Deadline, shown: str) -> httpx.Response:
        """Send to the checked addresses in turn until one connects."""
        failure: httpx.TransportError | None = None
        for address in target.addresses:
            request = self._request(target, address, hop, deadline)
            try:
                return self._client.send(request, stream=True)
            except httpx.ConnectError as exc:
                failure = exc
                if _caused_by(exc, ssl.SSLCertVerificationError):
                    break
            except httpx.TransportError as exc:
                raise transport_error(exc, shown, self.policy.limits) from None
        assert failure is not None  # the policy never gives a target without addresses
        raise transport_error(failure, shown, self.policy.limits) from None

    def _request(self, target: Target, address: str, hop: Hop, deadline: Deadline) -> httpx.Request:
        limits = self.policy.limits
        left = deadline.remaining()
        timeout = httpx.Timeout(
            connect=min(limits.connect_seconds, left),
            read=limits.read_seconds,
            write=limits.read_seconds,
            pool=min(limits.connect_seconds, left),
        )
        extensions = {} if target.sni is None else {"sni_hostname": target.sni}
        headers = {**hop.headers, "Host": target.host_header}
        return self._client.build_request(
            hop.method,
            target.url_for(address),
            headers=headers,
            content=hop.content,
            timeout=timeout,
            extensions=extensions,
        )


class Hop:
    """What the next request sends: method, URL (as followed), headers and body."""

    def __init__(
        self, method: str, url: httpx.URL, headers: dict[str, str], content: bytes | None
    ) -> None:
        self.method, self.url, self.headers, self.content = method.upper(), url, headers, content

    def redirected(self, status: int, url: httpx.URL) -> Hop:
        """The request a redirect asks for: 303 (and 301/302 after a POST) turn into GET
        without a body, as browsers do; credentials stay behind on another origin."""
        method, content = self.method, self.content
        if (status == 303 and method != "HEAD") or (status in (301, 302) and method == "POST"):
            method, content = "GET", None
        headers = self.headers
        if _origin(url) != _origin(self.url):
            headers = {k: v for k, v in headers.items() if k.lower() not in CREDENTIAL_HEADERS}
        return Hop(method, url, headers, content)


def _origin(url: httpx.URL) -> tuple[str, str, int | None]:
    return url.scheme, url.host, url.port

"""Bearer-token (or dashboard session) authentication and role checks, as FastAPI dependencies.

User routes take ``Viewer``, ``Member`` or ``Admin`` (each refuses a worker token: 403);
the worker API (``/api/worker/v1``) takes ``WorkerPrincipal``, which accepts only a
``worker`` token.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kickflow.api.context import Services, services
from kickflow.api.tokens import LAST_USED_RESOLUTION_S, WORKER_ROLE, Principal, Role
from kickflow.errors import CsrfRefused, NotAuthenticated, PermissionDenied
from kickflow.jobs import JobStore
from kickflow.web import session

log = logging.getLogger("kickflow.auth")

bearer = HTTPBearer(auto_error=False, description="An API token from `kickflow admin create-token`")


def current_principal(
    request: Request,
    svc: Annotated[Services, Depends(services)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller, from ``Authorization: Bearer <token>``, else from the dashboard's session
    cookie (so the pages' JavaScript calls the same API); 401 otherwise."""
    if credentials is not None and credentials.credentials.strip():
        principal = svc.store.authenticate(credentials.credentials.strip())
        if principal is None:
            raise NotAuthenticated("invalid or revoked token")
        USAGE.note(svc.store, principal)  # tokens only: a session is not a token
    else:
        principal = _session_principal(request)
    request.state.principal = principal
    return principal


def _session_principal(request: Request) -> Principal:
    """The signed-in browser's principal. A cookie is sent by the browser on its own, so an
    unsafe method must also prove it comes from one of our pages: same-site, with the
    session's CSRF token in the X-CSRF-Token header."""
    secret = session.session_secret(request)
    if secret is None:
        raise NotAuthenticated()
    live = session.live_session(request, secret)
    if live is None:
        raise NotAuthenticated("your dashboard session has ended: sign in again")
    if request.method not in session.SAFE_METHODS:
        if not session.same_site(request):
            raise CsrfRefused(session.CROSS_SITE)
        sent = request.headers.get(session.CSRF_HEADER, "")
        if not session.token_matches(sent, session.csrf_token_for(secret)):
            raise CsrfRefused(
                "a request signed in by the session cookie needs the page's X-CSRF-Token header"
            )
    return session.principal_of(live)


class UsageMarks:
    """Writes ``api_tokens.last_used_at`` at most once a resolution per token, off the request
    path: the row read by authentication says how old the mark is, and this process remembers
    when it queued one, so a burst of requests costs one conditional UPDATE. The UPDATE runs
    on a background thread: on SQLite a frozen process holding the write lock must not make
    read-only requests (the runbook's ``GET /api/qc/debug``) wait behind it."""

    MAX_REMEMBERED = 4096

    def __init__(
        self,
        resolution: float = LAST_USED_RESOLUTION_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.resolution = resolution
        self.clock = clock
        self._written: dict[str, float] = {}  # token id -> clock time of our last mark
        self._lock = threading.Lock()
        self._queue: queue.SimpleQueue[tuple[JobStore, str]] = queue.SimpleQueue()
        self._writer: threading.Thread | None = None

    def _claim(self, principal: Principal) -> bool:
        """Whether this request should write the mark (and remember that it does)."""
        now = self.clock()
        age = principal.last_used_age
        with self._lock:
            if age is not None and age < self.resolution:
                self._written.setdefault(principal.token_id, now - age)
                return False
            if now - self._written.get(principal.token_id, -self.resolution) < self.resolution:
                return False
            if len(self._written) >= self.MAX_REMEMBERED:
                self._forget_old(now)
            self._written[principal.token_id] = now
            return True

    def _forget_old(self, now: float) -> None:
        for token_id, at in list(self._written.items()):
            if now - at >= self.resolution:
                del self._written[token_id]

    def note(self, store: JobStore, principal: Principal) -> bool:
        """Queue the mark if due (never waits for the database); whether it was queued."""
        if not self._claim(principal):
            return False
        self._queue.put((store, principal.token_id))
        with self._lock:
            if self._writer is None or not self._writer.is_alive():
                self._writer = threading.Thread(
                    target=self._drain, name="kf-token-usage", daemon=True
                )
                self._writer.start()
        return True

    def _drain(self) -> None:
        while True:
            store, token_id = self._queue.get()
            try:
                store.mark_token_used(token_id)
            except Exception as exc:  # a closed store, a database hiccup: next minute
                log.warning("could not mark token %s used: %s", token_id, exc)


USAGE = UsageMarks()


WORKER_ONLY = "a worker token may only call the worker API (/api/worker/v1)"


def require(role: Role) -> Callable[[Principal], Principal]:
    """A dependency that lets through callers whose user role includes ``role``; a worker
    token never passes (403)."""

    def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if principal.is_worker:
            raise PermissionDenied(WORKER_ONLY)
        if not principal.may(role):
            raise PermissionDenied(f"this needs the {role} role; your token is {principal.role}")
        return principal

    return check


def require_worker(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
    """The worker API's dependency: only a ``worker`` token passes (403 otherwise)."""
    if not principal.may(WORKER_ROLE):
        raise PermissionDenied(
            f"this is the worker API: it needs a worker token (`kickflow admin create-token "
            f"--role worker`); your token is {principal.role}"
        )
    return principal


Viewer = Annotated[Principal, Depends(require("viewer"))]
Member = Annotated[Principal, Depends(require("member"))]
Admin = Annotated[Principal, Depends(require("admin"))]
Operator = Annotated[Principal, Depends(require("operator"))]
WorkerPrincipal = Annotated[Principal, Depends(require_worker)]

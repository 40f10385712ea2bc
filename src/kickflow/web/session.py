"""Who is looking at a page: the session cookie, CSRF tokens, and the page dependencies.

A page route takes ``ViewerPage``, ``MemberPage`` or ``AdminPage``. Not signed in: a GET is
redirected to the sign-in page (see :mod:`kickflow.web.errors`), anything else is refused.
For every method that changes state the dependency also checks the request came from one of
our own pages: a same-site ``Origin``/``Sec-Fetch-Site`` and the session's CSRF token (form
field ``csrf_token`` or header ``X-CSRF-Token``), so a POST route is protected by taking one.

The cookie holds the session secret; the store keeps only its SHA-256. The CSRF token is an
HMAC of that secret: a page can show it without revealing the secret, and it dies with the
session. Before sign-in (the sign-in and invitation forms) a random double-submit token in a
cookie of its own stands in for it.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request, Response

from kickflow.config import Settings
from kickflow.errors import CsrfRefused, NotAuthenticated, PermissionDenied
from kickflow.jobs import JobStore, Membership, Principal, Role, WebSession

SESSION_COOKIE = "kf_session"
FORM_COOKIE = "kf_form"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
SECRET_MAX = 256  # longer cookie values are not ours: no lookup
FORM_COOKIE_SECONDS = 86400
CROSS_SITE = "This request came from another site and was refused."
SESSION_PRINCIPAL = "session:"  # the token id of a session's Principal: never a real token


@dataclass(frozen=True)
class PageUser:
    """The signed-in person, in the organisation their session is on."""

    user_id: str
    email: str
    name: str | None
    org_id: str
    org_name: str
    role: Role
    session_id: str
    csrf_token: str
    memberships: tuple[Membership, ...]

    @property
    def principal(self) -> Principal:
        """The caller as the API routes see it (the session's id stands in for a token id)."""
        return Principal(self.org_id, self.role, SESSION_PRINCIPAL + self.session_id)

    @property
    def display_name(self) -> str:
        return self.name or self.email

    def may(self, role: Role) -> bool:
        """Whether the role in this organisation includes ``role``."""
        return self.principal.may(role)


def principal_of(session: WebSession) -> Principal:
    """A session as an API caller: its organisation and the membership's role."""
    return Principal(session.org_id, session.role, SESSION_PRINCIPAL + session.id)


def csrf_token_for(session_secret: str) -> str:
    """The CSRF token of a session."""
    key = session_secret.encode("utf-8", "surrogatepass")
    return hmac.new(key, b"kickflow csrf v1", hashlib.sha256).hexdigest()


def _store(request: Request) -> JobStore:
    store: JobStore = request.app.state.services.store
    return store


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.services.settings
    return settings


def session_secret(request: Request) -> str | None:
    """The session secret the browser sent, if it looks like one of ours."""
    secret = request.cookies.get(SESSION_COOKIE, "")
    return secret if 0 < len(secret) <= SECRET_MAX else None


def live_session(request: Request, secret: str) -> WebSession | None:
    """The live session of ``secret`` (idle sessions end after KICKFLOW_SESSION_IDLE_MINUTES)."""
    idle = _settings(request).session_idle_minutes * 60
    return _store(request).session_by_secret(secret, idle)


def page_user(request: Request) -> PageUser | None:
    """The signed-in user of this request, looked up once per request; None if signed out."""
    known: PageUser | bool | None = getattr(request.state, "page_user", False)
    if known is not False:
        assert known is None or isinstance(known, PageUser)
        return known
    user = _lookup(request)
    request.state.page_user = user
    return user


def _lookup(request: Request) -> PageUser | None:
    secret = session_secret(request)
    session = live_session(request, secret) if secret else None
    if secret is None or session is None:
        return None
    memberships = tuple(_store(request).memberships(session.user_id))
    return PageUser(
        user_id=session.user_id,
        email=session.email,
        name=session.user_name,
        org_id=session.org_id,
        org_name=session.org_name,
        role=session.role,
        session_id=session.id,
        csrf_token=csrf_token_for(secret),
        memberships=memberships,
    )


# --- cookies ------------------------------------------------------------------------------------


def secure_cookies(request: Request) -> bool:
    """Whether cookies get the Secure flag: KICKFLOW_COOKIE_SECURE, or with ``auto`` whether
    the browser talks https to us (directly or through a proxy that says so)."""
    mode = _settings(request).cookie_secure
    if mode != "auto":
        return mode == "true"
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


@dataclass(frozen=True)
class Cookie:
    """A cookie of ours: HttpOnly, SameSite=Lax, Path=/, Secure as the request says."""

    name: str
    value: str
    max_age: int | None
    secure: bool

    def set_on(self, response: Response) -> None:
        response.set_cookie(
            self.name,
            self.value,
            max_age=self.max_age,
            path="/",
            secure=self.secure,
            httponly=True,
            samesite="lax",
        )


def clear_cookie(request: Request, response: Response, name: str) -> None:
    """Tell the browser to forget one of our cookies."""
    response.delete_cookie(
        name, path="/", secure=secure_cookies(request), httponly=True, samesite="lax"
    )


def form_token(request: Request) -> tuple[str, Cookie | None]:
    """The double-submit token of the signed-out forms, and the cookie to set when the browser
    has none yet."""
    current = request.cookies.get(FORM_COOKIE, "")
    if 20 <= len(current) <= 64:
        return current, None
    token = secrets.token_urlsafe(32)
    return token, Cookie(FORM_COOKIE, token, FORM_COOKIE_SECONDS, secure_cookies(request))


def start_session(request: Request, response: Response, user_id: str, org_id: str) -> None:
    """Sign ``user_id`` in on ``org_id``: a new session (a new id at every sign-in), its cookie
    on ``response``, and the session the browser had before, if any, revoked."""
    settings = _settings(request)
    store = _store(request)
    end_session(request)
    lifetime = settings.session_hours * 3600
    agent = request.headers.get("user-agent", "")[:300]
    address = request.client.host if request.client else ""
    issued = store.create_session(user_id, org_id, lifetime, agent, address)
    Cookie(SESSION_COOKIE, issued.secret, int(lifetime), secure_cookies(request)).set_on(response)


def end_session(request: Request) -> None:
    """Revoke the browser's session, if it has a live one (the cookie is cleared by the caller).
    The session is the request's :func:`page_user`, which the page-form check has already
    looked up: no second read."""
    user = page_user(request)
    if user is not None:
        _store(request).revoke_session(user.user_id, user.session_id)
    request.state.page_user = None


# --- CSRF ---------------------------------------------------------------------------------------


def same_site(request: Request) -> bool:
    """Whether an unsafe request was sent by a page of ours: no ``Sec-Fetch-Site: cross-site``
    and no ``Origin`` of another host (browsers send one of them on cross-site requests).
    Host names are compared without ports: a proxy may pass ``Host`` without its port
    (nginx's ``$host``), and another port of the same host is the same site anyway."""
    if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True
    ours = urlsplit("//" + request.headers.get("host", "")).hostname
    return ours is not None and urlsplit(origin).hostname == ours


async def sent_token(request: Request) -> str:
    """The CSRF token sent with the request: the header, else the form field."""
    header = request.headers.get(CSRF_HEADER)
    if header:
        return header
    media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if media_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return ""
    value: Any = (await request.form()).get(CSRF_FIELD)
    return value if isinstance(value, str) else ""


def token_matches(sent: str, expected: str) -> bool:
    """Whether ``sent`` is the expected token (constant time; an empty one never is)."""
    return bool(sent) and hmac.compare_digest(sent.encode(), expected.encode())


async def verify_csrf(request: Request, expected: str) -> None:
    """CsrfRefused (403) unless the request is same-site and carries ``expected``."""
    if not same_site(request):
        raise CsrfRefused(CROSS_SITE)
    if not token_matches(await sent_token(request), expected):
        raise CsrfRefused()


def optional_user(request: Request) -> PageUser | None:
    """The signed-in user or None, for pages anyone may open (no CSRF check: such a page's
    POST route takes :func:`verify_page_form`)."""
    return page_user(request)


MaybePageUser = Annotated[PageUser | None, Depends(optional_user)]


async def verify_page_form(request: Request, user: MaybePageUser) -> None:
    """The check of a form that may be sent signed out (sign-in, invitation): the session's
    token or the double-submit cookie's (a sign-in form opened before signing in elsewhere
    still works). Either is a secret of this browser that another site cannot read."""
    if not same_site(request):
        raise CsrfRefused(CROSS_SITE)
    sent = await sent_token(request)
    expected = (user.csrf_token if user else "", request.cookies.get(FORM_COOKIE, ""))
    if not any(token_matches(sent, token) for token in expected if token):
        raise CsrfRefused()


# --- dependencies -------------------------------------------------------------------------------


def _signed_in(request: Request) -> PageUser:
    """Runs in the thread pool: the session lookup reads the database."""
    user = page_user(request)
    if user is None:
        raise NotAuthenticated("Sign in to see this page.")
    return user


async def _same_site_user(
    request: Request, user: Annotated[PageUser, Depends(_signed_in)]
) -> PageUser:
    if request.method not in SAFE_METHODS:
        await verify_csrf(request, user.csrf_token)
    return user


def require_page(role: Role) -> Any:
    """A dependency: the signed-in user, whose role includes ``role`` (403 page otherwise),
    with the CSRF check done on unsafe methods."""

    async def check(user: Annotated[PageUser, Depends(_same_site_user)]) -> PageUser:
        if not user.may(role):
            raise PermissionDenied(
                f"This page needs the {role} role; yours in {user.org_name} is {user.role}."
            )
        return user

    return check


ViewerPage = Annotated[PageUser, Depends(require_page("viewer"))]
MemberPage = Annotated[PageUser, Depends(require_page("member"))]
AdminPage = Annotated[PageUser, Depends(require_page("admin"))]

"""Signing in and out, invitations, and the account page (password, sessions, organisation).

Sign-in and invitation forms are sent without a session: they carry the double-submit token
(:func:`kickflow.web.session.verify_page_form`); everything else takes a page dependency.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from kickflow.api.errors import status_for
from kickflow.errors import (
    InvitationInvalid,
    KickflowError,
    PermissionDenied,
    RequestInvalid,
    SignInThrottled,
    UserExists,
)
from kickflow.jobs import Invitation, JobStore
from kickflow.jobs.people import normalise_email, user_name
from kickflow.security.passwords import check_new_password, hash_password
from kickflow.web.session import (
    SESSION_COOKIE,
    MaybePageUser,
    PageUser,
    ViewerPage,
    clear_cookie,
    end_session,
    start_session,
    verify_page_form,
)
from kickflow.web.signin import HOME, SignIn, safe_next
from kickflow.web.templating import redirect, render, sentence

router = APIRouter(include_in_schema=False)

FormText = Annotated[str, Form()]
PageForm = Depends(verify_page_form)
NO_ORGANISATION = (
    "Your account is not a member of any organisation yet: ask an admin for an invitation."
)


def _store(request: Request) -> JobStore:
    store: JobStore = request.app.state.services.store
    return store


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


# --- sign in / out ------------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, user: MaybePageUser, next: str = HOME) -> Response:
    """The sign-in form (signed-in visitors go straight on)."""
    if user is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    return render(request, "auth/login.html", {"next": safe_next(next), "email": ""})


@router.post("/login", response_class=HTMLResponse, dependencies=[PageForm])
def sign_in(
    request: Request, email: FormText = "", password: FormText = "", next: FormText = HOME
) -> Response:
    """Check the password, then a fresh session on the user's first organisation."""
    target = safe_next(next)
    svc = request.app.state.services
    try:
        user = SignIn(svc.store, svc.settings).verify(email, password, _address(request))
        orgs = svc.store.memberships(user.id)
        if not orgs:
            raise PermissionDenied(NO_ORGANISATION)
    except KickflowError as exc:
        return _login_refused(request, exc, email, target)
    response = RedirectResponse(target, status_code=303)
    start_session(request, response, user.id, orgs[0].org_id)
    return response


def _login_refused(request: Request, exc: KickflowError, email: str, target: str) -> Response:
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, SignInThrottled) else {}
    context = {"next": target, "email": email[:254], "error": exc.message}
    return render(request, "auth/login.html", context, status_code=status_for(exc), headers=headers)


@router.post("/logout", dependencies=[PageForm])
def sign_out(request: Request) -> Response:
    """End the session on the server, forget the cookie."""
    end_session(request)
    response = redirect("/login", "You are signed out.")
    clear_cookie(request, response, SESSION_COOKIE)
    return response


# --- invitations --------------------------------------------------------------------------------


def _pending(store: JobStore, secret: str) -> Invitation:
    invitation = store.invitation_by_secret(secret) if len(secret) <= 256 else None
    if invitation is None or invitation.state != "pending":
        raise InvitationInvalid()
    return invitation


@router.get("/invite/{secret}", response_class=HTMLResponse)
def invitation_page(request: Request, secret: str, user: MaybePageUser) -> Response:
    """What the invitation is for, and the form to accept it."""
    invitation = _pending(_store(request), secret)
    context = {"invitation": invitation, "secret": secret, "email": invitation.email, "name": ""}
    return render(request, "auth/invite.html", context)


@router.post("/invite/{secret}", response_class=HTMLResponse, dependencies=[PageForm])
def accept_invitation(
    request: Request,
    secret: str,
    user: MaybePageUser,
    name: FormText = "",
    email: FormText = "",
    password: FormText = "",
    confirm: FormText = "",
) -> Response:
    """A signed-in user joins; a new person gets an account, joins and is signed in."""
    store = _store(request)
    invitation = _pending(store, secret)
    if user is not None:
        return _join(request, store, invitation, secret, user)
    try:
        new_id = _create_account(store, name, email, password, confirm)
    except (RequestInvalid, UserExists) as exc:
        context = {
            "invitation": invitation, "secret": secret, "email": email[:254],
            "name": name[:200], "error": sentence(exc.message),
        }  # fmt: skip
        status = 409 if isinstance(exc, UserExists) else 400
        return render(request, "auth/invite.html", context, status_code=status)
    store.accept_invitation(secret, new_id)
    response = redirect(HOME, f"Welcome to {invitation.org_name}.")
    start_session(request, response, new_id, invitation.org_id)
    return response


def _join(
    request: Request, store: JobStore, invitation: Invitation, secret: str, user: PageUser
) -> Response:
    membership = store.accept_invitation(secret, user.user_id)
    store.switch_session_org(user.session_id, invitation.org_id)
    return redirect(HOME, f"You joined {membership.org_name} as {membership.role}.")


def _create_account(store: JobStore, name: str, email: str, password: str, confirm: str) -> str:
    address = normalise_email(email)
    display = user_name(name)
    check_new_password(password)
    if password != confirm:
        raise RequestInvalid("the two passwords differ")
    try:
        return store.create_user(address, hash_password(password), display).id
    except UserExists as exc:
        raise UserExists(
            "An account with this email already exists: sign in, then open this link again."
        ) from exc


# --- account ------------------------------------------------------------------------------------


def _account(
    request: Request, user: PageUser, *, error: str | None = None, status: int = 200
) -> Response:
    idle = request.app.state.services.settings.session_idle_minutes * 60
    sessions = _store(request).list_sessions(user.user_id, idle)
    context = {"sessions": sessions, "password_error": error}
    return render(request, "auth/account.html", context, status_code=status)


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request, user: ViewerPage) -> Response:
    """Who you are, your password, where you are signed in."""
    return _account(request, user)


@router.post("/account/password", response_class=HTMLResponse)
def change_password(
    request: Request,
    user: ViewerPage,
    current: FormText = "",
    new: FormText = "",
    confirm: FormText = "",
) -> Response:
    """A new password after the current one; the user's other sessions end."""
    svc = request.app.state.services
    try:
        SignIn(svc.store, svc.settings).verify(user.email, current, _address(request))
        check_new_password(new)
        if new != confirm:
            raise RequestInvalid("the two new passwords differ")
    except KickflowError as exc:
        text = "The current password is wrong." if exc.code == "wrong_credentials" else exc.message
        status = 400 if exc.code == "wrong_credentials" else status_for(exc)
        return _account(request, user, error=sentence(text), status=status)
    ended = svc.store.set_password(user.user_id, hash_password(new), user.session_id)
    others = "1 other session was" if ended == 1 else f"{ended} other sessions were"
    return redirect("/account", f"Password changed; {others} signed out.")


@router.post("/account/sessions/{session_id}/revoke")
def revoke_session(request: Request, session_id: str, user: ViewerPage) -> Response:
    """Sign out one of your sessions (this browser's included)."""
    _store(request).revoke_session(user.user_id, session_id)
    if session_id != user.session_id:
        return redirect("/account", "That session is signed out.")
    response = redirect("/login", "You are signed out.")
    clear_cookie(request, response, SESSION_COOKIE)
    return response


@router.post("/account/organisation")
def switch_organisation(
    request: Request, user: ViewerPage, org_id: FormText = "", next: FormText = HOME
) -> Response:
    """Move this session to another of your organisations, back to the same section (not the
    same object: a job of one organisation is not found in another)."""
    if not any(m.org_id == org_id for m in user.memberships):
        raise PermissionDenied("You are not a member of that organisation.")
    session = _store(request).switch_session_org(user.session_id, org_id)
    section = "/" + safe_next(next).lstrip("/").split("/", 1)[0].split("?", 1)[0]
    return redirect(safe_next(section), f"Now working in {session.org_name}.")

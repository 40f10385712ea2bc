"""The organisation's settings: members, invitations, API tokens, and integrations.

Everyone in the organisation sees its members; admins manage them, the invitations and the
API tokens. Every id in a URL is checked against the session's organisation first (another
organisation's member, invitation or token is not found). Secrets (an invitation link, a new
token) are in the answer to the POST that made them, once: they are never stored.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from kickflow.errors import (
    NotFound,
    PermissionDenied,
    RequestInvalid,
    TokenNotFound,
    UserNotFound,
)
from kickflow.jobs import JobStore, Membership, Role
from kickflow.jobs.people import normalise_email
from kickflow.web.pages import google
from kickflow.web.session import AdminPage, PageUser, ViewerPage
from kickflow.web.templating import redirect, render, sentence

router = APIRouter(include_in_schema=False)

FormText = Annotated[str, Form()]
# What an organisation's admin may hand out. ``operator`` acts on every organisation and
# ``worker`` is for machines: neither is for one organisation's admin to give.
ASSIGNABLE: tuple[Role, ...] = ("viewer", "member", "admin")
INTEGRATIONS = (
    ("Transcription", "Speech checks: dub timing, language and sync against the script."),
)


def _store(request: Request) -> JobStore:
    store: JobStore = request.app.state.services.store
    return store


def assignable(value: str) -> Role:
    """``value`` as a role an admin may give; RequestInvalid naming the choices otherwise."""
    for role in ASSIGNABLE:
        if role == value:
            return role
    raise RequestInvalid(f"Choose a role among {', '.join(ASSIGNABLE)}.")


def _page(request: Request, user: PageUser, status: int = 200, **extra: Any) -> HTMLResponse:
    store = _store(request)
    context: dict[str, Any] = {
        "members": store.org_members(user.org_id),
        "roles": ASSIGNABLE,
        "integrations": INTEGRATIONS,
        "google": google.settings_view(request, user),
        "is_admin": user.may("admin"),
        "invitations": [],
        "tokens": [],
        "invite_email": "",
        "invite_role": "member",
        "token_name": "",
        "token_role": "member",
    }
    if user.may("admin"):
        context["invitations"] = store.list_invitations(user.org_id)
        context["tokens"] = list(reversed(store.list_tokens(user.org_id)))
    return render(request, "settings/settings.html", context | extra, status_code=status)


@router.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request, user: ViewerPage) -> Response:
    """Members, invitations, tokens and integrations of the current organisation."""
    return _page(request, user)


# --- members ------------------------------------------------------------------------------------


def _member(store: JobStore, org_id: str, user_id: str) -> Membership:
    """The membership of ``user_id`` in this organisation (UserNotFound: 404 otherwise)."""
    for _, membership in store.org_members(org_id):
        if membership.user_id == user_id:
            return membership
    raise UserNotFound("No such member in this organisation.")


def _check_change(actor: PageUser, target: Membership) -> None:
    """Refuse changing one's own membership (so the acting admin always remains: the
    organisation is never left without one) and touching an operator's."""
    if target.user_id == actor.user_id:
        raise PermissionDenied("You cannot change your own membership: ask another admin.")
    if target.role == "operator" and not actor.may("operator"):
        raise PermissionDenied("Only an operator may change an operator's membership.")


@router.post("/settings/members/{user_id}/role")
def change_role(request: Request, user_id: str, user: AdminPage, role: FormText = "") -> Response:
    """Give a member another role."""
    store = _store(request)
    target = _member(store, user.org_id, user_id)
    new_role = assignable(role)
    if new_role != target.role:
        _check_change(user, target)
        store.set_membership(user_id, user.org_id, new_role)
    return redirect("/settings#members", f"The role is now {new_role}.")


@router.post("/settings/members/{user_id}/remove")
def remove_member(request: Request, user_id: str, user: AdminPage) -> Response:
    """Take a member out of the organisation (their sessions in it end at once)."""
    store = _store(request)
    target = _member(store, user.org_id, user_id)
    _check_change(user, target)
    store.remove_membership(user.org_id, user_id)
    return redirect("/settings#members", "The member is removed; their sessions have ended.")


# --- invitations --------------------------------------------------------------------------------


@router.post("/settings/invitations", response_class=HTMLResponse)
def invite(
    request: Request, user: AdminPage, email: FormText = "", role: FormText = "member"
) -> Response:
    """A one-time invitation link, shown in this answer only."""
    svc = request.app.state.services
    try:
        address = normalise_email(email)
        given = assignable(role)
    except RequestInvalid as exc:
        return _page(
            request, user, 400, invite_error=sentence(exc.message),
            invite_email=email[:254], invite_role=role if role in ASSIGNABLE else "member",
        )  # fmt: skip
    lifetime = svc.settings.invitation_days * 86400
    issued = svc.store.create_invitation(user.org_id, address, given, user.user_id, lifetime)
    link = str(request.base_url).rstrip("/") + f"/invite/{issued.secret}"
    return _page(request, user, new_invitation=issued.invitation, new_invitation_url=link)


@router.post("/settings/invitations/{invitation_id}/revoke")
def revoke_invitation(request: Request, invitation_id: str, user: AdminPage) -> Response:
    """The link stops working at once."""
    store = _store(request)
    if not any(i.id == invitation_id for i in store.list_invitations(user.org_id)):
        raise NotFound("No such invitation in this organisation.")
    store.revoke_invitation(user.org_id, invitation_id)
    return redirect("/settings#invitations", "The invitation is revoked.")


# --- API tokens ---------------------------------------------------------------------------------


@router.post("/settings/tokens", response_class=HTMLResponse)
def create_token(
    request: Request, user: AdminPage, name: FormText = "", role: FormText = "member"
) -> Response:
    """A new API token for a machine, shown in this answer only."""
    store = _store(request)
    try:
        if not name.strip():
            raise RequestInvalid("Name the token after what will use it (e.g. “render farm”).")
        issued = store.create_token(user.org_id, assignable(role), name)
    except RequestInvalid as exc:
        return _page(
            request, user, 400, token_error=sentence(exc.message), token_name=name[:200],
            token_role=role if role in ASSIGNABLE else "member",
        )  # fmt: skip
    return _page(request, user, new_token=issued, new_token_name=name.strip())


@router.post("/settings/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: str, user: AdminPage) -> Response:
    """The token stops working at once."""
    store = _store(request)
    if not any(t.id == token_id for t in store.list_tokens(user.org_id)):
        raise TokenNotFound("No such API token in this organisation.")
    store.revoke_token(token_id)
    return redirect("/settings#tokens", "The token is revoked.")

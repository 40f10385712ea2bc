"""``/api/google/connection``: whether Google Drive is connected for the caller, never a token.

A dashboard session sees its user's own connection (``?scope=organisation``: the
organisation's); an API token, which belongs to no user, sees the organisation-level connection
an admin made: the one its Drive jobs use. ``DELETE`` (admins) revokes the grant at Google and
forgets it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response

from kickflow.api.auth import Admin, Viewer
from kickflow.api.context import Svc
from kickflow.api.tokens import Principal
from kickflow.api.views import iso
from kickflow.errors import GoogleConnectionNotFound, NotAuthenticated
from kickflow.integrations.google.oauth import OAuthClient
from kickflow.integrations.google.tokens import GoogleTokens
from kickflow.integrations.google.types import ORG_OWNER, GoogleConnection
from kickflow.web import session

router = APIRouter(prefix="/api/google", tags=["google"])
ScopeQuery = Annotated[
    Literal["user", "organisation"] | None,
    Query(description="sessions: user (default) or organisation; API tokens: organisation"),
]


def owner_for(request: Request, principal: Principal, scope: str | None) -> str:
    """The ``user_id`` of the connection the caller asks about: the session's user, or
    ORG_OWNER for an API token or ``scope=organisation``."""
    if scope == "organisation" or not principal.token_id.startswith(session.SESSION_PRINCIPAL):
        return ORG_OWNER
    user = session.page_user(request)
    if user is None:  # the session ended between authentication and here
        raise NotAuthenticated("your dashboard session has ended: sign in again")
    return user.user_id


def connection_view(connection: GoogleConnection | None) -> dict[str, Any] | None:
    """A connection as the API shows it: who, since when, whether it still works."""
    if connection is None:
        return None
    return {
        "id": connection.id,
        "email": connection.email,
        "level": "organisation" if connection.user_id == ORG_OWNER else "user",
        "scopes": list(connection.scopes),
        "status": connection.status,
        "needsReconnect": connection.status != "ok",
        "connectedAt": iso(connection.created_at),
        "updatedAt": iso(connection.updated_at),
    }


@router.get("/connection", summary="Whether Google Drive is connected for the caller")
def get_connection(
    request: Request, principal: Viewer, svc: Svc, scope: ScopeQuery = None
) -> dict[str, Any]:
    owner = owner_for(request, principal, scope)
    connection = svc.store.google_connection(principal.org_id, owner)
    return {
        "configured": OAuthClient(svc.settings).configured,
        "connected": connection is not None,
        "level": "organisation" if owner == ORG_OWNER else "user",
        "connection": connection_view(connection),
    }


@router.delete(
    "/connection", status_code=204, summary="Disconnect Google Drive (revoked at Google; admin)"
)
def delete_connection(
    request: Request, principal: Admin, svc: Svc, scope: ScopeQuery = None
) -> Response:
    owner = owner_for(request, principal, scope)
    connection = svc.store.google_connection(principal.org_id, owner)
    if connection is None:
        raise GoogleConnectionNotFound()
    GoogleTokens(svc.store, svc.settings).disconnect(principal.org_id, connection.id)
    return Response(status_code=204)

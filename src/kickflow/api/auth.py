"""Bearer-token authentication and role checks, as FastAPI dependencies."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from kickflow.api.context import Services, services
from kickflow.api.tokens import Principal, Role, authenticate
from kickflow.errors import NotAuthenticated, PermissionDenied
from kickflow.jobs.db import read_tx

bearer = HTTPBearer(auto_error=False, description="An API token from `kickflow admin create-token`")


def current_principal(
    request: Request,
    svc: Annotated[Services, Depends(services)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    """The caller, from ``Authorization: Bearer <token>``; 401 otherwise."""
    if credentials is None or not credentials.credentials.strip():
        raise NotAuthenticated()
    with read_tx(svc.store.engine) as conn:
        principal = authenticate(conn, credentials.credentials.strip())
    if principal is None:
        raise NotAuthenticated("invalid or revoked token")
    request.state.principal = principal
    return principal


def require(role: Role) -> Callable[[Principal], Principal]:
    """A dependency that lets through callers whose role includes ``role``."""

    def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.may(role):
            raise PermissionDenied(f"this needs the {role} role; your token is {principal.role}")
        return principal

    return check


Viewer = Annotated[Principal, Depends(require("viewer"))]
Member = Annotated[Principal, Depends(require("member"))]
Admin = Annotated[Principal, Depends(require("admin"))]

"""``GET /api/qc/profiles``: the profiles a job of the caller's organisation may name — the
built-ins and the organisation's own custom ones (uploaded on the dashboard's Profiles page)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from kickflow.api.auth import Viewer
from kickflow.api.context import Svc
from kickflow.profiles import catalog

router = APIRouter(prefix="/api/qc", tags=["profiles"])


@router.get("/profiles", summary="The profiles a job may use: built-in and your organisation's")
def list_profiles(principal: Viewer, svc: Svc) -> dict[str, Any]:
    choices = catalog.available_profiles(svc.store, principal.org_id)
    return {
        "default": catalog.DEFAULT_PROFILE_NAME,
        "profiles": [
            {"name": c.name, "description": c.description, "custom": c.custom} for c in choices
        ],
    }

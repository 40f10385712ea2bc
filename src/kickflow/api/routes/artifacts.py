"""``/api/qc/jobs/{id}/artifacts/{name}``: a job's artefacts (the thumbnails at its video
findings), for the dashboard and for API clients.

Only a name the job's stored report lists can be read (:mod:`kickflow.artifacts`): anything
else — another organisation's job, an unknown name, a name with a path in it — is 404, and no
name typed by a caller ever reaches the storage unchecked.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from kickflow import artifacts
from kickflow.api.auth import Viewer
from kickflow.api.context import Services, Svc
from kickflow.api.schemas import ID_PATTERN
from kickflow.errors import NotFound
from kickflow.storage.names import artifact_key

router = APIRouter(prefix="/api/qc", tags=["jobs"])
MAX_AGE_S = 86400  # a name is never reused (it carries its attempt's random tag)
HEADERS = {"Cache-Control": f"private, max-age={MAX_AGE_S}", "X-Content-Type-Options": "nosniff"}
RESPONSES: dict[int | str, dict[str, object]] = {
    200: {
        "description": "The artefact's bytes (a JPEG thumbnail)",
        "content": {ctype: {} for ctype in artifacts.CONTENT_TYPES.values()},
    },
    404: {"description": "No such job in your organisation, or its report lists no such name"},
}


def artifact_response(svc: Services, org_id: str, job_id: str, name: str) -> Response:
    """The artefact ``name`` of the organisation's job ``job_id``, if its report lists it."""
    job = svc.store.get(org_id, job_id)
    if name not in artifacts.listed(job.report):
        raise NotFound(f"job {job.id} has no artefact of that name")
    data = svc.storage.read_artifact(str(artifact_key(job.org_id, job.id, name)))
    return Response(data, media_type=artifacts.content_type(name), headers=HEADERS)


@router.get(
    "/jobs/{job_id}/artifacts/{name}",
    summary="One of the job's artefacts, e.g. a thumbnail its report names",
    response_class=Response,
    responses=RESPONSES,
)
def artifact(
    job_id: Annotated[str, Path(pattern=ID_PATTERN)], name: str, principal: Viewer, svc: Svc
) -> Response:
    return artifact_response(svc, principal.org_id, job_id, name)

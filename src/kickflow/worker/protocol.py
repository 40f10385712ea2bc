"""The worker protocol's wire format (``/api/worker/v1``), shared by the service's routes and
the worker's client (:mod:`kickflow.worker.remote`).

Every call is a JSON POST carrying the header ``Kickflow-Worker-Protocol: 1`` and a token with
the ``worker`` role. Fenced calls carry the whole lease (job id, token, attempt, worker id); the
database decides, exactly as for a direct worker, and a rejected call answers 409
``lease_lost``. A call the service already accepted (the worker retried after losing the
reply) answers as accepted again, so a network fault never turns one result into two.

An artefact of an attempt (a thumbnail) is a fenced ``PUT /leases/{job}/artifacts/{name}``
with the lease and the bytes in base64 (the API takes only JSON bodies); storing it again
under the same name is harmless, so a repeated call needs no replay check.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import math
from typing import Any

from kickflow.artifacts import MAX_ARTIFACT_BYTES
from kickflow.jobs import Claimed, HeartbeatReply, Job, JobInputs, JobState, Lease, WorkerInfo

VERSION = 1
VERSION_HEADER = "Kickflow-Worker-Protocol"
LEASE_TOKEN_HEADER = "Kickflow-Lease-Token"  # noqa: S105 - a header name
SHA256_HEADER = "Kickflow-Sha256"
PREFIX = f"/api/worker/v{VERSION}"
MAX_BODY_BYTES = 64 * 1024 * 1024  # a report of a long programme with its curves
MAX_ARTIFACT_CHARS = 4 * math.ceil(MAX_ARTIFACT_BYTES / 3)  # the largest artefact in base64


def job_to_wire(job: Job) -> dict[str, Any]:
    """Every field of the job except its report (reports travel one way: worker → service).
    A shallow copy: ``asdict`` would deep-copy the report only for it to be dropped."""
    data = {f.name: getattr(job, f.name) for f in dataclasses.fields(job)}
    data["state"] = job.state.value
    data["report"] = None
    data["inputs"] = job.inputs.to_json()
    return data


def job_from_wire(data: dict[str, Any]) -> Job:
    values: dict[str, Any] = {f.name: data.get(f.name) for f in dataclasses.fields(Job)}
    values["state"] = JobState(values["state"])
    values["cancel_requested"] = bool(values["cancel_requested"])
    values["pause_requested"] = bool(values["pause_requested"])
    values["inputs"] = JobInputs.from_json(values["inputs"])  # absent from an older service
    return Job(**values)


def lease_to_wire(lease: Lease) -> dict[str, Any]:
    return dataclasses.asdict(lease)


def lease_from_wire(data: dict[str, Any]) -> Lease:
    return Lease(
        str(data["job_id"]), str(data["token"]), int(data["attempt"]), str(data["worker_id"])
    )


def claimed_to_wire(claimed: Claimed) -> dict[str, Any]:
    return {"job": job_to_wire(claimed.job), "lease": lease_to_wire(claimed.lease)}


def claimed_from_wire(data: dict[str, Any]) -> Claimed:
    return Claimed(job_from_wire(data["job"]), lease_from_wire(data["lease"]))


def reply_to_wire(reply: HeartbeatReply) -> dict[str, Any]:
    return dataclasses.asdict(reply)


def reply_from_wire(data: dict[str, Any]) -> HeartbeatReply:
    return HeartbeatReply(
        bool(data["lease_held"]), bool(data["cancel_requested"]), bool(data["pause_requested"])
    )


def worker_to_wire(info: WorkerInfo) -> dict[str, Any]:
    return dataclasses.asdict(info)


def worker_from_wire(data: dict[str, Any]) -> WorkerInfo:
    return WorkerInfo(**{f.name: data[f.name] for f in dataclasses.fields(WorkerInfo)})


def artifact_to_wire(lease: Lease, data: bytes) -> dict[str, Any]:
    return {"lease": lease_to_wire(lease), "data": base64.b64encode(data).decode("ascii")}


def artifact_from_wire(text: str) -> bytes:
    """The artefact's bytes; ValueError when ``text`` is not strict base64."""
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"artefact data is not base64: {exc}") from None

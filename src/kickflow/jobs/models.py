"""Plain data returned by the job store."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kickflow.jobs.states import TERMINAL, JobState


@dataclass(frozen=True)
class Sidecar:
    """A file delivered beside the job's media (a subtitle file): where it comes from, the way
    the main file does (``path`` under the allowed roots, ``upload`` in storage), and the
    name it was delivered under, which reports show (never ``source_ref``)."""

    source_type: str
    source_ref: str
    name: str
    size: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Sidecar:
        size = data.get("size")
        return cls(
            str(data["source_type"]),
            str(data["source_ref"]),
            str(data["name"]),
            None if size is None else int(size),
        )


@dataclass(frozen=True)
class JobInputs:
    """What a job is checked with besides its media file and profile: subtitle files
    delivered with it and a source timecode that overrides the file's. Stored with the job
    (one JSON column), so every attempt, on any worker, checks the same delivery."""

    subtitles: tuple[Sidecar, ...] = ()
    timecode_start: str | None = None  # HH:MM:SS:FF (";" = drop-frame), checked at submission

    def __bool__(self) -> bool:
        return bool(self.subtitles) or self.timecode_start is not None

    def to_json(self) -> dict[str, Any] | None:
        """The stored form; None when there is nothing (the column stays NULL)."""
        if not self:
            return None
        return {
            "subtitles": [dataclasses.asdict(s) for s in self.subtitles],
            "timecode_start": self.timecode_start,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> JobInputs:
        if not data:
            return cls()
        subtitles = tuple(Sidecar.from_json(s) for s in data.get("subtitles") or ())
        start = data.get("timecode_start")
        return cls(subtitles, None if start is None else str(start))


@dataclass(frozen=True)
class Job:
    """One job row. Times are epoch seconds from the database clock."""

    id: str
    org_id: str
    project: str | None
    file_name: str
    file_size: int | None
    source_type: str
    source_ref: str
    profile: str
    # A custom profile's TOML as submitted (None: a built-in profile): what the job is judged by.
    profile_source: str | None
    idempotency_key: str | None
    state: JobState
    phase: str | None
    progress: float
    progress_at: float | None
    attempt: int
    max_attempts: int
    lease_losses: int
    run_at: float
    priority: int
    lease_token: str | None
    lease_expires_at: float | None
    worker_id: str | None
    heartbeat_at: float | None
    cancel_requested: bool
    pause_requested: bool
    error_code: str | None
    error_message: str | None
    verdict: str | None
    report: dict[str, Any] | None
    created_at: float
    started_at: float | None
    finished_at: float | None
    updated_at: float
    inputs: JobInputs = JobInputs()  # subtitle files and per-job options (column ``inputs``)

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> Job:
        values = {f.name: row[f.name] for f in dataclasses.fields(cls)}
        values["inputs"] = JobInputs.from_json(values["inputs"])
        values["state"] = JobState(values["state"])
        values["cancel_requested"] = bool(values["cancel_requested"])
        values["pause_requested"] = bool(values["pause_requested"])
        return cls(**values)

    @property
    def terminal(self) -> bool:
        return self.state in TERMINAL

    def as_dict(self, *, with_report: bool = False) -> dict[str, Any]:
        """JSON-ready fields (the report only when asked: it can be large)."""
        data = dataclasses.asdict(self)
        data["state"] = self.state.value
        data.pop("lease_token")
        if not with_report:
            data.pop("report")
        return data


@dataclass(frozen=True)
class JobEvent:
    """One line of a job's history."""

    id: int
    job_id: str
    org_id: str
    at: float
    kind: str
    from_state: str | None
    to_state: str | None
    attempt: int | None
    worker_id: str | None
    code: str | None
    message: str | None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> JobEvent:
        return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls)})


@dataclass(frozen=True)
class Lease:
    """What a worker holds while it runs one attempt of a job: its fencing token."""

    job_id: str
    token: str
    attempt: int
    worker_id: str


@dataclass(frozen=True)
class Claimed:
    """A claimed job and the lease that fences every write about it."""

    job: Job
    lease: Lease


@dataclass(frozen=True)
class HeartbeatReply:
    """The database's answer to a heartbeat."""

    lease_held: bool
    cancel_requested: bool = False
    pause_requested: bool = False


@dataclass(frozen=True)
class ReapResult:
    """What one reaper pass did, by outcome."""

    requeued: list[str]
    failed: list[str]
    cancelled: list[str]
    paused: list[str]

    @property
    def total(self) -> int:
        return len(self.requeued) + len(self.failed) + len(self.cancelled) + len(self.paused)


@dataclass(frozen=True)
class WorkerInfo:
    """One registered worker process."""

    id: str
    hostname: str
    pid: int
    concurrency: int
    state: str
    started_at: float
    heartbeat_at: float
    stopped_at: float | None

    @classmethod
    def from_row(cls, row: Mapping[Any, Any]) -> WorkerInfo:
        return cls(**{f.name: row[f.name] for f in dataclasses.fields(cls)})


@dataclass
class BulkResult:
    """Outcome of a bulk operation: jobs changed, and the refused ids with the reason."""

    done: list[Job] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)

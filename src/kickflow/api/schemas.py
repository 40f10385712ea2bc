"""Request bodies. Unknown fields are refused, and every error names its field."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from kickflow.errors import TimecodeInvalid
from kickflow.media.timecode import parse_timecode_text

# Job ids are UUIDs; anything outside this alphabet cannot be one (and NUL bytes would reach
# the database, which PostgreSQL refuses).
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
# Free text: no control characters (C0, DEL, C1). NUL fails on PostgreSQL; ESC and friends
# rewrite terminals that print the value (``kickflow jobs list``, logs).
TEXT_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
JobId = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
JobIds = Annotated[list[JobId], Field(min_length=1, max_length=1000)]


Text200 = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=TEXT_PATTERN)]
PathText = Annotated[str, StringConstraints(min_length=1, max_length=4096, pattern=TEXT_PATTERN)]
MAX_SUBTITLES = 100  # the schema's own bound; KICKFLOW_MAX_SUBTITLE_FILES is checked by the route


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class PathSource(Body):
    """A file on the service's file system, under one of KICKFLOW_ALLOWED_ROOTS."""

    type: Literal["path"]
    path: PathText


class UrlSource(Body):
    """A file at an http(s) URL, fetched by the worker under the outbound policy (private,
    loopback and metadata addresses refused unless KICKFLOW_URL_ALLOW_* lets them through)."""

    type: Literal["url"]
    url: PathText


class DriveLinkSource(Body):
    """A Google Drive file or folder link (a folder: one job per media file, subtitle files
    paired by name), read with the caller's Google connection."""

    type: Literal["drive"]
    url: PathText


class SubtitlePath(Body):
    """A subtitle file delivered beside the media: a path under the allowed roots too."""

    type: Literal["path"] = "path"
    path: PathText


class SubmitOptions(Body):
    """Options shared by JSON and multipart submissions."""

    profile: Annotated[
        str, StringConstraints(min_length=1, max_length=100, pattern=TEXT_PATTERN)
    ] = "default"
    priority: Annotated[
        int,
        Field(
            ge=-100,
            le=100,
            description="Higher runs first among your organisation's own jobs; members may set "
            "±KICKFLOW_MEMBER_MAX_PRIORITY (default 10), admins ±100.",
        ),
    ] = 0
    project: Text200 | None = None
    idempotency_key: Text200 | None = Field(None, alias="idempotencyKey")
    timecode_start: Annotated[str, StringConstraints(max_length=32)] | None = Field(
        None,
        alias="timecodeStart",
        description="Source timecode of the first frame, HH:MM:SS:FF (HH:MM:SS;FF = "
        "drop-frame); overrides the file's own.",
    )

    @field_validator("timecode_start")
    @classmethod
    def _timecode(cls, value: str | None) -> str | None:
        """Checked when submitted, so a typo is a 422 now, not a failed job later."""
        if value is None or not value.strip():
            return None
        try:
            parse_timecode_text(value)
        except TimecodeInvalid as exc:
            raise PydanticCustomError("timecode", exc.message) from None
        return value.strip()


class SubmitJob(SubmitOptions):
    """``POST /api/qc/jobs`` with a JSON body."""

    source: Annotated[PathSource | UrlSource | DriveLinkSource, Field(discriminator="type")]
    subtitles: list[SubtitlePath] = Field(
        default_factory=list,
        max_length=MAX_SUBTITLES,
        description="Subtitle files delivered with the media (SRT, WebVTT, TTML, ASS/SSA), "
        "at most KICKFLOW_MAX_SUBTITLE_FILES.",
    )


class OneOrMany(Body):
    """``jobId`` or ``jobIds``: exactly one of them."""

    job_id: JobId | None = Field(None, alias="jobId")
    job_ids: JobIds | None = Field(None, alias="jobIds")

    @model_validator(mode="after")
    def _exactly_one(self) -> OneOrMany:
        if (self.job_id is None) == (self.job_ids is None):
            raise ValueError("give exactly one of jobId or jobIds")
        return self

    def ids(self) -> list[str]:
        """The job ids, in order, without duplicates."""
        return list(dict.fromkeys([self.job_id] if self.job_id else self.job_ids or []))


class CancelRequest(Body):
    """``POST /api/qc/cancel``: ``jobId``, ``jobIds`` or ``all: true``."""

    job_id: JobId | None = Field(None, alias="jobId")
    job_ids: JobIds | None = Field(None, alias="jobIds")
    all: bool = False

    @model_validator(mode="after")
    def _exactly_one(self) -> CancelRequest:
        given = sum([self.job_id is not None, self.job_ids is not None, self.all])
        if given != 1:
            raise ValueError("give exactly one of jobId, jobIds or all: true")
        return self


class PauseRequest(Body):
    """``POST /api/qc/pause``."""

    job_ids: JobIds = Field(alias="jobIds")
    action: Literal["pause", "resume"]


DebugActionName = Literal["retry_specific", "retry_stuck", "cancel_stuck", "trigger_worker"]
DEBUG_ACTIONS: tuple[str, ...] = ("retry_specific", "retry_stuck", "cancel_stuck", "trigger_worker")


class DebugAction(Body):
    """``POST /api/qc/debug``; the action is checked by the route to list the valid ones."""

    action: Annotated[str, StringConstraints(max_length=100, pattern=TEXT_PATTERN)]
    job_id: JobId | None = Field(None, alias="jobId")
    job_ids: JobIds | None = Field(None, alias="jobIds")
    reason: Annotated[str, StringConstraints(max_length=500, pattern=TEXT_PATTERN)] | None = None
    all_organisations: bool = Field(
        False,
        alias="allOrganisations",
        description="Operators only: retry_stuck, cancel_stuck and trigger_worker act on every "
        "organisation",
    )

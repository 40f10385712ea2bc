"""The base of every profile table."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Section(BaseModel):
    """Base of every profile table: immutable, strict types, no unknown keys."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

"""Delivery conventions: the file name against the profile's ``[delivery] file_name`` pattern."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from kickflow.checks.base import Context, Outcome, result
from kickflow.profiles import Profile
from kickflow.profiles.file_names import compile_pattern


def file_name_parts(profile: Profile, file_name: str) -> dict[str, str | int] | None:
    """The named parts of ``file_name`` under the profile's convention (None: no convention,
    or a name that does not follow it)."""
    pattern = profile.delivery.file_name
    if pattern is None:
        return None
    return compile_pattern(pattern).parse(PurePath(file_name).name)


def delivery_info(profile: Profile, file_name: str) -> dict[str, Any]:
    """The report's ``delivery`` section: the name, the convention and the parsed parts."""
    return {
        "file_name": PurePath(file_name).name,
        "file_name_pattern": profile.delivery.file_name,
        "file_name_parts": file_name_parts(profile, file_name),
    }


def check_file_name(ctx: Context) -> Outcome:
    pattern = ctx.profile.delivery.file_name
    if pattern is None:
        return result([], "Any file name is accepted: the profile sets no [delivery] file_name")
    name = PurePath(ctx.input_name or ctx.m.media.path).name
    parts = file_name_parts(ctx.profile, name)
    if parts is None:
        return result([ctx.finding(f"File name {name!r} does not follow {pattern!r}")], "")
    shown = ", ".join(f"{key} {value}" for key, value in parts.items())
    return result([], f"File name follows {pattern!r}" + (f": {shown}" if shown else ""))

"""The profiles an organisation may use: the built-ins plus its own custom ones (TOML texts
an admin uploaded, kept by the job store), how a submitted profile name becomes what the job
carries, and the rules an upload must pass."""

from __future__ import annotations

from dataclasses import dataclass

from kickflow.errors import ProfileError, ProfileNotFound, RequestInvalid
from kickflow.jobs import JobStore, OrgProfile
from kickflow.jobs.org_profiles import check_name
from kickflow.profiles.loader import ALIASES, builtin_profile_names, load_profile, load_profile_text
from kickflow.profiles.wording import describe

__all__ = [
    "DEFAULT_PROFILE_NAME",
    "MAX_SOURCE_BYTES",
    "TOO_LARGE",
    "ProfileChoice",
    "available_profiles",
    "check_upload_name",
    "describe",
    "resolve_for_job",
    "save_profile",
]
DEFAULT_PROFILE_NAME = ALIASES["default"]  # what a job without a profile is judged by
MAX_SOURCE_BYTES = 64 * 1024  # a generous spec is 2 KB; this bounds what every job copies
TOO_LARGE = f"profile: the TOML text is larger than {MAX_SOURCE_BYTES // 1024} KB"


@dataclass(frozen=True)
class ProfileChoice:
    """One entry of a profile select: its name, one line about it, and whose it is."""

    name: str
    description: str
    custom: bool


def available_profiles(store: JobStore, org_id: str) -> list[ProfileChoice]:
    """The built-in profiles (by name, ebu-r128 being ``default``), then the organisation's."""
    builtin = [
        ProfileChoice(n, load_profile(n).description, False) for n in builtin_profile_names()
    ]
    custom = [ProfileChoice(p.name, _summary(p), True) for p in store.org_profiles(org_id)]
    return builtin + custom


def _summary(stored: OrgProfile) -> str:
    try:
        return load_profile_text(stored.source, stored.name).description
    except ProfileError:  # saved under older rules: still listed, refused at submit
        return ""


def resolve_for_job(store: JobStore, org_id: str, name: str) -> tuple[str, str | None]:
    """``(profile name, TOML source or None)`` for a job submitted with ``name``: a built-in
    (or ``default``) carries no source; an organisation profile carries its text as it is now,
    validated again, so the job is judged by exactly what was there when it was submitted.
    ProfileNotFound for anything else (a path on the server is never a profile here)."""
    if ALIASES.get(name, name) in builtin_profile_names():
        return name, None
    stored = store.org_profile(org_id, name)
    if stored is None:
        known = ", ".join(c.name for c in available_profiles(store, org_id))
        raise ProfileNotFound(f"profile: unknown profile {name!r} (use default or one of {known})")
    load_profile_text(stored.source, stored.name)
    return stored.name, stored.source


def save_profile(
    store: JobStore, org_id: str, name: str, source: str, user_id: str | None
) -> OrgProfile:
    """Check an upload and store it (replacing the organisation's profile of that name).
    RequestInvalid for a bad name or an oversized text, ProfileError naming the key for an
    invalid profile; nothing is stored then."""
    name = check_upload_name(name)
    if len(source.encode("utf-8")) > MAX_SOURCE_BYTES:
        raise RequestInvalid(TOO_LARGE)
    if not source.strip():
        raise RequestInvalid("profile: the TOML text is empty")
    load_profile_text(source, name)
    return store.save_org_profile(org_id, name, source, user_id)


def check_upload_name(name: str) -> str:
    """A custom profile's name: a lower-case slug of at most 100 characters that is not a
    built-in's (nor ``default``), so a name always means one profile."""
    name = name.strip()
    if not name:
        raise RequestInvalid("profile name: give the profile a name, e.g. netflix-stereo")
    if name in ALIASES or name in builtin_profile_names():
        raise RequestInvalid(f"profile name: {name} is a built-in profile; choose another name")
    return check_name(name)

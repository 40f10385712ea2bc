"""Find and load profiles: built-in TOML files shipped in the package, or a user's TOML file."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from kickflow.errors import ProfileError, ProfileNotFound
from kickflow.profiles.model import Profile

ALIASES = {"default": "ebu-r128"}

# Plain wording for pydantic's error types; anything else falls back to pydantic's message.
_PHRASES = {
    "missing": "is required",
    "extra_forbidden": "is not a known key",
    "float_type": "must be a number",
    "int_type": "must be an integer",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "tuple_type": "must be a list",
    "dict_type": "must be a table",
    "model_type": "must be a table",
}


def builtin_profile_names() -> list[str]:
    """Names of the profiles shipped with KickFlow, sorted."""
    files = resources.files("kickflow.profiles").iterdir()
    return sorted(f.name.removesuffix(".toml") for f in files if f.name.endswith(".toml"))


def load_profile(ref: str) -> Profile:
    """Load a built-in profile by name (``default`` = ebu-r128) or a TOML file by path."""
    name = ALIASES.get(ref, ref)
    if name in builtin_profile_names():
        return _parse(_read_builtin(name), label=name, default_name=name)
    path = Path(ref)
    if path.is_file():
        return _parse(_read_file(path, ref), label=ref, default_name=path.stem)
    if path.suffix == ".toml" or "/" in ref:
        raise ProfileNotFound(f"profile file {ref} does not exist")
    names = ", ".join(builtin_profile_names())
    raise ProfileNotFound(
        f"no profile named {ref!r}: use one of {names} (default = ebu-r128) or a TOML file path"
    )


def load_profile_text(source: str, name: str) -> Profile:
    """Parse a profile from TOML text (an organisation's custom profile, or the copy a job
    carries) with the rules of :func:`load_profile`; its name is ``name`` whatever the text
    says, so a built-in file copied and edited needs no renaming."""
    try:
        data = tomllib.loads(source)
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"profile {name}: not valid TOML ({exc})") from exc
    data["name"] = name
    return _parse(data, label=name, default_name=name)


def _read_builtin(name: str) -> dict[str, Any]:
    text = resources.files("kickflow.profiles").joinpath(f"{name}.toml").read_text("utf-8")
    return tomllib.loads(text)


def _read_file(path: Path, label: str) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text("utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ProfileError(f"profile {label}: not valid TOML ({exc})") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ProfileError(f"profile {label}: cannot be read ({exc})") from exc


def _parse(data: dict[str, Any], *, label: str, default_name: str) -> Profile:
    """Validate TOML data, resolving ``extends`` first; errors name the offending key."""
    data.setdefault("name", default_name)
    data = _resolved(data, label)
    try:
        return Profile.model_validate(_tuples(data))
    except ValidationError as exc:
        problems = "; ".join(_describe(error) for error in exc.errors()[:3])
        raise ProfileError(f"profile {label}: {problems}") from exc


MAX_EXTENDS = 8  # built-ins extend at most a few levels; a longer chain is a loop


def _resolved(data: dict[str, Any], label: str) -> dict[str, Any]:
    """``data`` on top of the built-in it ``extends``, and so on down the chain (a built-in
    may extend another: ``timed-text`` extends ``streaming``)."""
    seen: list[str] = []
    base = data.pop("extends", None)
    while base is not None:
        if not isinstance(base, str) or ALIASES.get(base, base) not in builtin_profile_names():
            names = ", ".join(builtin_profile_names())
            raise ProfileError(f"profile {label}: extends must be one of {names}")
        name = ALIASES.get(base, base)
        if name in seen or len(seen) >= MAX_EXTENDS:
            raise ProfileError(f"profile {label}: extends loops ({' → '.join([*seen, name])})")
        seen.append(name)
        parent = _read_builtin(name)
        base = parent.pop("extends", None)
        data = _merged(parent, data)
    return data


def _merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``, merging tables key by key."""
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _merged(out[key], value)
        else:
            out[key] = value
    return out


def _tuples(value: Any) -> Any:
    """TOML arrays as tuples: the models are strict and immutable."""
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    return value


def _describe(error: ErrorDetails) -> str:
    loc = [str(part) for part in error["loc"] if part != "[key]"]
    key = ".".join(loc)
    phrase = _PHRASES.get(error["type"])
    if phrase is None:
        message = error["msg"].removeprefix("Value error, ")
        phrase = message[0].lower() + message[1:] if message else "is invalid"
        phrase = phrase.replace("input should be", "must be")
    return f"{key} {phrase}" if key else phrase

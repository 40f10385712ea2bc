"""Profiles from text, the organisation catalog, the plain-words description, and how a job's
profile reaches the worker (the wire format and the pipeline's choice)."""

from __future__ import annotations

import dataclasses
import functools
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from kickflow.config import Settings
from kickflow.errors import ProfileError, ProfileNotFound, RequestInvalid
from kickflow.jobs import Job
from kickflow.profiles import builtin_profile_names, catalog, load_profile, load_profile_text
from kickflow.profiles.model import GroupSpec, Profile, TrackSpec
from kickflow.worker import protocol as wire
from kickflow.worker.pipeline import profile_of
from tests.fakes import FakeJobStore

LOUD = 'extends = "web"\n[loudness]\ntarget_lufs = -9.0\n'


@pytest.fixture
def store() -> FakeJobStore:
    return FakeJobStore(Settings(data_dir=Path("/nonexistent")))


# --- load_profile_text --------------------------------------------------------------------------


def test_a_profile_from_text_follows_the_file_rules() -> None:
    profile = load_profile_text(LOUD, "house")
    assert profile.name == "house", "the stored name, whatever the text says"
    assert profile.loudness.target_lufs == -9.0
    assert profile == load_profile("web").model_copy(
        update={"name": "house", "loudness": profile.loudness}
    )
    streaming = resources.files("kickflow.profiles").joinpath("streaming.toml").read_text()
    copied = load_profile_text(streaming, "mine")  # a built-in file, copied to start from
    assert copied.name == "mine" and copied.video == load_profile("streaming").video


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (
            '[loudness]\ntarget_lufs = "x"\nmax_true_peak_dbtp = -1\n',
            "loudness.target_lufs must be a number",
        ),
        ("[loudness\n", "not valid TOML"),
        ('extends = "nope"\n', "extends must be one of"),
        ('extends = "web"\n[video]\nsample_fps = 0\n', "video.sample_fps"),
    ],
)
def test_a_bad_text_names_the_problem(text: str, said: str) -> None:
    with pytest.raises(ProfileError, match=said) as caught:
        load_profile_text(text, "house")
    assert caught.value.message.startswith("profile house: ")


# --- the catalog --------------------------------------------------------------------------------


def test_available_profiles_are_the_built_ins_then_the_organisations(
    store: FakeJobStore,
) -> None:
    org, other = store.ensure_org("a"), store.ensure_org("b")
    catalog.save_profile(store, org, "house", 'description = "ours"\n' + LOUD, "u1")
    catalog.save_profile(store, other, "theirs", LOUD, "u2")
    choices = catalog.available_profiles(store, org)
    assert [(c.name, c.custom) for c in choices] == [
        *((n, False) for n in builtin_profile_names()),
        ("house", True),
    ]
    assert choices[-1].description == "ours"
    assert all(c.description for c in choices if not c.custom)


def test_resolve_for_job(store: FakeJobStore) -> None:
    org, other = store.ensure_org("a"), store.ensure_org("b")
    catalog.save_profile(store, org, "house", LOUD, None)
    assert catalog.resolve_for_job(store, org, "default") == ("default", None)
    assert catalog.resolve_for_job(store, org, "web") == ("web", None)
    assert catalog.resolve_for_job(store, org, "house") == ("house", LOUD)
    with pytest.raises(ProfileNotFound, match="unknown profile 'house'"):
        catalog.resolve_for_job(store, other, "house")
    for never in ("/etc/passwd", "../ebu-r128.toml", "x" * 500):
        with pytest.raises(ProfileNotFound):
            catalog.resolve_for_job(store, org, never)


def test_a_stored_profile_that_no_longer_parses_is_refused_at_submit(
    store: FakeJobStore,
) -> None:
    org = store.ensure_org("a")
    store.save_org_profile(org, "old", "[loudness]\ntarget_lufs = 'x'\n", None)  # past the checks
    with pytest.raises(ProfileError, match=r"loudness\.target_lufs"):
        catalog.resolve_for_job(store, org, "old")
    assert next(c for c in catalog.available_profiles(store, org) if c.custom).description == ""


@pytest.mark.parametrize(
    ("name", "source", "error"),
    [
        ("web", LOUD, RequestInvalid),
        ("default", LOUD, RequestInvalid),
        ("Bad", LOUD, RequestInvalid),
        ("ok", " \n", RequestInvalid),
        ("ok", "#" * (catalog.MAX_SOURCE_BYTES + 1), RequestInvalid),
        ("ok", "é" * (catalog.MAX_SOURCE_BYTES // 2 + 1), RequestInvalid),  # bytes, not chars
        ("ok", "[loudness]\n", ProfileError),
    ],
)
def test_save_profile_refuses_and_stores_nothing(
    store: FakeJobStore, name: str, source: str, error: type[Exception]
) -> None:
    org = store.ensure_org("a")
    with pytest.raises(error):
        catalog.save_profile(store, org, name, source, None)
    assert store.org_profiles(org) == []


def test_the_largest_profile_is_accepted(store: FakeJobStore) -> None:
    org = store.ensure_org("a")
    source = LOUD + "#" * (catalog.MAX_SOURCE_BYTES - len(LOUD))
    assert catalog.save_profile(store, org, " big ", source, None).name == "big"


# --- describe -----------------------------------------------------------------------------------


@pytest.mark.parametrize("name", builtin_profile_names())
def test_describe_covers_every_built_in_profile(name: str) -> None:
    described = catalog.describe(load_profile(name))
    sections = {s for s, _ in described}
    assert {"Loudness", "Video", "Audio", "Container", "Black frames", "Findings"} <= sections
    for _, sentence in described:
        assert sentence[0].isupper() and sentence.endswith("."), sentence
        assert "None" not in sentence and "()" not in sentence, sentence


def changed(value: Any) -> Any:
    """Another value of the same kind, for the every-setting test."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, int | float):
        return value + 0.25 if isinstance(value, float) else value + 3
    if isinstance(value, str):
        return value + " (edited)"
    if isinstance(value, tuple):
        return (*value, value[0]) if value else ("x",)
    if value is None:
        return 7.5
    raise AssertionError(f"no changed value for {value!r}")


def every_setting(profile: Profile) -> list[tuple[str, str]]:
    """(section, key) of every setting the wording must mention; the keys of a table inside a
    section are dotted (``speech``, ``transcription.enabled``)."""
    out = []
    for section, spec in profile:
        if isinstance(spec, BaseModel):
            out += [(section, key) for key in _keys(spec) if key != "gating"]
    return out


def _keys(spec: BaseModel, prefix: str = "") -> list[str]:
    keys = []
    for key in type(spec).model_fields:
        value = getattr(spec, key)
        keys += _keys(value, f"{prefix}{key}.") if isinstance(value, BaseModel) else [prefix + key]
    return keys


def _replaced(spec: BaseModel, path: list[str], value: Any) -> BaseModel:
    """A copy of ``spec`` with the setting at the dotted ``path`` set to ``value``."""
    head, *rest = path
    inner = _replaced(getattr(spec, head), rest, value) if rest else value
    return spec.model_copy(update={head: inner})


@pytest.mark.parametrize(("section", "key"), every_setting(load_profile("ebu-r128")))
def test_every_setting_is_in_the_wording(section: str, key: str) -> None:
    base = load_profile("ebu-r128")
    spec = getattr(base, section)
    *parents, leaf = key.split(".")
    value = changed(getattr(functools.reduce(getattr, parents, spec), leaf))
    if key == "tracks":
        value = (TrackSpec(role="me"),)
    if key == "groups":
        value = (GroupSpec(name="M&E", tracks=(1, 2), layout="stereo"),)
    edited = _replaced(spec, key.split("."), value)
    other = base.model_copy(update={section: edited})
    assert catalog.describe(other) != catalog.describe(base), f"{section}.{key} is not described"


def test_severities_are_told_by_level() -> None:
    base = load_profile("ebu-r128")
    quiet = base.model_copy(update={"severity": {**base.severity, "audio.phase": "off"}})
    words = [s for sec, s in catalog.describe(quiet) if sec == "Findings"]
    assert words[0].startswith("Errors (the file fails): container.streams")
    assert words[-1] == "Not checked: audio.phase."
    assert "audio.phase" not in " ".join(words[:-1])


# --- the job carries its profile to the worker --------------------------------------------------


def queued(store: FakeJobStore, name: str, profile: str, source: str | None) -> Job:
    org = store.ensure_org("a")
    ref = f"/m/{name}.mov"
    return store.enqueue(org, "path", ref, file_name=name, profile=profile, profile_source=source)


def test_the_wire_format_carries_the_profile_source(store: FakeJobStore) -> None:
    job = queued(store, "a", "house", LOUD)
    back = wire.job_from_wire(wire.job_to_wire(job))
    assert back == dataclasses.replace(job, report=None)
    assert back.profile_source == LOUD
    old_service = {k: v for k, v in wire.job_to_wire(job).items() if k != "profile_source"}
    assert wire.job_from_wire(old_service).profile_source is None


def test_the_worker_judges_by_the_snapshot_not_the_name(store: FakeJobStore) -> None:
    custom = queued(store, "a", "web", LOUD)
    assert profile_of(custom).loudness.target_lufs == -9.0, "the text, even named like a built-in"
    plain = queued(store, "b", "web", None)
    assert profile_of(plain) == load_profile("web")

"""delivery.file_name: the pattern language, its validation at profile load, the check, and the
parsed parts in the report and the API's job view."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kickflow.checks import run_check
from kickflow.errors import ProfileError
from kickflow.profiles import load_profile, load_profile_text
from kickflow.profiles.file_names import OLD_SYSTEM_RULE, PatternInvalid, compile_pattern
from kickflow.report import Report, build_report
from tests.fakes.api import api_rig
from tests.unit.test_checks import clean

OLD = compile_pattern(OLD_SYSTEM_RULE)
CUSTOM = """
name = "house"
[loudness]
target_lufs = -23
max_true_peak_dbtp = -1
[delivery]
file_name = {pattern!r}
"""


@pytest.mark.parametrize(
    ("name", "parts"),
    [
        ("ABC-EP012-fr-final_mix.mov", ("ABC", 12, "fr", "final_mix", "mov")),
        ("ABC-EP012-fr-final-mix.v2.mxf", ("ABC", 12, "fr", "final-mix.v2", "mxf")),
        ("SHOW7-EP001-en_GB-M and E.wav", ("SHOW7", 1, "en_GB", "M and E", "wav")),
    ],
)
def test_the_old_rule_parses_its_parts(name: str, parts: tuple[Any, ...]) -> None:
    keys = ("code", "episode", "lang", "desc", "ext")
    assert OLD.parse(name) == dict(zip(keys, parts, strict=True))


@pytest.mark.parametrize(
    "name",
    [
        "abc-EP012-fr-final.mov",  # code in lower case
        "ABC-EP12-fr-final.mov",  # episode of 2 digits
        "ABC-EP0123-fr-final.mov",  # of 4
        "ABC-EP012-fr.mov",  # no description
        "ABC-EP012-fr-final",  # no extension
        "ABC_EP012-fr-final.mov",  # another separator
        "ABC-EP012-f-r-final.mov.",  # an empty extension
    ],
)
def test_the_old_rule_refuses_other_names(name: str) -> None:
    assert OLD.parse(name) is None


def test_kinds_literals_and_braces() -> None:
    pattern = compile_pattern("{{{show}}}_s{season:d}e{ep:2d}.v{version:d}.{ext}")
    assert pattern.parse("{X1}_s3e07.v12.mp4") == {
        "show": "X1", "season": 3, "ep": 7, "version": 12, "ext": "mp4",
    }  # fmt: skip
    assert pattern.parse("{X1}_s3e7.v12.mp4") is None
    dotted = compile_pattern("a.b")  # literal text is literal: "." is no wildcard
    assert dotted.parse("a.b") == {} and dotted.parse("aXb") is None


@pytest.mark.parametrize(
    ("pattern", "why"),
    [
        ("{code", "unmatched '{'"),
        ("code}.mov", "unmatched '}'"),
        ("{}.mov", "not a word"),
        ("{1st}.mov", "not a word"),
        ("{a}-{a}.mov", "twice"),
        ("{a:hex}.mov", "unknown kind 'hex'"),
        ("{a:0d}.mov", "unknown kind '0d'"),
        ("", "empty"),
    ],
)
def test_invalid_patterns_say_why(pattern: str, why: str) -> None:
    with pytest.raises(PatternInvalid, match=why):
        compile_pattern(pattern)


def test_an_invalid_pattern_fails_the_profile_naming_the_key() -> None:
    with pytest.raises(ProfileError, match=r"delivery\.file_name .*unknown kind 'hex'"):
        load_profile_text(CUSTOM.format(pattern="{code:hex}.mov"), "house")


def test_a_profile_may_set_its_own_pattern() -> None:
    profile = load_profile_text(CUSTOM.format(pattern="{code}_{lang}.{ext}"), "house")
    assert profile.delivery.file_name == "{code}_{lang}.{ext}"


def test_off_by_default_and_on_in_the_named_delivery_profile() -> None:
    assert load_profile("ebu-r128").delivery.file_name is None
    assert load_profile("named-delivery").delivery.file_name == OLD_SYSTEM_RULE


def test_the_check_passes_or_warns() -> None:
    named = load_profile("named-delivery")
    good = run_check("delivery.file_name", clean(), named, "ABC-EP012-fr-final.mov")
    assert good.status == "passed" and "episode 12" in good.summary
    bad = run_check("delivery.file_name", clean(), named, "episode twelve.mov")
    assert bad.status == "warning"
    assert [f.message for f in bad.findings] == [
        f"File name 'episode twelve.mov' does not follow {OLD_SYSTEM_RULE!r}"
    ]
    assert bad.findings[0].start_s is None  # a whole-file finding
    default = run_check("delivery.file_name", clean(), load_profile("ebu-r128"), "x.mov")
    assert default.status == "passed" and "no [delivery] file_name" in default.summary


def test_the_check_reads_the_probed_name_without_a_delivered_one() -> None:
    named = load_profile("named-delivery")
    assert run_check("delivery.file_name", clean(), named).status == "warning"  # clean.mp4


def test_the_report_carries_the_parts_and_keeps_them_round_trip() -> None:
    report = build_report(
        clean(),
        load_profile("named-delivery"),
        input_name="uploads/ABC-EP012-fr-final.mov",
        size_bytes=1000,
    )
    data = report.to_dict()
    assert data["delivery"] == {
        "file_name": "ABC-EP012-fr-final.mov",
        "file_name_pattern": OLD_SYSTEM_RULE,
        "file_name_parts": {
            "code": "ABC", "episode": 12, "lang": "fr", "desc": "final", "ext": "mov",
        },
    }  # fmt: skip
    assert Report.from_dict(data).to_dict()["delivery"] == data["delivery"]
    assert "delivery.file_name" in {c["id"] for c in data["checks"]}


def test_a_report_without_a_convention_has_no_parts() -> None:
    report = build_report(clean(), load_profile("ebu-r128"), input_name="x.mov", size_bytes=1)
    assert report.to_dict()["delivery"]["file_name_parts"] is None


def test_the_api_job_view_shows_the_parts(tmp_path: Path) -> None:
    parts = {"code": "ABC", "episode": 12, "lang": "fr", "desc": "final", "ext": "mov"}
    with api_rig(tmp_path) as rig:
        job = rig.add("ABC-EP012-fr-final.mov")
        before = rig.get(f"/api/qc/jobs/{job.id}", role="viewer")
        assert before.status_code == 200, before.text
        assert before.json()["fileNameParts"] is None
        rig.store.edit(job.id, report={"verdict": "passed", "delivery": {"file_name_parts": parts}})
        after = rig.get(f"/api/qc/jobs/{job.id}", role="viewer").json()
        assert after["fileNameParts"] == parts

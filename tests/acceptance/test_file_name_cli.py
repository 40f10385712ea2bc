"""``kickflow check`` with a file-name convention: the parts in the JSON report, a misnamed file
as a finding, an invalid pattern as exit 2 naming the key."""

from __future__ import annotations

import json
from pathlib import Path

from kickflow.profiles.file_names import OLD_SYSTEM_RULE
from tests.acceptance.cli_helpers import kickflow
from tests.acceptance.test_check_cli import CLIP_SPEC  # what the clean clip passes


def _renamed(clip: Path, tmp_path: Path, name: str) -> tuple[Path, str]:
    """A link named ``name`` to ``clip``, and a profile the clip passes, with the old rule."""
    target, spec = tmp_path / name, tmp_path / "named-spec.toml"
    target.symlink_to(clip)
    spec.write_text(CLIP_SPEC + f"[delivery]\nfile_name = {OLD_SYSTEM_RULE!r}\n")
    return target, str(spec)


def test_the_parts_of_a_well_named_file_are_in_the_report(clean_clip: Path, tmp_path: Path) -> None:
    named, spec = _renamed(clean_clip, tmp_path, "KF1-EP042-de-final_mix.mp4")
    done = kickflow("check", str(named), "--profile", spec, "--json", "-")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["verdict"] == "passed", report["findings"]
    assert report["delivery"]["file_name_parts"] == {
        "code": "KF1", "episode": 42, "lang": "de", "desc": "final_mix", "ext": "mp4",
    }  # fmt: skip
    assert not [f for f in report["findings"] if f["check"] == "delivery.file_name"]


def test_a_misnamed_file_is_a_finding(clean_clip: Path, tmp_path: Path) -> None:
    named, spec = _renamed(clean_clip, tmp_path, "final mix episode 42.mp4")
    done = kickflow("check", str(named), "--profile", spec, "--json", "-")
    assert done.returncode == 0, done.stderr  # a warning: needs_review, not failed
    report = json.loads(done.stdout)
    assert report["verdict"] == "needs_review"
    assert report["delivery"]["file_name_parts"] is None
    (finding,) = [f for f in report["findings"] if f["check"] == "delivery.file_name"]
    assert "'final mix episode 42.mp4' does not follow" in finding["message"]


def test_an_invalid_pattern_is_exit_2_naming_the_key(tmp_path: Path) -> None:
    spec = tmp_path / "house.toml"
    spec.write_text('extends = "ebu-r128"\n[delivery]\nfile_name = "{code:hex}-{ep}.mov"\n')
    done = kickflow("check", str(tmp_path / "any.mov"), "--profile", str(spec))
    assert done.returncode == 2, done.stderr
    assert "delivery.file_name" in done.stderr and "unknown kind 'hex'" in done.stderr
    assert "Traceback" not in done.stderr

"""Settings from ``KICKFLOW_*`` variables: names in any case, values given in code win, and a
bad value is one sentence naming the variable (CLI: exit 2, no traceback)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from kickflow.config import Settings, environment_values, load_settings
from kickflow.errors import SettingsInvalid


def test_variables_set_the_fields(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KICKFLOW_MAX_ATTEMPTS", "7")
    monkeypatch.setenv("KICKFLOW_DATA_DIR", "/srv/kickflow")
    monkeypatch.setenv("KICKFLOW_FFMPEG_STALL_SECONDS", "12.5")
    settings = load_settings()
    assert settings.max_attempts == 7
    assert settings.data_dir == Path("/srv/kickflow")
    assert settings.ffmpeg_stall_seconds == 12.5


def test_names_match_in_any_case_and_unknown_ones_are_ignored() -> None:
    environ = {"kickflow_max_attempts": "4", "KICKFLOW_NO_SUCH_SETTING": "x", "MAX_ATTEMPTS": "9"}
    assert environment_values(Settings.model_fields, environ) == {"max_attempts": "4"}


def test_values_given_in_code_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KICKFLOW_MAX_ATTEMPTS", "7")
    assert Settings(max_attempts=2).max_attempts == 2
    assert Settings().max_attempts == 7


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("KICKFLOW_MAX_ATTEMPTS", "three", "valid integer"),
        ("KICKFLOW_MAX_ATTEMPTS", "0", "greater than or equal to 1"),
        ("KICKFLOW_LEASE_SECONDS", "-5", "greater than 0"),
        ("KICKFLOW_WEBHOOKS_ENABLED", "maybe", "valid boolean"),
    ],
)
def test_a_bad_value_names_its_variable(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, words: str
) -> None:
    if name.lower().removeprefix("kickflow_") not in Settings.model_fields:
        pytest.fail(f"{name} is not a setting: the test names a field that does not exist")
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsInvalid) as caught:
        load_settings()
    assert caught.value.message.startswith(f"{name} is not valid (")
    assert words in caught.value.message


def test_the_cli_says_one_sentence_for_a_bad_setting(tmp_path: Path) -> None:
    env = {**os.environ, "KICKFLOW_MAX_ATTEMPTS": "three", "KICKFLOW_DATA_DIR": str(tmp_path)}
    done = subprocess.run(
        [sys.executable, "-m", "kickflow", "jobs", "list"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        "kickflow: KICKFLOW_MAX_ATTEMPTS is not valid (input should be a valid integer, "
        "unable to parse string as an integer); fix it or unset it."
    ]

"""The Prometheus alert rules load, their unit tests pass, and each names a real runbook."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy" / "prometheus" / "alerts.yml"
RULE_TESTS = sorted((ROOT / "deploy" / "prometheus" / "tests").glob("*.yml"))
REQUIRED = {
    "QCJobStuck",
    "QCQueueBackedUp",
    "QCFailureRateHigh",
    "QCNoLiveWorkers",
    "QCReaperNotRunning",
    "QCDeadLetterGrowing",
}


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool missing: run scripts/test-deps.sh (Debian package prometheus)")
        pytest.skip("promtool missing: run scripts/test-deps.sh")
    return path


def _rules() -> list[dict[str, object]]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def test_promtool_check_rules() -> None:
    out = subprocess.run(
        [_promtool(), "check", "rules", str(RULES)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_promtool_check_scrape_config() -> None:
    scrape = ROOT / "deploy" / "prometheus" / "scrape.yml"
    out = subprocess.run(
        [_promtool(), "check", "config", str(scrape)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_promtool_alert_unit_tests_pass() -> None:
    assert RULE_TESTS, "no alert unit tests in deploy/prometheus/tests"
    out = subprocess.run(
        [_promtool(), "test", "rules", *map(str, RULE_TESTS)],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stdout + out.stderr


def test_required_alerts_exist() -> None:
    assert {str(rule["alert"]) for rule in _rules()} >= REQUIRED


def test_qc_job_stuck_is_critical_and_named_after_the_runbook() -> None:
    rule = next(r for r in _rules() if r["alert"] == "QCJobStuck")
    labels = rule["labels"]
    assert isinstance(labels, dict)
    assert labels["severity"] == "critical"
    assert labels["runbook_alert"] == "qc_job_stuck"


@pytest.mark.parametrize("rule", _rules(), ids=lambda r: str(r["alert"]))
def test_every_alert_links_an_existing_runbook(rule: dict[str, object]) -> None:
    annotations = rule["annotations"]
    assert isinstance(annotations, dict)
    url = str(annotations["runbook_url"])
    assert url.startswith("docs/runbooks/") and url.endswith(".md")
    runbook = ROOT / url
    assert runbook.is_file(), f"{rule['alert']}: {url} does not exist"
    assert str(rule["alert"]) in runbook.read_text(), f"{url} does not mention {rule['alert']}"


def test_every_alert_has_a_firing_unit_test() -> None:
    tested: set[str] = set()
    for path in RULE_TESTS:
        for case in yaml.safe_load(path.read_text())["tests"]:
            for check in case.get("alert_rule_test", []):
                if check.get("exp_alerts"):
                    tested.add(check["alertname"])
    assert {str(r["alert"]) for r in _rules()} <= tested

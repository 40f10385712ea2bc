"""The alert rules only use metrics that kickflow.metrics exports."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from kickflow.metrics import (
    ATTEMPT_BUCKETS,
    DURATION_BUCKETS,
    Histogram,
    Snapshot,
    render,
)

RULES = Path(__file__).resolve().parents[2] / "deploy" / "prometheus" / "alerts.yml"


def _snapshot() -> Snapshot:
    return Snapshot(
        jobs_by_state={"queued": 3, "running": 1},
        stuck=1,
        queue_oldest_age_seconds=12.5,
        workers_alive=2,
        reaper_last_run=1_764_300_000.25,
        finished_by_state={"completed": 4, "failed": 1},
        recoveries_by_reason={"lease_expired": 1},
        ffmpeg_kills_by_reason={"ffmpeg_stalled": 1},
        fenced_writes=2,
        job_duration=Histogram.of([3.0, 70.0], DURATION_BUCKETS),
        phase_durations={"analyzing": Histogram.of([2.0], DURATION_BUCKETS)},
        attempts=Histogram.of([1.0, 2.0], ATTEMPT_BUCKETS),
    )


def _samples(text: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            key, value = line.rsplit(" ", 1)
            out[key] = float(value)
    return out


def test_every_metric_in_the_alert_rules_is_exported() -> None:
    exprs = [r["expr"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]]
    used = {name for expr in exprs for name in re.findall(r"\bkickflow_[a-z_]+", expr)}
    exported = {key.split("{")[0] for key in _samples(render(_snapshot()).decode())}
    assert used, "no kickflow metrics in the alert rules?"
    assert used <= exported, f"not exported: {sorted(used - exported)}"


def test_values_are_rendered_by_label() -> None:
    samples = _samples(render(_snapshot()).decode())
    assert samples['kickflow_jobs{state="queued"}'] == 3
    assert samples['kickflow_jobs{state="paused"}'] == 0
    assert samples["kickflow_jobs_stuck"] == 1
    assert samples['kickflow_jobs_finished_total{state="cancelled"}'] == 0
    assert samples['kickflow_recoveries_total{reason="lease_expired"}'] == 1
    assert samples["kickflow_fenced_writes_total"] == 2
    assert samples["kickflow_reaper_last_run_timestamp_seconds"] == 1_764_300_000.25


def test_histograms_are_cumulative_with_inf_bucket() -> None:
    samples = _samples(render(_snapshot()).decode())
    assert samples['kickflow_job_duration_seconds_bucket{le="5"}'] == 1
    assert samples['kickflow_job_duration_seconds_bucket{le="120"}'] == 2
    assert samples['kickflow_job_duration_seconds_bucket{le="+Inf"}'] == 2
    assert samples["kickflow_job_duration_seconds_sum"] == 73
    assert samples['kickflow_phase_duration_seconds_count{phase="analyzing"}'] == 1
    assert samples["kickflow_job_attempts_sum"] == 3

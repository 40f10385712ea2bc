"""The Operations page's pure parts: the hourly window and bucketing, the charts' geometry,
relative times, and the runbooks (alerts found, markdown rendered without raw HTML)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from kickflow.jobs import HourlyOutcomes
from kickflow.jobs.throughput import HOUR, MAX_HOURS, bucketed, window
from kickflow.web import charts, runbooks
from kickflow.web.pages.ops import ago

ROOT = Path(__file__).resolve().parents[2]
NOW = 1_700_000_000.0 + 1234.5  # 22:33:54.5 UTC


# --- the window and its buckets -----------------------------------------------------------------


def test_the_window_is_clock_hours_ending_with_the_current_one() -> None:
    starts = window(NOW, 24)
    assert len(starts) == 24 and all(s % HOUR == 0 for s in starts)
    assert starts[-1] <= NOW < starts[-1] + HOUR
    assert starts[0] == starts[-1] - 23 * HOUR
    assert len(window(NOW, 0)) == 1 and len(window(NOW, 10**6)) == MAX_HOURS


def test_counts_land_in_their_hour_and_nothing_outside_counts() -> None:
    starts = window(NOW, 3)
    rows = [("completed", 0, 2), ("failed", 2, 1), ("cancelled", 2, 4), ("failed", 3, 9)]
    rows += [("queued", 1, 5), ("completed", -1, 7), ("completed", 0, 1)]
    assert bucketed(starts, rows) == [
        HourlyOutcomes(starts[0], completed=3),
        HourlyOutcomes(starts[1]),
        HourlyOutcomes(starts[2], failed=1, cancelled=4),
    ]


def test_the_failure_rate_leaves_cancelled_jobs_out() -> None:
    assert HourlyOutcomes(0, completed=3, failed=1, cancelled=6).failure_rate == 0.25
    assert HourlyOutcomes(0, cancelled=2).failure_rate is None
    assert HourlyOutcomes(0, completed=1, failed=1, cancelled=1).finished == 3


# --- charts -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "top"), [(0, 1), (1, 1), (3, 5), (7, 10), (11, 20), (49, 50), (101, 200)]
)
def test_the_axis_top_is_round(value: float, top: float) -> None:
    assert charts.nice_ceiling(value) == top


@pytest.mark.parametrize(
    ("largest", "axis"),
    [(0, (1, 1)), (1, (1, 1)), (4, (4, 1)), (5, (6, 2)), (9, (10, 5)), (41, (60, 20))],
)
def test_a_count_axis_has_whole_ticks(largest: int, axis: tuple[int, int]) -> None:
    assert charts.count_axis(largest) == axis


def hours(*counts: tuple[int, int, int]) -> list[HourlyOutcomes]:
    starts = window(NOW, len(counts))
    return [HourlyOutcomes(s, c, f, x) for s, (c, f, x) in zip(starts, counts, strict=True)]


def test_throughput_bars_stack_by_outcome_within_the_plot() -> None:
    chart = charts.throughput_chart(hours((4, 1, 0), (0, 0, 0), (2, 2, 1)))
    assert [b.css for b in chart.bars] == [
        "bar-completed", "bar-failed", "bar-completed", "bar-failed", "bar-cancelled",
    ]  # fmt: skip
    plot = chart.bottom - chart.top
    first = chart.bars[:2]
    assert first[0].y + first[0].height == chart.bottom, "stacked from the axis up"
    assert first[1].y + first[1].height == pytest.approx(first[0].y)
    assert sum(b.height for b in first) == pytest.approx(plot * 5 / 6), "5 of an axis to 6"
    assert [t.label for t in chart.y_ticks] == ["0", "2", "4", "6"]
    assert all(chart.left <= b.x and b.x + b.width <= chart.right for b in chart.bars)
    assert chart.summary == "10 jobs finished in the last 3 hours, 3 of them failed."
    assert chart.bars[1].title.endswith(": 1 failed")


def test_the_x_axis_labels_about_eight_hours_ending_with_now() -> None:
    chart = charts.throughput_chart(hours(*[(1, 0, 0)] * 24))
    labels = [t.label for t in chart.x_ticks]
    assert 6 <= len(labels) <= 12
    assert labels[-1] == "22:00" and all(re.fullmatch(r"\d\d:00", x) for x in labels)


def test_the_failure_rate_line_breaks_where_no_job_ended() -> None:
    chart = charts.failure_rate_chart(hours((1, 1, 0), (3, 1, 0), (0, 0, 2), (0, 2, 0)))
    assert chart.line.count("M") == 2 and chart.line.count("L") == 1
    ys = [d.y for d in chart.dots]
    assert ys[2] == chart.top, "100 % is the top of the plot"
    assert ys[1] > ys[0], "25 % is lower than 50 %"
    assert [t.label for t in chart.y_ticks] == ["0 %", "25 %", "50 %", "75 %", "100 %"]
    assert chart.summary == "50% of the 8 jobs that ran to an end failed."
    assert charts.failure_rate_chart(hours((0, 0, 0))).line == ""


def test_ago() -> None:
    assert ago(100.0, None) == "never"
    assert ago(100.0, 100.4) == "0 s ago", "a clock a little ahead is not the future"
    assert ago(100.0, 40.0) == "1 min ago"
    assert ago(10_000.0, 10_000.0 - 7300) == "2 h ago"
    assert ago(10**6, 10**6 - 3 * 86400) == "3 d ago"


# --- runbooks -----------------------------------------------------------------------------------


def test_every_alert_has_its_runbook_found() -> None:
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    expected = {
        r["alert"]: Path(r["annotations"]["runbook_url"]).stem
        for group in rules["groups"]
        for r in group["rules"]
    }
    found = {a.name: a.runbook for a in runbooks.alerts()}
    assert found == expected
    severities = {r["alert"]: r["labels"]["severity"] for g in rules["groups"] for r in g["rules"]}
    assert {a.name: a.severity for a in runbooks.alerts()} == severities
    assert runbooks.alerts()[0].severity == "critical", "critical ones first"


def test_a_runbook_renders_with_anchors_and_its_links_kept_inside() -> None:
    text = runbooks.source("qc-stuck-jobs")
    assert text is not None
    page = runbooks.html(text)
    assert '<h2 id="resolution">' in page and 'href="#resolution"' in page
    assert "<table>" in page and "<pre><code" in page


def test_markdown_cannot_inject_markup() -> None:
    page = runbooks.html(
        "# T\n\n<script>alert(1)</script>\n\n"
        "[x](javascript:alert(1)) [y](qc-no-live-workers.md#fix)"
    )
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert 'href="javascript:' not in page
    assert 'href="/ops/runbooks/qc-no-live-workers#fix"' in page


@pytest.mark.parametrize("name", ["../pyproject", "README", "qc-stuck-jobs.md", "", "X"])
def test_only_runbook_names_are_read(name: str) -> None:
    assert runbooks.source(name) is None


def test_the_runbooks_are_read_from_the_checkout_here() -> None:
    found = runbooks.directory()
    assert found is not None and Path(str(found)) == ROOT / "docs" / "runbooks"
    assert runbooks.source("qc-stuck-jobs") == (ROOT / "docs/runbooks/qc-stuck-jobs.md").read_text()

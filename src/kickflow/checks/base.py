"""What checks produce: findings, per-check results, and the small helpers every check uses."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from kickflow.media.model import Measurements, Segment
from kickflow.profiles import Profile

FindingSeverity = Literal["info", "warning", "error"]
CheckStatus = Literal["passed", "warning", "failed", "skipped"]


@dataclass(frozen=True)
class Finding:
    """One problem: which check saw it, how bad it is, where (None = the whole file) and what."""

    check: str
    severity: FindingSeverity
    start_s: float | None
    end_s: float | None
    message: str


@dataclass(frozen=True)
class CheckResult:
    id: str
    status: CheckStatus
    summary: str
    findings: list[Finding]


@dataclass(frozen=True)
class Outcome:
    """What a check function returns: findings, or the sentence that says why there are none."""

    findings: tuple[Finding, ...] = ()
    ok: str = ""
    skipped: str | None = None


@dataclass(frozen=True)
class Context:
    """Everything a check needs: the measurements, the profile and its own id and severity."""

    m: Measurements
    profile: Profile
    check: str
    severity: FindingSeverity
    input_name: str = ""  # the file's name as delivered (uploads: not the stored copy's)

    def finding(
        self,
        message: str,
        start_s: float | None = None,
        end_s: float | None = None,
        severity: FindingSeverity | None = None,
    ) -> Finding:
        """A finding of this check, at the check's severity unless told otherwise."""
        return Finding(self.check, severity or self.severity, start_s, end_s, message)

    def at(self, segment: Segment, message: str) -> Finding:
        return self.finding(message, segment.start_s, segment.end_s)

    @property
    def duration_s(self) -> float | None:
        """The programme's duration: the container's, else what the analysis covered."""
        if self.m.media.duration_s:
            return self.m.media.duration_s
        covered = [a.analysed_duration_s for a in (self.m.audio, self.m.video) if a is not None]
        return max(covered, default=0.0) or None


CheckFn = Callable[[Context], Outcome]


def skip(reason: str) -> Outcome:
    return Outcome(skipped=reason)


def result(findings: Iterable[Finding], ok: str) -> Outcome:
    """Findings when there are any; ``ok`` becomes the summary when there are none."""
    return Outcome(findings=tuple(findings), ok=ok)


def capped(ctx: Context, findings: Sequence[Finding], limit: int, noun: str) -> list[Finding]:
    """At most ``limit`` findings, plus one whole-file finding counting the rest."""
    if len(findings) <= limit:
        return list(findings)
    rest = len(findings) - limit
    return [*findings[:limit], ctx.finding(f"{rest} more {noun} not listed")]


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def seconds(value: float) -> str:
    """A duration or time for messages: ``2.5 s``."""
    return f"{value:.1f} s" if value < 100 else f"{value:.0f} s"


def span(segment: Segment) -> str:
    return f"{seconds(segment.duration_s)} from {segment.start_s:.2f} s"


def listed(values: Sequence[object]) -> str:
    return ", ".join(str(v) for v in values)


def status_of(findings: Sequence[Finding]) -> CheckStatus:
    severities = {f.severity for f in findings}
    if "error" in severities:
        return "failed"
    return "warning" if "warning" in severities else "passed"


def summary_of(outcome: Outcome) -> str:
    """One sentence: the pass sentence, the only finding, or a count and the first finding."""
    found = outcome.findings
    if not found:
        return outcome.ok
    if len(found) == 1:
        return found[0].message
    return f"{len(found)} findings; first: {found[0].message}"

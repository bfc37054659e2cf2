"""The gate: which findings fail `--fail-on`.

It reads only a report's findings and baselined fingerprints, through the small `Gated`
protocol, so triage needs nothing from `pipeline.report` (which imports triage).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import Protocol

from claudebuild.errors import ClaudebuildError
from claudebuild.model import SEVERITIES, Finding


class Gated(Protocol):
    """What the gate reads of a report."""

    @property
    def findings(self) -> Sequence[Finding]: ...

    @property
    def baselined(self) -> Collection[str]: ...


def gate_failures(report: Gated, fail_on: str, by_check: Mapping[str, str] | None = None) -> list[Finding]:
    """The findings that fail `--fail-on`: at or above it, verified, not in the baseline.

    A named check's own `fail_on` (`by_check`) takes the place of `fail_on` for that check's
    findings, so a team can gate on security findings alone. Unverified findings never fail:
    their evidence is not in the file, so blocking a merge on them would block on what may be
    a hallucination. "" or "none" turns the gate off.
    """
    default = _threshold(fail_on)
    thresholds = {check: _threshold(level) for check, level in (by_check or {}).items()}
    failures = []
    for finding in report.findings:
        threshold = thresholds.get(finding.check, default)
        if (threshold is not None and SEVERITIES.index(finding.severity) <= threshold and finding.verified
                and finding.fingerprint not in report.baselined):
            failures.append(finding)
    return failures


def _threshold(fail_on: str) -> int | None:
    """The gate's severity index for a `fail_on` value; None when the gate is off."""
    if fail_on in ("", "none"):
        return None
    if fail_on not in SEVERITIES:
        raise ClaudebuildError(f"--fail-on must be one of {', '.join(SEVERITIES)} or none, got {fail_on!r}")
    return SEVERITIES.index(fail_on)

"""The gate: which findings fail `--fail-on`.

It reads only a report's findings and baselined fingerprints, through the small `Gated`
protocol, so triage needs nothing from `pipeline.report` (which imports triage).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Protocol

from claudebuild.errors import ClaudebuildError
from claudebuild.model import SEVERITIES, Finding


class Gated(Protocol):
    """What the gate reads of a report."""

    @property
    def findings(self) -> Sequence[Finding]: ...

    @property
    def baselined(self) -> Collection[str]: ...


def gate_failures(report: Gated, fail_on: str) -> list[Finding]:
    """The findings that fail `--fail-on`: at or above it, verified, not in the baseline.

    Unverified findings never fail: their evidence is not in the file, so blocking a merge
    on them would block on what may be a hallucination. "" or "none" turns the gate off.
    """
    if fail_on in ("", "none"):
        return []
    if fail_on not in SEVERITIES:
        raise ClaudebuildError(f"--fail-on must be one of {', '.join(SEVERITIES)} or none, got {fail_on!r}")
    threshold = SEVERITIES.index(fail_on)
    return [
        finding for finding in report.findings
        if SEVERITIES.index(finding.severity) <= threshold and finding.verified
        and finding.fingerprint not in report.baselined
    ]

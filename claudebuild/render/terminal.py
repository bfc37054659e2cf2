"""The short summary printed after a run."""

from __future__ import annotations

import re

from claudebuild.model import SEVERITIES
from claudebuild.report import Report
from claudebuild.triage import gate_failures

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def plain(text: str) -> str:
    """Model text on one terminal line: control characters (escape sequences included) shown as `?`."""
    return _CONTROL.sub("?", " ".join(text.split()))


def triage_lines(report: Report, fail_on: str = "") -> list[str]:
    """New / fixed since the last report, unverified, baselined and suppressed counts, and the gate's verdict."""
    lines = []
    if report.compared:
        counts = report.by_status()
        lines.append(f"  since the last report: {counts['new']} new, {counts['persisting']} persisting, "
                     f"{len(report.fixed)} fixed")
    if report.unverified:
        lines.append(f"  unverified: {report.unverified} (quoted code not in the file; never fail the gate)")
    if report.baselined:
        lines.append(f"  baselined: {len(report.baselined)} (known; never fail the gate)")
    suppressed = report.suppressed
    if sum(suppressed.values()):
        missing = report.suppressed_without_reason
        lines.append(f"  suppressed: {sum(suppressed.values())} ({suppressed['inline']} inline, {suppressed['file']} by file"
                     + (f"; {missing} without a reason" if missing else "") + ")")
    if fail_on not in ("", "none"):
        failures = gate_failures(report, fail_on)
        verdict = f"FAILED by {len(failures)} findings" if failures else "passed"
        lines.append(f"  gate --fail-on {fail_on}: {verdict}")
        for finding in failures[:10]:
            lines.append(f"    {plain(finding.file)}:{finding.line}: {finding.severity}: {plain(finding.title)} "
                         f"[{plain(finding.category)}]")
        if len(failures) > 10:
            lines.append(f"    ... and {len(failures) - 10} more (see the report)")
    return lines


def render(report: Report, *, paths: tuple[str, ...] = (), fail_on: str = "") -> str:
    totals = report.totals()
    counts = ", ".join(f"{totals[s]} {s}" for s in SEVERITIES if totals[s]) or "none"
    lines = [
        f"claudebuild: {len(report.findings)} findings ({counts})",
        f"  chunks: {report.chunks_total} total, {report.fresh} analyzed, {report.cached} cached, "
        f"{len(report.failed)} failed, {len(report.pending)} not analyzed",
        f"  cost: ${report.cost_this_run:.4f} this run, ${report.cost_saved:.4f} saved by cache",
    ]
    lines += triage_lines(report, fail_on)
    skipped = sum(report.skipped_files.values())
    if skipped:
        detail = ", ".join(f"{count} {reason}" for reason, count in report.skipped_files.items())
        lines.append(f"  skipped files: {skipped} ({detail})")
    if report.rejected:
        lines.append(f"  rejected findings: {sum(report.rejected.values())}")
    for failed in report.failed[:10]:
        lines.append(f"  FAILED {failed.chunk}: {failed.kind}: {failed.message[:200]}")
    if len(report.failed) > 10:
        lines.append(f"  ... and {len(report.failed) - 10} more failed chunks (see the report)")
    if paths:
        lines.append("  report: " + ", ".join(paths))
    return "\n".join(lines)

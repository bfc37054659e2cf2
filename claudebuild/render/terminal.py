"""The short summary printed after a run."""

from __future__ import annotations

from claudebuild.model import SEVERITIES
from claudebuild.report import Report


def render(report: Report, *, paths: tuple[str, ...] = ()) -> str:
    totals = report.totals()
    counts = ", ".join(f"{totals[s]} {s}" for s in SEVERITIES if totals[s]) or "none"
    lines = [
        f"claudebuild: {len(report.findings)} findings ({counts})",
        f"  chunks: {report.chunks_total} total, {report.fresh} analyzed, {report.cached} cached, "
        f"{len(report.failed)} failed, {len(report.pending)} not analyzed",
        f"  cost: ${report.cost_this_run:.4f} this run, ${report.cost_saved:.4f} saved by cache",
    ]
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

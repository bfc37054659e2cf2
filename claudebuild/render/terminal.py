"""The short summary printed after a run.

Paths, titles, categories and chunk errors in it come from the model, the CLI or the
repository: each goes through `untrusted_text.terminal_text` (one line, no escape
sequence, no workflow command), since this summary lands in terminals and CI logs.
"""

from __future__ import annotations

from collections.abc import Mapping

from claudebuild.model import SEVERITIES
from claudebuild.pipeline.report import Report
from claudebuild.pipeline.triage.gate import gate_failures
from claudebuild.render.triage_summary import triage_clauses
from claudebuild.untrusted_text import terminal_text


def triage_lines(report: Report, fail_on: str = "", by_check: Mapping[str, str] | None = None) -> list[str]:
    """New / fixed since the last report, unverified, baselined and suppressed counts, and the gate's verdict."""
    lines = [f"  {clause}" for clause in triage_clauses(report)]
    lines += _ignored_suppression_lines(report)
    if fail_on not in ("", "none") or by_check:
        failures = gate_failures(report, fail_on, by_check)
        verdict = f"FAILED by {len(failures)} findings" if failures else "passed"
        own = "".join(f", {terminal_text(check)}: {level}" for check, level in (by_check or {}).items())
        lines.append(f"  gate --fail-on {fail_on or 'none'}{own}: {verdict}")
        for finding in failures[:10]:
            lines.append(f"    {terminal_text(finding.file)}:{finding.line}: {finding.severity}: {terminal_text(finding.title)} "
                         f"[{terminal_text(finding.rule_id)}]")
        if len(failures) > 10:
            lines.append(f"    ... and {len(failures) - 10} more (see the report)")
    return lines


def _ignored_suppression_lines(report: Report) -> list[str]:
    """Which findings were kept because their inline suppression is not trusted (`triage_clauses` counts them)."""
    ignored = [finding for finding in report.findings if finding.suppression_ignored]
    if not ignored:
        return []
    lines = [f"    {terminal_text(f.file)}:{f.line}: {f.severity}: {f.suppression_ignored} [{terminal_text(f.rule_id)}]"
             for f in ignored[:10]]
    if len(ignored) > 10:
        lines.append(f"    ... and {len(ignored) - 10} more (see the report)")
    return lines


def render(report: Report, *, paths: tuple[str, ...] = (), fail_on: str = "", by_check: Mapping[str, str] | None = None) -> str:
    totals = report.totals()
    counts = ", ".join(f"{totals[s]} {s}" for s in SEVERITIES if totals[s]) or "none"
    lines = [
        f"claudebuild: {len(report.findings)} findings ({counts})",
        (f"  chunks: {report.chunks_total} total, {report.fresh} analyzed, {report.cached} cached, "
         + (f"{report.remote_hits} from the remote cache, " if report.remote_hits else "") +
         f"{len(report.failed)} failed, {len(report.pending)} not analyzed"),
        f"  cost: ${report.cost_this_run:.4f} this run, ${report.cost_saved:.4f} saved by cache",
    ]
    if report.scope is not None:
        lines.append(f"  scope: {len(report.scope)} reviewed files changed since {terminal_text(report.changed_since)}")
    if report.verification:
        lines.append(f"  {report.verification_summary()} (refuted findings never fail the gate)")
    lines += triage_lines(report, fail_on, by_check)
    skipped = sum(report.skipped_files.values())
    if skipped:
        detail = ", ".join(f"{count} {reason}" for reason, count in report.skipped_files.items())
        lines.append(f"  skipped files: {skipped} ({detail})")
    if report.rejected:
        lines.append(f"  rejected findings: {sum(report.rejected.values())}")
    for failed in report.failed[:10]:
        lines.append(f"  FAILED {terminal_text(failed.chunk)}: {terminal_text(failed.kind)}: {terminal_text(failed.message)[:200]}")
    if len(report.failed) > 10:
        lines.append(f"  ... and {len(report.failed) - 10} more failed chunks (see the report)")
    if paths:
        lines.append("  report: " + ", ".join(paths))
    return "\n".join(lines)

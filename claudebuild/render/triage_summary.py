"""The triage news of a report in words, once, for every summary that shows it.

The terminal summary, report.md and the GitHub step summary each said this in their own
words and had drifted apart (one left out which suppressions had no reason, two forgot the
untrusted ones). Each clause here holds only counts, never model or repository text, so the
callers only choose the layout: indented lines or sentences.
"""

from __future__ import annotations

from claudebuild.pipeline.report import Report


def triage_clauses(report: Report) -> list[str]:
    """One lower-case clause per kind of triage news, in reading order; none when there is none."""
    clauses = []
    if report.compared:
        counts = report.by_status()
        clauses.append(f"since the last report: {counts['new']} new, {counts['persisting']} persisting, "
                       f"{len(report.fixed)} fixed")
    if report.unverified:
        clauses.append(f"unverified: {report.unverified} (quoted code not in the file; never fail the gate)")
    if report.baselined:
        clauses.append(f"baselined: {len(report.baselined)} (known; never fail the gate)")
    suppressed = report.suppressed
    total = sum(suppressed.values())
    if total:
        missing = report.suppressed_without_reason
        clauses.append(f"suppressed: {total} ({suppressed['inline']} inline, {suppressed['file']} by the suppressions file"
                       + (f"; {missing} without a reason" if missing else "") + ")")
    ignored = sum(1 for finding in report.findings if finding.suppression_ignored)
    if ignored:
        clauses.append(f"suppressions not trusted: {ignored} (added by the change under review; the findings stay)")
    return clauses


def triage_sentences(report: Report) -> list[str]:
    """The clauses as one Markdown paragraph and a blank line; nothing when there is no news."""
    clauses = triage_clauses(report)
    if not clauses:
        return []
    return [" ".join(clause[0].upper() + clause[1:] + "." for clause in clauses), ""]

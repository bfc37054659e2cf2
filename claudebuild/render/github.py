"""GitHub Actions: workflow-command annotations plus a job summary with the full list.

GitHub shows at most 10 annotations of each type (error, warning, notice) per step and
silently drops the rest, so only the 10 most severe of each type are emitted and the
complete list goes to `$GITHUB_STEP_SUMMARY` as Markdown. Model text is cleaned and
escaped (`untrusted_text.workflow_property` / `workflow_data`) so a title or message can
never end the command early or start a command of its own, and is inert Markdown in the
summary (`untrusted_text.markdown_text`).

Only verified findings are annotated: an annotation sits on the pull request's diff, and
a finding whose quoted code is not in the file may be invented. Unverified ones are
counted in the log and listed, marked, in the summary; new ones say so in their title.
"""

from __future__ import annotations

from collections.abc import Mapping

from claudebuild.model import SEVERITIES, Finding
from claudebuild.pipeline.report import Report
from claudebuild.render.triage_summary import triage_sentences
from claudebuild.pipeline.triage.history import STATUS_NEW
from claudebuild.untrusted_text import markdown_text, workflow_data, workflow_property

ANNOTATION_TYPES = {"critical": "error", "high": "error", "medium": "warning", "low": "notice", "info": "notice"}
"""claudebuild severity -> workflow command."""

MAX_PER_TYPE = 10
"""GitHub's limit of annotations of one type per step."""

SUMMARY_LIMIT = 1_000_000
"""Bytes; GitHub refuses a step summary over 1 MiB, so the table is cut (with a note) before that."""


def annotation(finding: Finding) -> str:
    """One `::error file=…,line=…,endLine=…,title=…::message` line for `finding`."""
    kind = ANNOTATION_TYPES[finding.severity]
    properties = {
        "file": finding.file,
        "line": str(finding.line),
        "endLine": str(max(finding.end_line, finding.line)),
        "title": f"{finding.title} [{finding.rule_id}]" + (" (new)" if finding.status == STATUS_NEW else ""),
    }
    joined = ",".join(f"{key}={workflow_property(value)}" for key, value in properties.items())
    return f"::{kind} {joined}::{workflow_data(finding.message or finding.title)}"


def _severity_order(finding: Finding) -> tuple[int, str, int]:
    return SEVERITIES.index(finding.severity), finding.file, finding.line


def selected(findings: tuple[Finding, ...]) -> list[Finding]:
    """The findings that get an annotation: most severe first, at most `MAX_PER_TYPE` per type."""
    used: dict[str, int] = {}
    chosen: list[Finding] = []
    for finding in sorted(findings, key=_severity_order):
        kind = ANNOTATION_TYPES[finding.severity]
        if used.get(kind, 0) < MAX_PER_TYPE:
            used[kind] = used.get(kind, 0) + 1
            chosen.append(finding)
    return chosen


def render(report: Report) -> str:
    """Annotation lines for the workflow log; a plain note says how many were left to the summary."""
    verified = tuple(finding for finding in report.findings if finding.verified)
    chosen = selected(verified)
    lines = [annotation(finding) for finding in chosen]
    left = len(verified) - len(chosen)
    if report.unverified:
        lines.append(f"claudebuild: {report.unverified} unverified findings not annotated (quoted code not in the file); "
                     "see the job summary")
    if left:
        lines.append(f"claudebuild: {left} more findings not annotated (GitHub shows 10 per type); see the job summary")
    if report.failed:
        lines.append(f"claudebuild: {len(report.failed)} chunks failed and will be retried; see the job summary")
    return "".join(line + "\n" for line in lines)


def _lines(finding: Finding) -> str:
    return f"{finding.line}" if finding.end_line <= finding.line else f"{finding.line}–{finding.end_line}"


def _marks(finding: Finding) -> str:
    marks = ([finding.status] if finding.status else []) + ([] if finding.verified else ["unverified"])
    return "".join(f" _({mark})_" for mark in marks)


def _finding_rows(findings: tuple[Finding, ...], budget: int) -> list[str]:
    rows: list[str] = []
    used = 0
    for number, finding in enumerate(sorted(findings, key=_severity_order)):
        row = (
            f"| {finding.severity} | {markdown_text(finding.file)} | {_lines(finding)} | {markdown_text(finding.rule_id)} "
            f"| **{markdown_text(finding.title)}**{_marks(finding)} {markdown_text(finding.message)} |"
        )
        used += len(row.encode()) + 1
        if used > budget:
            rows.append(f"\n_{len(findings) - number} more findings are not shown here (summary size limit); "
                        "see the claudebuild report._")
            break
        rows.append(row)
    return rows


def render_step_summary(report: Report) -> str:
    """Markdown for `$GITHUB_STEP_SUMMARY`: counts, every finding, failed and pending chunks."""
    totals = report.totals()
    lines = ["## claudebuild", ""]
    lines += ["| " + " | ".join(SEVERITIES) + " | total |", "|" + "---:|" * (len(SEVERITIES) + 1)]
    lines += ["| " + " | ".join(str(totals[s]) for s in SEVERITIES) + f" | {len(report.findings)} |", ""]
    lines.append(
        f"{report.chunks_total} chunks over {report.files_total} files: {report.fresh} analyzed now, "
        f"{report.cached} from cache, {len(report.failed)} failed, {len(report.pending)} not analyzed. "
        f"Cost this run ${report.cost_this_run:.4f}, saved by the cache ${report.cost_saved:.4f}."
    )
    lines.append("")
    if report.scope is not None:
        lines += [f"Scope: the {len(report.scope)} reviewed files changed since {markdown_text(report.changed_since)}.", ""]
    lines += triage_sentences(report)
    tail: list[str] = []
    if report.fixed:
        tail += ["### Fixed since the last report", "", "| severity | file | line | category | finding |", "|---|---|---:|---|---|"]
        tail += [f"| {markdown_text(r.severity)} | {markdown_text(r.file)} | {r.line} | {markdown_text(r.category)} | {markdown_text(r.title)} |"
                 for r in report.fixed]
        tail.append("")
    if report.failed:
        tail += ["### Failed chunks", "", "| chunk | reason | message |", "|---|---|---|"]
        tail += [f"| {markdown_text(f.chunk)} | {markdown_text(f.kind)} | {markdown_text(f.message[:500])} |"
                 for f in report.failed]
        tail.append("")
    if report.pending:
        tail += ["### Not analyzed yet", ""] + [f"- {markdown_text(chunk)}" for chunk in report.pending] + [""]
    if report.findings:
        lines += ["### Findings", "", "| severity | file | line | category | finding |", "|---|---|---:|---|---|"]
        budget = SUMMARY_LIMIT - sum(len(line.encode()) + 1 for line in lines + tail)
        lines += _finding_rows(report.findings, budget)
        lines.append("")
    return "\n".join(lines + tail)


def write_step_summary(report: Report, env: Mapping[str, str]) -> bool:
    """Append the summary to the file named by `GITHUB_STEP_SUMMARY`; False when not on GitHub Actions."""
    path = env.get("GITHUB_STEP_SUMMARY")
    if not path:
        return False
    with open(path, "a", encoding="utf-8") as summary:
        summary.write(render_step_summary(report) + "\n")
    return True

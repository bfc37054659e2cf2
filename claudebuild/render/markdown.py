"""`.claudebuild/report.md`: the human report, grouped by file, most severe first within a file.

Triage shows where a reader acts on it: a status column (new / persisting, baselined,
unverified) once there is anything to say, what was fixed since the last report, and
what was suppressed and why, so a silenced finding is never invisible.

The report is posted as a pull request comment, so model text must render as the
characters typed: prose goes through `untrusted_text.markdown_text` (no image, link,
HTML or emphasis; URLs and mentions as code), code and paths through `markdown_code`.
"""

from __future__ import annotations

from itertools import groupby

from claudebuild.model import SEVERITIES, Finding
from claudebuild.pipeline.report import Report
from claudebuild.render.triage_summary import triage_sentences
from claudebuild.untrusted_text import markdown_code, markdown_text


MAX_SKIPPED_LISTED = 500
"""The Markdown report folds this many skipped paths; report.json lists them all."""


def _where(line: int, end_line: int) -> str:
    return f"{line}" if end_line <= line else f"{line}-{end_line}"


def status_text(finding: Finding, report: Report) -> str:
    """`new` / `persisting`, then `baselined` and **unverified** where they apply."""
    marks = [finding.status] if finding.status else []
    if report.is_baselined(finding):
        marks.append("baselined")
    if not finding.verified:
        marks.append("**unverified**")
    return ", ".join(marks)


def _findings(report: Report) -> list[str]:
    show_status = report.compared or report.unverified > 0 or bool(report.baselined)
    lines = ["## Findings", ""]
    for path, group in groupby(report.findings, key=lambda finding: finding.file):
        header = "| line | severity | status | category | finding |" if show_status else "| line | severity | category | finding |"
        lines += [f"### {markdown_code(path, in_table=False)}", "", header, "|---:|---|---|---|---|" if show_status else "|---:|---|---|---|"]
        for finding in group:
            text = f"**{markdown_text(finding.title)}** — {markdown_text(finding.message)}"
            if finding.quote:
                text += f" {markdown_code(finding.quote)}"
            if finding.verdict == "uncertain":
                text += f" *(verification uncertain: {markdown_text(finding.verdict_reason)})*"
            status = f" {status_text(finding, report)} |" if show_status else ""
            lines.append(f"| {_where(finding.line, finding.end_line)} | {finding.severity} |{status} "
                         f"{markdown_text(finding.rule_id)} | {text} |")
        lines.append("")
    return lines


def _made_by(report: Report) -> str:
    """Which models and Claude Code versions made the results (the user's own config and CLI: still escaped)."""
    if not report.models:
        return ""
    models = ", ".join(markdown_code(name, in_table=False) for name in report.models)
    versions = ", ".join(markdown_code(version, in_table=False) for version in report.cli_versions)
    return f" Model {models}, Claude Code {versions}."


def _fixed(report: Report) -> list[str]:
    lines = ["## Fixed since the last report", "", "| file | line | severity | category | finding |", "|---|---:|---|---|---|"]
    lines += [f"| {markdown_code(r.file)} | {r.line} | {markdown_text(r.severity)} | {markdown_text(r.category)} "
              f"| {markdown_text(r.title)} |" for r in report.fixed]
    return lines + [""]


def _suppressed(report: Report) -> list[str]:
    lines = ["## Suppressed findings", "", ("Left out of the findings above by an inline `claudebuild: ignore[...]` comment "
             "or the suppressions file."), "", "| file | line | category | finding | by | reason |", "|---|---:|---|---|---|---|"]
    for item in report.suppressed_findings:
        f = item.finding
        reason = markdown_text(item.reason) if item.reason else "_no reason given_"
        lines.append(f"| {markdown_code(f.file)} | {f.line} | {markdown_text(f.rule_id)} | {markdown_text(f.title)} "
                     f"| {item.source}: {markdown_code(item.matched)} | {reason} |")
    return lines + [""]


def scope_lines(report: Report) -> list[str]:
    """PR mode (`--changed-since`): which files the findings and the gate cover, folded."""
    if report.scope is None:
        return []
    lines = [(f"Scope: the {len(report.scope)} reviewed files changed since {markdown_text(report.changed_since)}; "
              "findings elsewhere are not reported."), "", "<details><summary>Files in scope</summary>", ""]
    lines += [f"- {markdown_code(path, in_table=False)}" for path in report.scope[:MAX_SKIPPED_LISTED]]
    if len(report.scope) > MAX_SKIPPED_LISTED:
        lines.append(f"- … and {len(report.scope) - MAX_SKIPPED_LISTED} more (all in report.json)")
    return lines + ["", "</details>", ""]


def render(report: Report) -> str:
    totals = report.totals()
    lines = ["# claudebuild report", ""]
    counts = ", ".join(f"{totals[s]} {s}" for s in SEVERITIES if totals[s])
    lines.append(f"**{len(report.findings)} findings**" + (f" ({counts})" if counts else ""))
    lines.append("")
    lines.append(
        f"{report.chunks_total} chunks over {report.files_total} files: {report.fresh} analyzed now, "
        f"{report.cached} from cache, "
        + (f"{report.remote_hits} from the remote cache, " if report.remote_hits else "")
        + f"{len(report.failed)} failed, {len(report.pending)} not analyzed. "
        f"Cost this run ${report.cost_this_run:.4f}, saved by the cache ${report.cost_saved:.4f}."
        + _made_by(report)
    )
    lines.append("")
    lines += scope_lines(report)
    lines += triage_sentences(report)
    if report.findings:
        lines += _findings(report)
    if report.verification:
        lines += [markdown_text(report.verification_summary()) + ".", ""]
    if report.refuted:
        lines += ["## Refuted by verification", "", "A second, independent review found these are not real; they never fail the gate.", "",
                  "| file | line | category | finding | reason |", "|---|---:|---|---|---|"]
        lines += [f"| {markdown_code(f.file)} | {f.line} | {markdown_text(f.rule_id)} | {markdown_text(f.title)} "
                  f"| {markdown_text(f.verdict_reason)} |" for f in report.refuted]
        lines.append("")
    if report.fixed:
        lines += _fixed(report)
    if report.suppressed_findings:
        lines += _suppressed(report)
    if report.failed:
        lines += ["## Failed chunks", "", "These were not cached and will be analyzed again on the next run.", ""]
        lines += ["| chunk | reason | message |", "|---|---|---|"]
        for failed in report.failed:
            lines.append(f"| {markdown_code(failed.chunk)} | {markdown_text(failed.kind)} | {markdown_text(failed.message)} |")
        lines.append("")
    if report.pending:
        lines += ["## Not analyzed yet", ""]
        lines += [f"- {markdown_code(chunk, in_table=False)}" for chunk in report.pending]
        lines.append("")
    if report.skipped_files:
        lines += ["## Skipped files", "", "| reason | files |", "|---|---:|"]
        lines += [f"| {reason} | {count} |" for reason, count in report.skipped_files.items()]
        lines.append("")
    if report.skipped:
        shown = report.skipped[:MAX_SKIPPED_LISTED]
        lines += ["<details><summary>Every skipped file</summary>", ""]
        lines += [f"- {markdown_code(item.path, in_table=False)} ({item.reason})" for item in shown]
        if len(report.skipped) > len(shown):
            lines.append(f"- … and {len(report.skipped) - len(shown)} more (all in report.json)")
        lines += ["", "</details>", ""]
    if report.rejected:
        lines += ["## Rejected findings", "", "Findings that pointed outside what was sent (dropped):", ""]
        lines += [f"- {reason}: {count}" for reason, count in report.rejected.items()]
        lines.append("")
    return "\n".join(lines)

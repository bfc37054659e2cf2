"""`.claudebuild/report.md`: the human report, grouped by file, most severe first within a file."""

from __future__ import annotations

from itertools import groupby

from claudebuild.model import SEVERITIES
from claudebuild.report import Report


def _cell(text: str) -> str:
    """Model text is untrusted: keep it on one line and unable to break the table."""
    return " ".join(text.split()).replace("|", "\\|").replace("<", "&lt;").replace(">", "&gt;")


def render(report: Report) -> str:
    totals = report.totals()
    lines = ["# claudebuild report", ""]
    counts = ", ".join(f"{totals[s]} {s}" for s in SEVERITIES if totals[s])
    lines.append(f"**{len(report.findings)} findings**" + (f" ({counts})" if counts else ""))
    lines.append("")
    lines.append(
        f"{report.chunks_total} chunks over {report.files_total} files: {report.fresh} analyzed now, "
        f"{report.cached} from cache, {len(report.failed)} failed, {len(report.pending)} not analyzed. "
        f"Cost this run ${report.cost_this_run:.4f}, saved by the cache ${report.cost_saved:.4f}."
    )
    lines.append("")
    if report.findings:
        lines += ["## Findings", ""]
        for path, group in groupby(report.findings, key=lambda finding: finding.file):
            lines += [f"### `{path}`", "", "| line | severity | category | finding |", "|---:|---|---|---|"]
            for finding in group:
                where = f"{finding.line}" if finding.end_line == finding.line else f"{finding.line}-{finding.end_line}"
                text = f"**{_cell(finding.title)}** — {_cell(finding.message)}"
                if finding.quote:
                    text += f" `{_cell(finding.quote).replace('`', '')}`"
                lines.append(f"| {where} | {finding.severity} | {_cell(finding.category)} | {text} |")
            lines.append("")
    if report.failed:
        lines += ["## Failed chunks", "", "These were not cached and will be analyzed again on the next run.", ""]
        lines += ["| chunk | reason | message |", "|---|---|---|"]
        for failed in report.failed:
            lines.append(f"| `{_cell(failed.chunk)}` | {failed.kind} | {_cell(failed.message)} |")
        lines.append("")
    if report.pending:
        lines += ["## Not analyzed yet", ""]
        lines += [f"- `{_cell(chunk)}`" for chunk in report.pending]
        lines.append("")
    if report.skipped_files:
        lines += ["## Skipped files", "", "| reason | files |", "|---|---:|"]
        lines += [f"| {reason} | {count} |" for reason, count in report.skipped_files.items()]
        lines.append("")
    if report.rejected:
        lines += ["## Rejected findings", "", "Findings that pointed outside what was sent (dropped):", ""]
        lines += [f"- {reason}: {count}" for reason, count in report.rejected.items()]
        lines.append("")
    return "\n".join(lines)

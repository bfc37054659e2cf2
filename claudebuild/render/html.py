"""A self-contained HTML report: one file, no network, no script, safe to open from CI artifacts.

Titles, messages, quotes, categories, paths and chunk errors come from a model and are
untrusted, so every one goes through `text` (`untrusted_text.html_text`: escape sequences
and control characters removed, bidi controls made visible, then HTML-escaped), in
attributes and SVG labels too, and none ever becomes a link or an element; ids and
classes are built only from indexes, fingerprints and the fixed severities. A
Content-Security-Policy that allows no script and no remote resource backs this up.

Triage is shown next to each finding (a `new` / `persisting` badge, `baselined`, and an
`unverified` marker when its quote is not in the file), in a summary card, and in two
sections of their own: what was fixed since the last report and what was suppressed.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import groupby

from claudebuild import __version__
from claudebuild.model import SEVERITIES, Finding
from claudebuild.render.charts import Bar, bar_chart
from claudebuild.render.html_style import CSS
from claudebuild.pipeline.report import FailedChunk, Report
from claudebuild.pipeline.triage.fingerprint import fingerprints_of
from claudebuild.pipeline.triage.history import FindingRecord
from claudebuild.pipeline.triage.suppress import SuppressedFinding
from claudebuild.untrusted_text import html_text

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'"


def text(value: object) -> str:
    """Any value as HTML text or attribute content."""
    return html_text(str(value))


def money(value: float) -> str:
    return f"${value:,.4f}"


def hit_rate(report: Report) -> str:
    """Cached chunks as a share of the chunks that have a result (fresh + cached)."""
    have = report.fresh + report.cached
    return f"{report.cached / have:.0%}" if have else "–"


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _badge(severity: str, label: str = "") -> str:
    return f'<span class="badge sev-{text(severity)}">{text(label or severity)}</span>'


def _mark(kind: str, label: str, hint: str = "") -> str:
    """A status badge; `kind` is one of our fixed words, never model text."""
    title = f' title="{text(hint)}"' if hint else ""
    return f'<span class="badge mark-{text(kind)}"{title}>{text(label)}</span>'


def finding_marks(finding: Finding, baselined: bool) -> str:
    marks = []
    if finding.status:
        marks.append(_mark(finding.status, finding.status, "compared with the previous report"))
    if baselined:
        marks.append(_mark("baselined", "baselined", "in the committed baseline: does not fail the gate"))
    if not finding.verified:
        marks.append(_mark("unverified", "unverified", "the quoted code is not in the file: the model may have invented it"))
    if finding.verdict == "uncertain":
        marks.append(_mark("uncertain", "uncertain", "verification could not decide: " + finding.verdict_reason))
    return "".join(marks)


def _card(title: str, big: str, sub: str = "") -> str:
    """A summary card; its arguments are markup made here, never model text."""
    return (f'<div class="card"><span class="sub">{title}</span><span class="big">{big}</span>'
            f'<span class="sub">{sub}</span></div>')


def summary_cards(report: Report) -> str:
    totals = report.totals()
    pills = "".join(_badge(s, f"{totals[s]} {s}") for s in SEVERITIES if totals[s])
    cards = [
        _card("Findings", str(len(report.findings)), f'<span class="pills">{pills}</span>'),
        _card("Chunks", str(report.chunks_total),
              f"{report.fresh} fresh · {report.cached} cached · {len(report.failed)} failed · {len(report.pending)} pending"),
        _card("Cache hit rate", hit_rate(report), f"{report.cached} of {report.fresh + report.cached} chunks from cache"),
        _card("Cost this run", money(report.cost_this_run), f"{money(report.cost_total)} for all results"),
        _card("Saved by cache", money(report.cost_saved), f"{report.files_total} files analyzed"),
        _card("Tokens", f"{report.input_tokens + report.output_tokens:,}",
              f"{report.input_tokens:,} in · {report.output_tokens:,} out"),
    ]
    if report.compared:
        counts = report.by_status()
        cards.insert(1, _card("Since the last report", f"{counts['new']} new",
                              f"{counts['persisting']} persisting · {len(report.fixed)} fixed"))
    suppressed = report.suppressed
    if report.unverified or report.baselined or sum(suppressed.values()):
        cards.insert(2 if report.compared else 1, _card(
            "Not gating", str(report.unverified + len(report.baselined) + sum(suppressed.values())),
            f"{report.unverified} unverified · {len(report.baselined)} baselined · {sum(suppressed.values())} suppressed"))
    return f'<section class="cards">{"".join(cards)}</section>'


def charts(report: Report, file_ids: dict[str, str]) -> str:
    totals = report.totals()
    severity = [Bar(s, totals[s], str(totals[s]), f"sev-{s}") for s in SEVERITIES]
    cost = [Bar("this run", report.cost_this_run, money(report.cost_this_run), "cost"),
            Bar("saved by cache", report.cost_saved, money(report.cost_saved), "saved")]
    per_file: dict[str, int] = {}
    for finding in report.findings:
        per_file[finding.file] = per_file.get(finding.file, 0) + 1
    top = sorted(per_file.items(), key=lambda item: (-item[1], item[0]))[:10]
    files = [Bar(path, count, str(count), "file", f"#{file_ids[path]}") for path, count in top]
    note = (f'<p class="note">{report.cached} of {report.fresh + report.cached} chunks came from the cache '
            f"({hit_rate(report)}); all stored results cost {money(report.cost_total)} in total.</p>")
    figures = [
        ("Findings by severity", bar_chart("Findings by severity", severity)),
        ("Cost: this run vs saved by the cache",
         bar_chart("Cost this run and saved by the cache", cost, label_width=110) + note),
    ]
    body = "".join(f"<figure><figcaption>{caption}</figcaption>{svg}</figure>" for caption, svg in figures)
    wide = bar_chart("Files with the most findings", files, label_width=420, width=1100)
    body += f'<figure class="wide"><figcaption>Files with the most findings (top 10)</figcaption>{wide}</figure>'
    return f'<section class="charts">{body}</section>'


def _lines(finding: Finding) -> str:
    return f"line {finding.line}" if finding.end_line <= finding.line else f"lines {finding.line}–{finding.end_line}"


def finding_html(finding: Finding, fingerprint: str, baselined: bool = False) -> str:
    quote = f"<pre><code>{text(finding.quote)}</code></pre>" if finding.quote else ""
    message = f'<p class="message">{text(finding.message)}</p>' if finding.message else ""
    return (
        f'<article class="finding sev-{text(finding.severity)}" id="f-{text(fingerprint)}">'
        f'<div class="head">{_badge(finding.severity)}{finding_marks(finding, baselined)}'
        f'<h3 class="title">{text(finding.title)}</h3>'
        f'<span class="where">{_lines(finding)}</span><span class="category mono">{text(finding.rule_id)}</span>'
        f'<a class="id mono" href="#f-{text(fingerprint)}" title="fingerprint">{text(fingerprint)}</a></div>'
        f"{message}{quote}</article>"
    )


def _severity_filter(report: Report) -> str:
    totals = report.totals()
    boxes = "".join(
        f'<label><input type="checkbox" id="show-{s}" checked> {_badge(s)} {totals[s]}</label>' for s in SEVERITIES
    )
    return f'<div class="filter" role="group" aria-label="Show severities">Show: {boxes}</div>'


def findings_section(report: Report, file_ids: dict[str, str]) -> str:
    if not report.findings:
        return '<h2>Findings</h2><p class="empty-state">No findings.</p>'
    pairs = sorted(zip(report.findings, fingerprints_of(report.findings)),
                   key=lambda pair: (pair[0].file, SEVERITIES.index(pair[0].severity), pair[0].line))
    blocks = []
    for path, group in groupby(pairs, key=lambda pair: pair[0].file):
        items = list(group)
        counts = " · ".join(f"{sum(f.severity == s for f, _ in items)} {s}" for s in SEVERITIES
                            if any(f.severity == s for f, _ in items))
        blocks.append(
            f'<details class="file" id="{file_ids[path]}" open><summary><span class="path mono">{text(path)}</span>'
            f'<span class="count">{_plural(len(items), "finding")} · {counts}</span></summary>'
            + "".join(finding_html(finding, fingerprint, fingerprint in report.baselined) for finding, fingerprint in items)
            + "</details>"
        )
    return f'<h2>Findings</h2>{_severity_filter(report)}{"".join(blocks)}'


def _table(headers: Iterable[str], rows: Iterable[Iterable[str]], numeric: int = -1) -> str:
    head = "".join(f'<th class="num">{h}</th>' if i == numeric else f"<th>{h}</th>" for i, h in enumerate(headers))
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{c}</td>' if i == numeric else f"<td>{c}</td>" for i, c in enumerate(row)) + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _failed_row(failed: FailedChunk) -> list[str]:
    files = "<br>".join(f'<span class="mono">{text(path)}</span>' for path in failed.files)
    return [f'<span class="mono">{text(failed.chunk)}</span>', text(failed.kind), text(failed.message), files]


def _fixed_row(record: FindingRecord) -> list[str]:
    return [f'<span class="mono">{text(record.file)}</span>', str(record.line), _badge(record.severity) if record.severity
            in SEVERITIES else "", f'<span class="mono">{text(record.category)}</span>', text(record.title)]


def _suppressed_row(item: SuppressedFinding) -> list[str]:
    f = item.finding
    reason = text(item.reason) if item.reason else '<span class="meta">no reason given</span>'
    return [f'<span class="mono">{text(f.file)}</span>', str(f.line), _badge(f.severity),
            f'<span class="mono">{text(f.rule_id)}</span>', text(f.title),
            f'{text(item.source)}: <span class="mono">{text(item.matched)}</span>', reason]


def triage_section(report: Report) -> str:
    """Refuted by verification, fixed since the last report, and suppressed findings with who suppressed them and why."""
    parts = []
    if report.verification:
        parts.append(f'<p class="meta">{text(report.verification_summary())}</p>')
    if report.refuted:
        parts.append("<h2>Refuted by verification</h2>"
                     '<p class="meta">A second, independent review found these are not real; they never fail the gate.</p>')
        parts.append(_table(["file", "line", "severity", "category", "finding", "reason"],
                            [[f'<span class="mono">{text(f.file)}</span>', str(f.line), _badge(f.severity),
                              f'<span class="mono">{text(f.rule_id)}</span>', text(f.title), text(f.verdict_reason)]
                             for f in report.refuted], numeric=1))
    if report.fixed:
        parts.append("<h2>Fixed since the last report</h2>"
                     '<p class="meta">In the previous report, gone from files analyzed again now.</p>')
        parts.append(_table(["file", "line", "severity", "category", "finding"], [_fixed_row(r) for r in report.fixed],
                            numeric=1))
    if report.suppressed_findings:
        parts.append('<h2>Suppressed findings</h2><p class="meta">Left out of the findings by an inline '
                     '<code>claudebuild: ignore[…]</code> comment or the suppressions file.</p>')
        parts.append(_table(["file", "line", "severity", "category", "finding", "by", "reason"],
                            [_suppressed_row(item) for item in report.suppressed_findings], numeric=1))
    return "".join(parts)


def problems_section(report: Report) -> str:
    """Failed and pending chunks, skipped files and rejected findings: what the findings do not cover."""
    parts = []
    if report.failed:
        parts.append("<h2>Failed chunks</h2><p class=\"meta\">Not cached; analyzed again on the next run.</p>")
        parts.append(_table(["chunk", "reason", "message", "files"], [_failed_row(f) for f in report.failed]))
    if report.pending:
        parts.append("<h2>Not analyzed yet</h2>")
        parts.append(_table(["chunk"], [[f'<span class="mono">{text(chunk)}</span>'] for chunk in report.pending]))
    if report.skipped_files:
        parts.append("<h2>Skipped files</h2>")
        parts.append(_table(["reason", "files"], [[text(r), str(n)] for r, n in report.skipped_files.items()], numeric=1))
    if report.rejected:
        parts.append("<h2>Rejected findings</h2><p class=\"meta\">Findings that pointed outside what was sent; dropped.</p>")
        parts.append(_table(["reason", "findings"], [[text(r), str(n)] for r, n in report.rejected.items()], numeric=1))
    return "".join(parts)


def render(report: Report) -> str:
    file_ids = {path: f"file-{number}" for number, path in enumerate(sorted({f.file for f in report.findings}))}
    run = f" · run <span class=\"mono\">{text(report.run_id)}</span>" if report.run_id else ""
    return (
        "<!doctype html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
        '<meta name="referrer" content="no-referrer">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>claudebuild report</title><style>{CSS}</style></head>\n<body>"
        f'<header><h1>claudebuild report</h1><p class="meta">{_plural(len(report.findings), "finding")} '
        f"over {_plural(report.files_total, 'file')}{run}</p></header>\n"
        f"<main>{summary_cards(report)}{charts(report, file_ids)}\n{findings_section(report, file_ids)}\n"
        f"{triage_section(report)}{problems_section(report)}</main>\n"
        f'<footer>Generated by claudebuild {text(__version__)}. Model-written text is shown as plain text.</footer>'
        "</body></html>\n"
    )

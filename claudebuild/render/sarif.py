"""SARIF 2.1.0 for GitHub code scanning (`github/codeql-action/upload-sarif`).

One run per category prefix (`security/sql-injection` -> `security`), each with its own
`automationDetails.id`: GitHub keeps alerts per such category, so a run that no longer
reports, say, a `performance/...` finding closes exactly those alerts and no others.
Results carry `partialFingerprints` so GitHub follows an alert when lines move.

Against a previous report, each result has a `baselineState` (`new` or `unchanged`).
Fixed and suppressed findings are deliberately *not* results: GitHub code scanning reads
only a subset of SARIF, without `baselineState` or `suppressions`, so an `absent` or a
suppressed result would open (or reopen) an alert. GitHub closes an alert by itself when
its result is missing from the next upload of the same category; other consumers find the
fixed findings in the log's property bag (`properties.fixedFindings`).

Model text is only ever put in `text` properties (never `markdown`), messages go through
`untrusted_text.sarif_text` (no embedded `[link](target)`) and every string through
`untrusted_text.json_strings`, so code scanning shows it as the characters the model wrote.
"""

from __future__ import annotations

import re
from itertools import groupby
from typing import Any
from urllib.parse import quote as url_quote

import orjson

from claudebuild import __version__
from claudebuild.model import SEVERITIES, Finding
from claudebuild.pipeline.report import Report
from claudebuild.pipeline.triage.fingerprint import FINGERPRINT_KEY, fingerprints_of
from claudebuild.pipeline.triage.history import STATUS_NEW
from claudebuild.untrusted_text import json_strings, sarif_text

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://pypi.org/project/claudebuild/"

LEVELS = {"critical": "error", "high": "error", "medium": "warning", "low": "note", "info": "note"}
"""claudebuild severity -> SARIF `level`."""

SECURITY_SEVERITY = {"critical": "9.5", "high": "8.0", "medium": "5.5", "low": "3.0", "info": "1.0"}
"""claudebuild severity -> GitHub `security-severity` (a number as a string; >= 9.0 is critical on GitHub)."""


MAX_RUNS = 20
"""GitHub rejects a SARIF file with more runs than this."""


def category_prefix(category: str) -> str:
    """The part of `category` before the first `/` (all of it without one), safe for an automation id.

    `general` when nothing is left, e.g. for `/x` or a category of only punctuation.
    """
    head = category.split("/", 1)[0].strip().lower()
    return re.sub(r"[^a-z0-9._-]+", "-", head).strip("-") or "general"


def run_prefixes(findings: tuple[Finding, ...]) -> dict[Finding, str]:
    """The run of each finding: its category prefix, or `general` for prefixes past GitHub's run limit.

    Models invent categories freely; keeping the `MAX_RUNS - 1` most used prefixes (ties by
    name) and folding the rest into `general` keeps every upload acceptable.
    """
    counts: dict[str, int] = {}
    for finding in findings:
        prefix = category_prefix(finding.rule_id)
        counts[prefix] = counts.get(prefix, 0) + 1
    kept = set(counts)
    if len(counts) > MAX_RUNS:
        ranked = sorted((p for p in counts if p != "general"), key=lambda prefix: (-counts[prefix], prefix))
        kept = set(ranked[: MAX_RUNS - 1]) | {"general"}
    return {f: (p if p in kept else "general") for f in findings for p in [category_prefix(f.rule_id)]}


def artifact_uri(path: str) -> str:
    """A repo-relative POSIX path as a relative URI reference (spaces, `#`, `%` percent-encoded)."""
    return url_quote(path, safe="/")


def _is_security(prefix: str) -> bool:
    return prefix == "security"


def _most_severe(findings: list[Finding]) -> str:
    return min((finding.severity for finding in findings), key=SEVERITIES.index)


UNVERIFIED_NOTE = "Unverified: the quoted code was not found in the file; the model may have invented it."


def _message(finding: Finding) -> str:
    text = f"{finding.title}\n\n{finding.message}" if finding.message else finding.title
    return sarif_text(text if finding.verified else f"{text}\n\n{UNVERIFIED_NOTE}")


def _rule(category: str, findings: list[Finding], security: bool) -> dict[str, Any]:
    worst = _most_severe(findings)
    rule: dict[str, Any] = {
        "id": category,
        "name": category,
        "shortDescription": {"text": sarif_text(f"claudebuild: {category}")},
        "defaultConfiguration": {"level": LEVELS[worst]},
        "properties": {"tags": sorted({"claudebuild", category_prefix(category)} | ({"security"} if security else set()))},
    }
    if security:
        rule["properties"]["security-severity"] = SECURITY_SEVERITY[worst]
    return rule


def _result(finding: Finding, rule_index: int, fingerprint: str, security: bool, report: Report) -> dict[str, Any]:
    region: dict[str, Any] = {"startLine": finding.line, "endLine": max(finding.end_line, finding.line)}
    if finding.quote:
        region["snippet"] = {"text": finding.quote}
    properties: dict[str, Any] = {"severity": finding.severity}
    if security:
        properties["security-severity"] = SECURITY_SEVERITY[finding.severity]
    if not finding.verified:
        properties["verified"] = False
    if fingerprint in report.baselined:
        properties["baselined"] = True
    extra: dict[str, Any] = {}
    if report.compared:
        extra["baselineState"] = "new" if finding.status == STATUS_NEW else "unchanged"
    return {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": LEVELS[finding.severity],
        "message": {"text": _message(finding)},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": artifact_uri(finding.file), "uriBaseId": "%SRCROOT%"},
                    "region": region,
                }
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint},
        **extra,
        "properties": properties,
    }


def _invocation(report: Report) -> dict[str, Any]:
    """Failed chunks as tool notifications: their files' results are missing from every run."""
    notifications = [
        {
            "level": "error",
            "message": {"text": sarif_text(f"chunk {failed.chunk} failed ({failed.kind}): {failed.message}")},
            "descriptor": {"id": failed.kind},
            "locations": [
                {"physicalLocation": {"artifactLocation": {"uri": artifact_uri(path), "uriBaseId": "%SRCROOT%"}}}
                for path in failed.files
            ],
        }
        for failed in report.failed
    ]
    return {"executionSuccessful": not report.failed, "toolExecutionNotifications": notifications}


def _run(prefix: str, pairs: list[tuple[Finding, str]], report: Report) -> dict[str, Any]:
    """One run for one prefix; `pairs` are its findings with their fingerprints, in report order."""
    security = _is_security(prefix)
    findings = [finding for finding, _ in pairs]
    categories = sorted({finding.rule_id for finding in findings})
    rules = [_rule(category, [f for f in findings if f.rule_id == category], security) for category in categories]
    index = {category: number for number, category in enumerate(categories)}
    results = [_result(f, index[f.rule_id], fp, security, report) for f, fp in pairs]
    return {
        "tool": {
            "driver": {
                "name": "claudebuild",
                "informationUri": INFORMATION_URI,
                "version": __version__,
                "semanticVersion": __version__,
                "rules": rules,
            }
        },
        "automationDetails": {"id": f"claudebuild/{prefix}/"},
        "invocations": [_invocation(report)],
        "results": results,
    }


def sarif_document(report: Report) -> dict[str, Any]:
    """The SARIF log as a dict; with no findings, one empty `general` run (so uploads still succeed)."""
    prefixes = run_prefixes(report.findings)
    pairs = sorted(zip(report.findings, fingerprints_of(report.findings)), key=lambda p: prefixes[p[0]])
    groups = [(prefix, list(group)) for prefix, group in groupby(pairs, key=lambda p: prefixes[p[0]])]
    runs = [_run(prefix, group, report) for prefix, group in groups or [("general", [])]]
    document: dict[str, Any] = {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": runs}
    if report.fixed:
        document["properties"] = {"fixedFindings": [
            {"fingerprint": r.fingerprint, "file": r.file, "line": r.line, "category": r.category, "title": r.title}
            for r in report.fixed
        ]}
    return document


def render(report: Report) -> str:
    return orjson.dumps(json_strings(sarif_document(report)), option=orjson.OPT_INDENT_2).decode() + "\n"

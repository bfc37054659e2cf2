"""`.claudebuild/report.json`: the machine-readable report other tools consume.

It is also the next run's "previous report": `triage.load_previous_report` reads
`findings[*].fingerprint` back, so every finding carries its fingerprint here.
Every string goes through `untrusted_text.json_strings`: tools decode and print these
strings, so no escape sequence or control character may survive in them.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import orjson

from claudebuild import __version__
from claudebuild.model import Finding
from claudebuild.pipeline.report import Report
from claudebuild.pipeline.triage.fingerprint import fingerprints_of
from claudebuild.pipeline.triage.suppress import SuppressedFinding
from claudebuild.untrusted_text import json_strings

SCHEMA_VERSION = 1
"""Additions (new keys) keep the version; renaming or removing a key bumps it."""


def finding_document(finding: Finding, fingerprint: str, report: Report) -> dict[str, Any]:
    """A finding with its fingerprint, `status` (new/persisting/""), `verified` and `baselined`."""
    document = asdict(finding)
    document["fingerprint"] = fingerprint
    document["baselined"] = fingerprint in report.baselined
    return document


def suppressed_document(item: SuppressedFinding) -> dict[str, Any]:
    document = asdict(item.finding)
    document.update(suppressed_by=item.source, matched=item.matched, reason=item.reason)
    return document


def report_document(report: Report) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "claudebuild", "version": __version__},
        "run_id": report.run_id,
        "path_prefix": report.path_prefix,
        "scope": None if report.scope is None else {"changed_since": report.changed_since, "files": list(report.scope)},
        "summary": {
            "findings": len(report.findings),
            "by_severity": report.totals(),
            "chunks": report.chunks_total,
            "files": report.files_total,
            "fresh": report.fresh,
            "cached": report.cached,
            "remote_hits": report.remote_hits,
            "failed": len(report.failed),
            "pending": len(report.pending),
            "rejected_findings": sum(report.rejected.values()),
            "compared_with_previous": report.compared,
            **report.by_status(),
            "fixed": len(report.fixed),
            "unverified": report.unverified,
            "baselined": len(report.baselined),
            "suppressed": report.suppressed,
            "suppressed_without_reason": report.suppressed_without_reason,
            "cost_usd_this_run": report.cost_this_run,
            "cost_usd_saved_by_cache": report.cost_saved,
            "cost_usd_total": report.cost_total,
            "input_tokens": report.input_tokens,
            "output_tokens": report.output_tokens,
            "models": dict(report.models),
            "cli_versions": dict(report.cli_versions),
            **({"verification": dict(report.verification)} if report.verification else {}),
        },
        "findings": [finding_document(f, fp, report) for f, fp in zip(report.findings, fingerprints_of(report.findings))],
        "refuted_findings": [asdict(finding) for finding in report.refuted],
        "fixed_findings": [asdict(record) for record in report.fixed],
        "suppressed_findings": [suppressed_document(item) for item in report.suppressed_findings],
        "failed_chunks": [asdict(item) for item in report.failed],
        "pending_chunks": list(report.pending),
        "skipped_files": dict(report.skipped_files),
        "skipped": [{"path": item.path, "reason": item.reason} for item in report.skipped],
        "rejected_findings": dict(report.rejected),
    }


def render(report: Report) -> str:
    return orjson.dumps(json_strings(report_document(report)), option=orjson.OPT_INDENT_2).decode() + "\n"

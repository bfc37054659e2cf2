"""`.claudebuild/report.json`: the machine-readable report other tools consume."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import orjson

from claudebuild import __version__
from claudebuild.report import Report

SCHEMA_VERSION = 1


def report_document(report: Report) -> dict[str, Any]:
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "claudebuild", "version": __version__},
        "run_id": report.run_id,
        "summary": {
            "findings": len(report.findings),
            "by_severity": report.totals(),
            "chunks": report.chunks_total,
            "files": report.files_total,
            "fresh": report.fresh,
            "cached": report.cached,
            "failed": len(report.failed),
            "pending": len(report.pending),
            "rejected_findings": sum(report.rejected.values()),
            "cost_usd_this_run": report.cost_this_run,
            "cost_usd_saved_by_cache": report.cost_saved,
            "cost_usd_total": report.cost_total,
            "input_tokens": report.input_tokens,
            "output_tokens": report.output_tokens,
        },
        "findings": [asdict(finding) for finding in report.findings],
        "failed_chunks": [asdict(item) for item in report.failed],
        "pending_chunks": list(report.pending),
        "skipped_files": dict(report.skipped_files),
        "rejected_findings": dict(report.rejected),
    }


def render(report: Report) -> str:
    return orjson.dumps(report_document(report), option=orjson.OPT_INDENT_2).decode() + "\n"

"""reviewdog Diagnostic Format (rdjson), for `reviewdog -f=rdjson` PR comments and checks.

reviewdog filters diagnostics to the lines a pull request changed, so every finding is
sent and reviewdog decides what to show; an unverified one (its quoted code is not in the
file) is marked in its message so a reviewer weighs it accordingly.
"""

from __future__ import annotations

from typing import Any

import orjson

from claudebuild.model import SEVERITIES, Finding
from claudebuild.report import Report

LEVELS = {"critical": "ERROR", "high": "ERROR", "medium": "WARNING", "low": "INFO", "info": "INFO"}
"""claudebuild severity -> rdjson severity."""


def _message(finding: Finding) -> str:
    head = f"[{finding.severity}]{'' if finding.verified else ' [unverified]'} {finding.title}"
    return f"{head}\n\n{finding.message}" if finding.message else head


def diagnostic(finding: Finding) -> dict[str, Any]:
    """One rdjson diagnostic (lines only: models give no columns)."""
    return {
        "message": _message(finding),
        "location": {
            "path": finding.file,
            "range": {"start": {"line": finding.line}, "end": {"line": max(finding.end_line, finding.line)}},
        },
        "severity": LEVELS[finding.severity],
        "code": {"value": finding.category},
    }


def rdjson_document(report: Report) -> dict[str, Any]:
    """The result; its own `severity` (the default for diagnostics) is the worst one present."""
    worst = min((f.severity for f in report.findings), key=SEVERITIES.index, default="info")
    return {
        "source": {"name": "claudebuild"},
        "severity": LEVELS[worst],
        "diagnostics": [diagnostic(finding) for finding in report.findings],
    }


def render(report: Report) -> str:
    return orjson.dumps(rdjson_document(report), option=orjson.OPT_INDENT_2).decode() + "\n"

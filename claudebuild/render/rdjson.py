"""reviewdog Diagnostic Format (rdjson), for `reviewdog -f=rdjson` PR comments and checks.

reviewdog filters diagnostics to the lines a pull request changed, so every finding is
sent and reviewdog decides what to show; an unverified one (its quoted code is not in the
file) is marked in its message so a reviewer weighs it accordingly.
reviewdog posts the message as a pull request comment, which GitHub and GitLab render as
Markdown, so its model text is `untrusted_text.markdown_text` (no image, link or HTML), and
every string goes through `untrusted_text.json_strings` (reviewdog also prints to CI logs).
"""

from __future__ import annotations

from typing import Any

import orjson

from claudebuild.model import SEVERITIES, Finding
from claudebuild.pipeline.report import Report
from claudebuild.untrusted_text import json_strings, markdown_text

LEVELS = {"critical": "ERROR", "high": "ERROR", "medium": "WARNING", "low": "INFO", "info": "INFO"}
"""claudebuild severity -> rdjson severity."""


def _message(finding: Finding) -> str:
    head = f"[{finding.severity}]{'' if finding.verified else ' [unverified]'} {markdown_text(finding.title)}"
    return f"{head}\n\n{markdown_text(finding.message)}" if finding.message else head


def diagnostic(finding: Finding) -> dict[str, Any]:
    """One rdjson diagnostic (lines only: models give no columns)."""
    return {
        "message": _message(finding),
        "location": {
            "path": finding.file,
            "range": {"start": {"line": finding.line}, "end": {"line": max(finding.end_line, finding.line)}},
        },
        "severity": LEVELS[finding.severity],
        "code": {"value": finding.rule_id},
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
    return orjson.dumps(json_strings(rdjson_document(report)), option=orjson.OPT_INDENT_2).decode() + "\n"

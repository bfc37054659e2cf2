"""GitLab Code Quality report (`artifacts:reports:codequality`), a subset of Code Climate's format.

GitLab matches issues between the source and target branch by `fingerprint`, so each
finding's is line-independent and unique within the report (GitLab drops duplicates).
"""

from __future__ import annotations

from typing import Any

import orjson

from claudebuild.fingerprint import unique_fingerprints
from claudebuild.model import Finding
from claudebuild.report import Report

GITLAB_SEVERITY = {"critical": "blocker", "high": "critical", "medium": "major", "low": "minor", "info": "info"}
"""claudebuild severity -> GitLab severity: both scales have five steps, so they map one to one, in order."""

CATEGORIES = {"security": "Security", "performance": "Performance", "style": "Style", "complexity": "Complexity"}
"""Category prefix -> Code Climate category; anything else is a `Bug Risk`."""


def _description(finding: Finding) -> str:
    return f"{finding.title}: {finding.message}" if finding.message else finding.title


def issue(finding: Finding, fingerprint: str) -> dict[str, Any]:
    """One Code Quality issue."""
    prefix = finding.category.split("/", 1)[0].strip().lower()
    return {
        "type": "issue",
        "engine_name": "claudebuild",
        "check_name": finding.category,
        "description": _description(finding),
        "categories": [CATEGORIES.get(prefix, "Bug Risk")],
        "fingerprint": fingerprint,
        "severity": GITLAB_SEVERITY[finding.severity],
        "location": {"path": finding.file, "lines": {"begin": finding.line, "end": max(finding.end_line, finding.line)}},
    }


def render(report: Report) -> str:
    issues = [issue(f, fp) for f, fp in zip(report.findings, unique_fingerprints(report.findings))]
    return orjson.dumps(issues, option=orjson.OPT_INDENT_2).decode() + "\n"

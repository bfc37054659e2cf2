"""GitLab Code Quality report (`artifacts:reports:codequality`), a subset of Code Climate's format.

GitLab matches issues between the source and target branch by `fingerprint`, so each
finding's is line-independent and unique within the report (GitLab drops duplicates);
GitLab works out new and fixed issues itself from that. Suppressed findings are not in
the report at all; unverified ones say so at the start of their description.
Every string goes through `untrusted_text.json_strings` (GitLab shows them in merge requests).
"""

from __future__ import annotations

from typing import Any

import orjson

from claudebuild.model import Finding
from claudebuild.pipeline.report import Report
from claudebuild.pipeline.triage.fingerprint import fingerprints_of
from claudebuild.untrusted_text import json_strings

GITLAB_SEVERITY = {"critical": "blocker", "high": "critical", "medium": "major", "low": "minor", "info": "info"}
"""claudebuild severity -> GitLab severity: both scales have five steps, so they map one to one, in order."""

CATEGORIES = {"security": "Security", "performance": "Performance", "style": "Style", "complexity": "Complexity"}
"""Category prefix -> Code Climate category; anything else is a `Bug Risk`."""


def _description(finding: Finding) -> str:
    text = f"{finding.title}: {finding.message}" if finding.message else finding.title
    return text if finding.verified else f"[unverified: quoted code not in the file] {text}"


def issue(finding: Finding, fingerprint: str) -> dict[str, Any]:
    """One Code Quality issue."""
    prefix = finding.category.split("/", 1)[0].strip().lower()
    return {
        "type": "issue",
        "engine_name": "claudebuild",
        "check_name": finding.rule_id,
        "description": _description(finding),
        "categories": [CATEGORIES.get(prefix, "Bug Risk")],
        "fingerprint": fingerprint,
        "severity": GITLAB_SEVERITY[finding.severity],
        "location": {"path": finding.file, "lines": {"begin": finding.line, "end": max(finding.end_line, finding.line)}},
    }


def render(report: Report) -> str:
    issues = [issue(f, fp) for f, fp in zip(report.findings, fingerprints_of(report.findings))]
    return orjson.dumps(json_strings(issues), option=orjson.OPT_INDENT_2).decode() + "\n"

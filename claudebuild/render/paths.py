"""Paths in reports relative to the repository root, not to the directory claudebuild reviews.

In a monorepo, `claudebuild -C services/api` reviews one project, and every path inside
claudebuild is relative to that root. GitHub code scanning, annotations, GitLab, reviewdog and
JUnit consumers resolve paths from the top of the checkout, so every written format gets the
root's place in the git work tree (`services/api/`) in front of each path, once, at render time.
The prefix is recorded in report.json (`path_prefix`) so the next run can compare its findings
with these (`triage.history.previous_records` takes it off again).
"""

from __future__ import annotations

from dataclasses import replace

from claudebuild.model import Finding, SkippedFile
from claudebuild.pipeline.report import Report


def with_path_prefix(report: Report, prefix: str) -> Report:
    """`report` with `prefix` (e.g. `services/api/`, or '' for none) in front of every file path."""
    if not prefix:
        return report

    def finding(item: Finding) -> Finding:
        return replace(item, file=prefix + item.file)

    return replace(
        report,
        findings=tuple(finding(item) for item in report.findings),
        failed=tuple(replace(item, files=tuple(prefix + path for path in item.files)) for item in report.failed),
        fixed=tuple(replace(item, file=prefix + item.file) for item in report.fixed),
        suppressed_findings=tuple(replace(item, finding=finding(item.finding)) for item in report.suppressed_findings),
        skipped=tuple(SkippedFile(prefix + item.path, item.reason) for item in report.skipped),
        scope=None if report.scope is None else tuple(prefix + path for path in report.scope),
        path_prefix=prefix,
    )


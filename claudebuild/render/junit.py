"""JUnit XML, for CI systems that only understand test reports (Jenkins, GitLab, Azure, …).

Each finding is a failing test case named by its fingerprint, so CI's "new failure" and
"fixed" tracking follows a finding across runs even when its line moves. Failed chunks
are errors (the analysis itself broke), pending chunks are skipped tests. As with the
gate, only verified findings outside the baseline fail: an unverified or baselined one is
a skipped case (same name, so history stays continuous), and a finding fixed since the last
report is a passing case, which CI shows as "fixed". ElementTree
escapes markup, but not characters XML 1.0 forbids (NUL, ESC, lone surrogates), which a
model can still produce, so every value goes through `untrusted_text.xml_text` first:
escape sequences and control characters removed, so the XML stays well-formed and CI
shows no terminal codes.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from itertools import groupby

from claudebuild.model import Finding
from claudebuild.pipeline.report import Report
from claudebuild.pipeline.triage.fingerprint import fingerprints_of
from claudebuild.pipeline.triage.history import FindingRecord
from claudebuild.untrusted_text import xml_text


def _element(parent: ET.Element, tag: str, text: str = "", **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, {key: xml_text(value) for key, value in attributes.items()})
    if text:
        element.text = xml_text(text)
    return element


def _failure_text(finding: Finding) -> str:
    where = f"{finding.file}:{finding.line}" + (f"-{finding.end_line}" if finding.end_line > finding.line else "")
    parts = [f"{where}: {finding.severity} [{finding.rule_id}] {finding.title}", finding.message]
    if finding.quote:
        parts.append(finding.quote)
    return "\n\n".join(part for part in parts if part)


def _skip_reason(finding: Finding, fingerprint: str, report: Report) -> str:
    if not finding.verified:
        return f"unverified: the quoted code is not in the file ({finding.title})"
    return f"baselined: a known finding ({finding.title})" if fingerprint in report.baselined else ""


def _file_suite(root: ET.Element, path: str, pairs: list[tuple[Finding, str]], fixed: list[FindingRecord],
                report: Report) -> None:
    skips = [_skip_reason(finding, fingerprint, report) for finding, fingerprint in pairs]
    failures = sum(1 for skip in skips if not skip)
    suite = _element(root, "testsuite", name=path, tests=str(len(pairs) + len(fixed)), failures=str(failures), errors="0",
                     skipped=str(len(pairs) - failures))
    for (finding, fingerprint), skip in zip(pairs, skips):
        case = _element(suite, "testcase", name=f"{finding.rule_id} [{fingerprint}]", classname=path,
                        file=path, line=str(finding.line))
        if skip:
            _element(case, "skipped", message=skip)
        else:
            _element(case, "failure", _failure_text(finding), message=finding.title, type=finding.severity)
    for record in fixed:
        _element(suite, "testcase", name=f"{record.category} [{record.fingerprint}]", classname=path, file=path,
                 line=str(record.line))


def _tool_suite(root: ET.Element, report: Report) -> None:
    """Failed chunks (errors) and pending ones (skipped); a single passing case when all is clean."""
    cases = len(report.failed) + len(report.pending)
    clean = cases == 0 and not report.findings
    suite = _element(root, "testsuite", name="claudebuild", tests=str(max(cases, int(clean))), failures="0",
                     errors=str(len(report.failed)), skipped=str(len(report.pending)))
    for failed in report.failed:
        case = _element(suite, "testcase", name=f"chunk {failed.chunk}", classname="claudebuild")
        text = failed.message + "\n\nfiles:\n" + "\n".join(failed.files)
        _element(case, "error", text, message=failed.message[:500], type=failed.kind)
    for chunk in report.pending:
        case = _element(suite, "testcase", name=f"chunk {chunk}", classname="claudebuild")
        _element(case, "skipped", message="not analyzed yet")
    if clean:
        _element(suite, "testcase", name="no findings", classname="claudebuild")


def render(report: Report) -> str:
    root = ET.Element("testsuites", {"name": "claudebuild", "failures": "0", "errors": str(len(report.failed))})
    pairs = sorted(zip(report.findings, fingerprints_of(report.findings)), key=lambda pair: pair[0].file)
    by_file = {path: list(group) for path, group in groupby(pairs, key=lambda pair: pair[0].file)}
    fixed: dict[str, list[FindingRecord]] = {}
    for record in report.fixed:
        fixed.setdefault(record.file, []).append(record)
    for path in sorted(by_file.keys() | fixed.keys()):
        _file_suite(root, path, by_file.get(path, []), fixed.get(path, []), report)
    if report.failed or report.pending or not report.findings:
        _tool_suite(root, report)
    for total in ("tests", "failures"):
        root.set(total, str(sum(int(suite.get(total, "0")) for suite in root)))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"

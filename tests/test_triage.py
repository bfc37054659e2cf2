"""Triage: fingerprints that survive edits, evidence checks, suppressions, new/persisting/fixed, baseline and gate."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from claudebuild.errors import ClaudebuildError
from claudebuild.model import Chunk, ChunkPart, ChunkResult, Discovery, SentFile, SourceFile
from claudebuild.render import json_report, markdown, terminal
from claudebuild.repo.git import RepoFiles
from claudebuild.pipeline.report import Report, build_report, exit_status
from claudebuild.pipeline.triage.baseline import read_baseline, save_baseline
from claudebuild.pipeline.triage.evidence import load_source_lines
from claudebuild.pipeline.triage.gate import gate_failures
from claudebuild.pipeline.triage.history import load_previous_report
from claudebuild.pipeline.triage.markers import inline_markers
from claudebuild.pipeline.triage.suppress import Suppression, read_suppressions, rule_matches

TODAY = date(2025, 6, 1)
CHUNK_A = Chunk(id="app/a.py", parts=(ChunkPart("app/a.py"),))
CHUNK_B = Chunk(id="app/b.py", parts=(ChunkPart("app/b.py"),))
DISCOVERY = Discovery(files=(SourceFile("app/a.py", 100), SourceFile("app/b.py", 100)))
CODE = "import os\nresult = eval(user_input)\nprint(result)\n"
OTHER = "def f():\n    return pickle.loads(data)\n"


def raw(line: int, quote: str = "result = eval(user_input)", *, file: str = "app/a.py", end_line: int | None = None,
        category: str = "security/eval", severity: str = "high", title: str = "Use of eval()") -> dict[str, Any]:
    return {"file": file, "line": line, "end_line": end_line or line, "severity": severity, "category": category,
            "title": title, "message": "runs arbitrary code", "quote": quote}


def build(root: Path, files: dict[str, str], findings: dict[str, list[dict[str, Any]] | None], **triage: Any) -> Report:
    """Write `files` under `root`, then build the report the way `Build` does: lines read from disk.

    `findings` maps chunk id -> the raw findings of its stored result, or None for a chunk not analyzed (pending).
    """
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text, encoding="utf-8")
    lines = load_source_lines(root, files)
    chunks = [CHUNK_A, CHUNK_B]
    results = {}
    for chunk in chunks:
        if findings.get(chunk.id) is not None:
            sent = tuple(SentFile(p, "h", 1, len(lines.get(p, [])), len(lines.get(p, []))) for p in chunk.paths)
            results[chunk.id] = ChunkResult(chunk.id, "ok", raw_findings=tuple(findings[chunk.id] or ()), run_id="now", sent=sent)
    return build_report(chunks, results, DISCOVERY, run_id="now", lines_by_file=lines, today=triage.pop("today", TODAY),
                        **triage)


def only(root: Path, code: str, *findings: dict[str, Any], **triage: Any) -> Report:
    """A report over app/a.py (holding `code`) and an analyzed, clean app/b.py."""
    return build(root, {"app/a.py": code, "app/b.py": OTHER}, {"app/a.py": list(findings), "app/b.py": []}, **triage)


def save_report(root: Path, report: Report) -> Path:
    path = root / ".claudebuild" / "report.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json_report.render(report), encoding="utf-8")
    return path


def suppressions_in(path: Path) -> tuple[Suppression, ...]:
    """A suppressions file's entries, read as claudebuild reads the repository's files."""
    return read_suppressions(RepoFiles(path.parent).read_text(path.name), path.name)


def baseline_in(path: Path) -> frozenset[str]:
    return read_baseline(RepoFiles(path.parent).read_bytes(path.name), path.name)


def suppressions(root: Path, text: str) -> Path:
    path = root / "claudebuild-suppressions.toml"
    path.write_text(text, encoding="utf-8")
    return path


# Fingerprints


def test_a_fingerprint_survives_lines_inserted_above_the_finding(tmp_path: Path) -> None:
    before = only(tmp_path, CODE, raw(2, quote=""))
    after = only(tmp_path, "# a\n# new\n# header\n" + CODE, raw(5, quote=""))
    assert before.findings[0].fingerprint and after.findings[0].fingerprint == before.findings[0].fingerprint


def test_the_same_code_flagged_twice_gets_two_distinct_fingerprints(tmp_path: Path) -> None:
    report = only(tmp_path, CODE + CODE, raw(2), raw(5))
    assert len({f.fingerprint for f in report.findings}) == 2


# Evidence


def test_a_quote_that_is_not_in_the_file_marks_the_finding_unverified(tmp_path: Path) -> None:
    report = only(tmp_path, CODE, raw(2, quote="os.system(user_input)"))
    assert [f.verified for f in report.findings] == [False]


def test_a_quote_a_few_lines_off_and_reindented_is_verified(tmp_path: Path) -> None:
    report = only(tmp_path, CODE, raw(1, quote="  result  =  eval(user_input)  "))
    assert [f.verified for f in report.findings] == [True]


def test_a_multi_line_quote_is_verified_across_the_lines_it_spans(tmp_path: Path) -> None:
    report = only(tmp_path, CODE, raw(2, end_line=3, quote="result = eval(user_input)\n    print(result)"))
    assert [f.verified for f in report.findings] == [True]


@pytest.mark.parametrize("quote", ["2|result = eval(user_input)", "2 | result = eval(user_input)",
                                   "     2\tresult = eval(user_input)"])
def test_a_quote_copied_with_the_prompts_line_numbers_is_verified(tmp_path: Path, quote: str) -> None:
    report = only(tmp_path, CODE, raw(2, quote=quote))
    assert [f.verified for f in report.findings] == [True]


def test_an_empty_quote_is_unverified(tmp_path: Path) -> None:
    report = only(tmp_path, CODE, raw(2, quote=""))
    assert [f.verified for f in report.findings] == [False]


def test_without_file_contents_nothing_is_checked_and_findings_stay_verified() -> None:
    sent = (SentFile("app/a.py", "h", 1, 3, 3),)
    result = ChunkResult(CHUNK_A.id, "ok", raw_findings=(raw(2, quote="not there"),), run_id="now", sent=sent)
    report = build_report([CHUNK_A], {CHUNK_A.id: result}, DISCOVERY, run_id="now")
    assert [f.verified for f in report.findings] == [True]


# Inline suppressions


def test_an_inline_ignore_on_the_flagged_line_suppresses_the_finding(tmp_path: Path) -> None:
    code = CODE.replace("eval(user_input)", "eval(user_input)  # claudebuild: ignore[security/eval] input is a constant")
    report = only(tmp_path, code, raw(2))
    assert report.findings == ()
    assert [(s.source, s.reason) for s in report.suppressed_findings] == [("inline", "input is a constant")]


def test_an_inline_ignore_on_the_line_above_suppresses_the_finding(tmp_path: Path) -> None:
    code = "// claudebuild: ignore[security/eval] sandboxed\nresult = eval(user_input)\n"
    report = only(tmp_path, code, raw(2))
    assert (report.findings, report.suppressed) == ((), {"inline": 1, "file": 0})


def test_an_inline_ignore_two_lines_above_does_not_suppress(tmp_path: Path) -> None:
    code = "# claudebuild: ignore[*] far away\n\nresult = eval(user_input)\n"
    assert len(only(tmp_path, code, raw(3)).findings) == 1


def test_an_inline_ignore_for_another_rule_does_not_suppress(tmp_path: Path) -> None:
    code = "result = eval(user_input)  # claudebuild: ignore[performance] not this\n"
    assert len(only(tmp_path, code, raw(1)).findings) == 1


def test_rules_match_exactly_by_prefix_or_star_and_ignore_case() -> None:
    assert rule_matches("security/eval", "Security/Eval")
    assert rule_matches("security/*", "security/eval") and rule_matches("security", "security/eval/nested")
    assert rule_matches("*", "anything")
    assert not rule_matches("security/ev", "security/eval") and not rule_matches("sec", "security/eval")


def test_several_comma_separated_rules_and_comment_closers_are_understood() -> None:
    [marker] = inline_markers("<!-- claudebuild: ignore[style, security/*] generated markup -->")
    assert (marker.rules, marker.reason) == (("style", "security/*"), "generated markup")


def test_an_inline_ignore_without_a_reason_is_allowed_but_counted(tmp_path: Path) -> None:
    report = only(tmp_path, "result = eval(user_input)  # claudebuild: ignore[security]\n", raw(1))
    assert (report.findings, report.suppressed_without_reason) == ((), 1)


# The suppressions file


def test_the_suppressions_file_suppresses_by_fingerprint_with_its_reason(tmp_path: Path) -> None:
    target = only(tmp_path, CODE, raw(2)).findings[0].fingerprint
    entries = suppressions_in(suppressions(tmp_path, f'[[suppress]]\nfingerprint = "{target}"\nreason = "accepted risk"\n'))
    report = only(tmp_path, CODE, raw(2), suppressions=entries)
    assert report.findings == ()
    assert [(s.source, s.reason, s.matched) for s in report.suppressed_findings] == [("file", "accepted risk", "[[suppress]] #1")]


def test_the_suppressions_file_suppresses_by_gitignore_style_path(tmp_path: Path) -> None:
    entries = suppressions_in(suppressions(tmp_path, '[[suppress]]\npath = "app/*.py"\nreason = "legacy"\n'))
    files = {"app/a.py": CODE, "app/b.py": OTHER}
    report = build(tmp_path, files, {"app/a.py": [raw(2)], "app/b.py": [raw(2, "pickle.loads(data)", file="app/b.py")]},
                   suppressions=entries)
    assert (report.findings, report.suppressed) == ((), {"inline": 0, "file": 2})


def test_the_suppressions_file_needs_every_given_key_to_match(tmp_path: Path) -> None:
    text = '[[suppress]]\npath = "app/b.py"\ncategory = "security/*"\nreason = "vendored"\n'
    entries = suppressions_in(suppressions(tmp_path, text))
    report = only(tmp_path, CODE, raw(2), suppressions=entries)
    assert len(report.findings) == 1


def test_suppressed_findings_are_listed_with_their_reason_in_the_json_report(tmp_path: Path) -> None:
    entries = suppressions_in(suppressions(tmp_path, '[[suppress]]\ncategory = "security"\nreason = "threat model says no"\n'))
    document = json.loads(json_report.render(only(tmp_path, CODE, raw(2), suppressions=entries)))
    assert document["summary"]["suppressed"] == {"inline": 0, "file": 1}
    [item] = document["suppressed_findings"]
    assert (item["file"], item["suppressed_by"], item["reason"]) == ("app/a.py", "file", "threat model says no")


def test_an_entry_without_a_reason_is_an_error_naming_the_file_and_entry(tmp_path: Path) -> None:
    path = suppressions(tmp_path, '[[suppress]]\npath = "a"\nreason = "ok"\n\n[[suppress]]\ncategory = "security"\n')
    with pytest.raises(ClaudebuildError, match=r"claudebuild-suppressions.toml: \[\[suppress\]\] #2 has no reason: add reason"):
        suppressions_in(path)


def test_an_unknown_key_in_the_suppressions_file_is_an_error(tmp_path: Path) -> None:
    path = suppressions(tmp_path, '[[suppress]]\npaths = "a"\nreason = "typo"\n')
    with pytest.raises(ClaudebuildError, match="unknown key 'paths'"):
        suppressions_in(path)


def test_an_entry_that_matches_nothing_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ClaudebuildError, match="matches nothing"):
        suppressions_in(suppressions(tmp_path, '[[suppress]]\nreason = "everything?"\n'))


def test_an_expired_entry_no_longer_applies(tmp_path: Path) -> None:
    entries = suppressions_in(suppressions(tmp_path, '[[suppress]]\ncategory = "*"\nreason = "until the fix"\n'
                                                       'expires = "2025-05-31"\n'))
    assert len(only(tmp_path, CODE, raw(2), suppressions=entries, today=date(2025, 6, 1)).findings) == 1


def test_an_entry_still_applies_on_its_expiry_day(tmp_path: Path) -> None:
    entries = suppressions_in(suppressions(tmp_path, '[[suppress]]\ncategory = "*"\nreason = "r"\nexpires = 2025-06-01\n'))
    assert only(tmp_path, CODE, raw(2), suppressions=entries, today=date(2025, 6, 1)).findings == ()


def test_a_missing_suppressions_file_means_no_suppressions(tmp_path: Path) -> None:
    assert suppressions_in(tmp_path / "claudebuild-suppressions.toml") == ()


# New, persisting, fixed


def test_findings_are_new_persisting_or_fixed_against_the_previous_report(tmp_path: Path) -> None:
    first = only(tmp_path, CODE, raw(2), raw(3, "print(result)", category="style/print"))
    previous = load_previous_report(save_report(tmp_path, first))
    second = only(tmp_path, "# moved\n" + CODE + "exec(code)\n", raw(3), raw(5, "exec(code)", category="security/exec"),
                  previous=previous)
    assert [(f.line, f.status) for f in second.findings] == [(3, "persisting"), (5, "new")]
    assert [(r.file, r.category) for r in second.fixed] == [("app/a.py", "style/print")]


def test_without_a_previous_report_no_finding_has_a_status(tmp_path: Path) -> None:
    report = only(tmp_path, CODE, raw(2), previous=load_previous_report(tmp_path / "report.json"))
    assert ([f.status for f in report.findings], report.fixed, report.compared) == ([""], (), False)


def test_nothing_is_fixed_in_a_chunk_that_was_not_analyzed_this_time(tmp_path: Path) -> None:
    files = {"app/a.py": CODE, "app/b.py": OTHER}
    first = build(tmp_path, files, {"app/a.py": [raw(2)], "app/b.py": [raw(2, "pickle.loads(data)", file="app/b.py")]})
    previous = load_previous_report(save_report(tmp_path, first))
    second = build(tmp_path, files, {"app/a.py": [], "app/b.py": None}, previous=previous)
    assert second.pending == ("app/b.py",)
    assert [r.file for r in second.fixed] == ["app/a.py"]


def test_a_previous_finding_that_is_now_suppressed_is_not_fixed(tmp_path: Path) -> None:
    previous = load_previous_report(save_report(tmp_path, only(tmp_path, CODE, raw(2))))
    code = CODE.replace("eval(user_input)", "eval(user_input)  # claudebuild: ignore[*] reviewed")
    report = only(tmp_path, code, raw(2), previous=previous)
    assert (report.findings, report.fixed) == ((), ())


def test_suppressing_a_finding_on_its_own_line_does_not_make_it_look_fixed(tmp_path: Path) -> None:
    previous = load_previous_report(save_report(tmp_path, only(tmp_path, CODE, raw(2, quote=""))))
    code = CODE.replace("eval(user_input)", "eval(user_input)  # claudebuild: ignore[security/eval] reviewed")
    report = only(tmp_path, code, raw(2, quote=""), previous=previous)
    assert (report.findings, report.fixed, len(report.suppressed_findings)) == ((), (), 1)
    assert report.suppressed_findings[0].finding.fingerprint == previous[0].fingerprint


def test_a_previous_report_without_fingerprints_is_not_compared(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text(json.dumps({"findings": [{"file": "app/a.py", "line": 2}]}))
    assert load_previous_report(path) is None


def test_a_corrupt_previous_report_is_an_error_that_says_how_to_recover(tmp_path: Path) -> None:
    path = tmp_path / "report.json"
    path.write_text("{not json")
    with pytest.raises(ClaudebuildError, match=r"report.json is not valid JSON .*delete it"):
        load_previous_report(path)


# Baseline and gate


def test_the_baseline_lets_old_findings_pass_the_gate_but_not_new_ones(tmp_path: Path) -> None:
    old = only(tmp_path, CODE, raw(2))
    assert save_baseline(tmp_path / "claudebuild-baseline.json", old.findings) == 1
    baseline = baseline_in(tmp_path / "claudebuild-baseline.json")
    report = only(tmp_path, CODE + "exec(code)\n", raw(2), raw(4, "exec(code)", category="security/exec"), baseline=baseline)
    assert [f.category for f in gate_failures(report, "high")] == ["security/exec"]
    assert report.is_baselined(report.findings[0]) and not report.is_baselined(report.findings[1])


def test_the_baseline_file_lists_fingerprints_with_file_category_and_title_but_no_lines(tmp_path: Path) -> None:
    path = tmp_path / "claudebuild-baseline.json"
    save_baseline(path, only(tmp_path, CODE, raw(2)).findings)
    [entry] = json.loads(path.read_text())["findings"]
    assert set(entry) == {"fingerprint", "file", "category", "title"}


def test_a_baseline_entry_without_a_fingerprint_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "claudebuild-baseline.json"
    path.write_text(json.dumps({"findings": [{"file": "a.py"}]}))
    with pytest.raises(ClaudebuildError, match="finding #1 has no fingerprint: rewrite it with `claudebuild baseline`"):
        baseline_in(path)


def test_an_unverified_finding_never_fails_the_gate(tmp_path: Path) -> None:
    report = only(tmp_path, CODE, raw(2, quote="os.system(cmd)", severity="critical"))
    assert gate_failures(report, "info") == []


def test_the_gate_fails_on_verified_findings_at_or_above_its_severity_only(tmp_path: Path) -> None:
    report = only(tmp_path, CODE, raw(2, severity="medium"), raw(3, "print(result)", category="style", severity="low"))
    assert [f.severity for f in gate_failures(report, "medium")] == ["medium"]
    assert gate_failures(report, "high") == [] and gate_failures(report, "none") == []


def test_the_exit_status_combines_the_gate_with_failed_chunks(tmp_path: Path) -> None:
    report = only(tmp_path, CODE, raw(2, severity="high"))
    assert exit_status(report, fail_on_error=True) == 0
    assert exit_status(report, fail_on_error=True, fail_on="high") == 1


def security_findings(report: Report) -> Report:
    """The report as if the named check `security` had found its findings."""
    return replace(report, findings=tuple(replace(finding, check="security") for finding in report.findings))


def test_a_checks_own_fail_on_gates_its_findings_when_the_global_gate_is_off(tmp_path: Path) -> None:
    report = security_findings(only(tmp_path, CODE, raw(2, severity="high")))
    assert [f.check for f in gate_failures(report, "", {"security": "high"})] == ["security"]
    assert gate_failures(report, "", {"docs": "high"}) == []


def test_a_checks_own_fail_on_replaces_the_global_one_for_its_findings(tmp_path: Path) -> None:
    report = security_findings(only(tmp_path, CODE, raw(2, severity="high")))
    assert gate_failures(report, "medium", {"security": "critical"}) == []
    assert exit_status(report, fail_on_error=True, fail_on="medium", by_check={"security": "critical"}) == 0
    assert exit_status(report, fail_on_error=True, fail_on="critical", by_check={"security": "high"}) == 1


# What the reports show


def test_the_json_report_carries_fingerprint_status_verified_baselined_and_fixed(tmp_path: Path) -> None:
    previous = load_previous_report(save_report(tmp_path, only(tmp_path, CODE, raw(3, "print(result)", category="x"))))
    report = only(tmp_path, CODE, raw(2, quote="nope"), previous=previous)
    document = json.loads(json_report.render(report))
    [finding] = document["findings"]
    assert (finding["status"], finding["verified"], finding["baselined"], len(finding["fingerprint"])) == ("new", False, False, 16)
    assert [item["category"] for item in document["fixed_findings"]] == ["x"]
    assert (document["summary"]["new"], document["summary"]["fixed"], document["summary"]["unverified"]) == (1, 1, 1)


def test_the_markdown_report_shows_status_unverified_fixed_and_suppressed(tmp_path: Path) -> None:
    previous = load_previous_report(save_report(tmp_path, only(tmp_path, CODE, raw(3, "print(result)", category="x"))))
    code = CODE.replace("import os", "import os  # claudebuild: ignore[style] fine")
    text = markdown.render(only(tmp_path, code, raw(2, quote="nope"), raw(1, "import os", category="style"),
                                previous=previous))
    assert "| line | severity | status | category | finding |" in text and "| new, **unverified** |" in text
    assert "## Fixed since the last report" in text and "## Suppressed findings" in text
    assert "Since the last report: 1 new, 0 persisting, 1 fixed." in text


def test_the_terminal_summary_counts_triage_and_gives_the_gates_verdict(tmp_path: Path) -> None:
    previous = load_previous_report(save_report(tmp_path, only(tmp_path, CODE, raw(2))))
    text = terminal.render(only(tmp_path, CODE, raw(2), previous=previous), fail_on="high")
    assert "since the last report: 0 new, 1 persisting, 0 fixed" in text
    assert "gate --fail-on high: FAILED by 1 findings" in text

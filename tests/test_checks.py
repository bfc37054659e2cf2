"""Named checks and per-path rules: config validation, which chunks each check gets, how findings are tagged."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from claudebuild.checks import Check, PathRule
from claudebuild.config_sources import load_config
from claudebuild.errors import ClaudebuildError
from claudebuild.model import Finding, SourceFile
from claudebuild.pipeline.check_plan import RULES_HEADING, instructions_with_rules, plan_checks
from claudebuild.pipeline.chunk import make_chunks
from claudebuild.pipeline.report import Report
from claudebuild.render import sarif
from claudebuild.run.jobs import make_jobs

FILES = tuple(SourceFile(path, 100) for path in (
    "app/api/users.py", "app/api/orders.py", "app/models.py", "docs/guide.md", "legacy/old.py", "legacy/older.py"))

CHECKS = """\
[[checks]]
name = "security"
instructions = "Report only security findings."
paths = ["app/api/", "legacy/"]
model = "claude-opus-4-1"
min_severity = "medium"

[[checks]]
name = "docs"
instructions_file = "review/docs.md"
paths = ["docs/"]
max_files_per_chunk = 1

[[rules]]
name = "auth"
paths = ["app/api/*.py"]
instructions = "Every endpoint calls require_user()."
"""


def test_checks_and_rules_are_read_from_claudebuild_toml(tmp_path: Path) -> None:
    (tmp_path / "review").mkdir()
    (tmp_path / "review/docs.md").write_text("Check that the docs match the code.")
    (tmp_path / "claudebuild.toml").write_text(CHECKS)
    config = load_config(tmp_path)
    assert [check.name for check in config.checks] == ["security", "docs"]
    assert config.checks[0].paths == ("app/api/", "legacy/") and config.checks[0].model == "claude-opus-4-1"
    assert config.checks[1].instructions == "Check that the docs match the code." and config.checks[1].max_files_per_chunk == 1
    assert config.rules == (PathRule(("app/api/*.py",), "Every endpoint calls require_user().", "auth"),)


def test_checks_are_read_from_pyproject_too(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[[tool.claudebuild.checks]]\nname = "sec"\ninstructions = "x"\n')
    assert load_config(tmp_path).checks == (Check("sec", "x"),)


@pytest.mark.parametrize(("entry", "message"), [
    ('name = "Security"\ninstructions = "x"', "name must be a short lowercase word"),
    ('name = "report"\ninstructions = "x"', "taken by claudebuild or doit"),
    ('name = "sec"', "instructions .* is required"),
    ('name = "sec"\ninstructions = "x"\npath = ["a/"]', "did you mean 'paths'"),
    ('name = "sec"\ninstructions = "x"\nmin_severity = "huge"', "min_severity must be one of"),
    ('name = "sec"\ninstructions = "x"\nverify = "yes"', "verify must be true or false"),
    ('name = "sec"\ninstructions_file = "../outside.md"', "outside the repository"),
])
def test_a_bad_check_is_one_line_naming_the_check_and_the_fix(tmp_path: Path, entry: str, message: str) -> None:
    (tmp_path / "claudebuild.toml").write_text(f"[[checks]]\n{entry}\n")
    with pytest.raises(ClaudebuildError, match=message):
        load_config(tmp_path)


def test_two_checks_with_one_name_are_an_error(tmp_path: Path) -> None:
    (tmp_path / "claudebuild.toml").write_text('[[checks]]\nname = "a"\ninstructions = "x"\n' * 2)
    with pytest.raises(ClaudebuildError, match="defined twice"):
        load_config(tmp_path)


def test_a_rule_needs_paths(tmp_path: Path) -> None:
    (tmp_path / "claudebuild.toml").write_text('[[rules]]\ninstructions = "x"\n')
    with pytest.raises(ClaudebuildError, match="paths is required"):
        load_config(tmp_path)


def test_without_checks_or_rules_the_plan_is_exactly_todays_chunks() -> None:
    planned = plan_checks(FILES, checks=(), rules=(), max_files=2, max_bytes=10_000)
    assert tuple(item.chunk for item in planned) == make_chunks(FILES, max_files=2, max_bytes=10_000)
    assert all(item.task == "analyze:" + item.chunk.id for item in planned)


def test_each_check_chunks_only_its_own_files_under_its_own_name() -> None:
    checks = (Check("security", "x", paths=("app/api/", "legacy/")), Check("docs", "y", paths=("docs/",)))
    planned = plan_checks(FILES, checks=checks, rules=(), max_files=20, max_bytes=10_000)
    by_check = {name: {path for item in planned if item.check == name for path in item.chunk.paths} for name in ("security", "docs")}
    assert by_check == {"security": {"app/api/users.py", "app/api/orders.py", "legacy/old.py", "legacy/older.py"},
                        "docs": {"docs/guide.md"}}
    assert all(item.task == item.chunk.id and item.task.startswith(item.check + ":") for item in planned)


def test_exclusions_in_a_checks_paths_leave_files_out() -> None:
    checks = (Check("security", "x", paths=("app/", "!app/models.py")),)
    planned = plan_checks(FILES, checks=checks, rules=(), max_files=20, max_bytes=10_000)
    assert {path for item in planned for path in item.chunk.paths} == {"app/api/users.py", "app/api/orders.py"}


def test_files_with_different_rules_never_share_a_chunk() -> None:
    rules = (PathRule(("app/api/",), "auth"),)
    planned = plan_checks(FILES, checks=(), rules=rules, max_files=20, max_bytes=10_000)
    for item in planned:
        matched = {rules[0].matches(path) for path in item.chunk.paths}
        assert len(matched) == 1 and (item.rules == (0,)) == matched.pop()
    assert len(planned) == 2


def test_a_chunks_prompt_holds_exactly_its_files_rules(tmp_path: Path) -> None:
    config = replace(load_config(tmp_path), rules=(PathRule(("app/api/",), "Every endpoint calls require_user()."),))
    jobs = make_jobs(config, plan_checks(FILES, checks=(), rules=config.rules, max_files=20, max_bytes=10_000))
    with_rule = [job for job in jobs if "app/api/users.py" in job.chunk.paths]
    without = [job for job in jobs if "app/api/users.py" not in job.chunk.paths]
    assert "require_user()" in with_rule[0].config.instructions and RULES_HEADING in with_rule[0].config.instructions
    assert all(job.config is config and job.answer_digest == without[0].answer_digest for job in without)
    assert with_rule[0].answer_digest != without[0].answer_digest


def test_instructions_without_rules_are_unchanged() -> None:
    assert instructions_with_rules("Review this.", ()) == "Review this."


def test_a_checks_model_is_its_jobs_model(tmp_path: Path) -> None:
    config = replace(load_config(tmp_path), checks=(Check("deep", "x", model="claude-opus-4-1"),))
    jobs = make_jobs(config, plan_checks(FILES, checks=config.checks, rules=(), max_files=20, max_bytes=10_000))
    assert {job.config.model for job in jobs} == {"claude-opus-4-1"}


def finding(check: str, category: str) -> Finding:
    return Finding(file="app/a.py", line=3, end_line=3, severity="high", category=category, title="t", message="m",
                   check=check)


def test_sarif_has_one_run_per_check_and_prefixes_rule_ids_with_it() -> None:
    report = Report(findings=(finding("security", "security/eval"), finding("quality", "error-handling/bare-except")),
                    failed=(), pending=(), skipped_files={}, rejected={}, chunks_total=2, files_total=1, fresh=2, cached=0,
                    cost_this_run=0.0, cost_saved=0.0, cost_total=0.0, input_tokens=0, output_tokens=0)
    runs = json.loads(sarif.render(report))["runs"]
    assert [run["automationDetails"]["id"] for run in runs] == ["claudebuild/quality/", "claudebuild/security/"]
    assert [run["results"][0]["ruleId"] for run in runs] == ["quality/error-handling/bare-except", "security/security/eval"]

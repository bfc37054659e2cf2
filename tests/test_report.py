"""Aggregation validates every finding against what was sent, de-duplicates, sorts and totals."""

from __future__ import annotations

import pytest

from claudebuild.model import Chunk, ChunkPart, ChunkResult, Discovery, SentFile, SkippedFile, SourceFile
from claudebuild.pipeline.report import build_report, normalize_path

CHUNK = Chunk(id="app/a.py+1", parts=(ChunkPart("app/a.py"), ChunkPart("app/b.py")))
SENT = (SentFile("app/a.py", "h1", 1, 10, 10), SentFile("app/b.py", "h2", 1, 5, 5))
DISCOVERY = Discovery(files=(SourceFile("app/a.py", 100), SourceFile("app/b.py", 50)), skipped=(SkippedFile(".env", "secret"),))


def finding(**fields: object) -> dict[str, object]:
    base: dict[str, object] = {"file": "app/a.py", "line": 3, "end_line": 3, "severity": "high", "category": "security/eval",
                               "title": "Use of eval()", "message": "eval runs arbitrary code", "quote": "eval(x)"}
    base.update(fields)
    return base


def ok(*raw: dict[str, object], run_id: str = "now", cost: float = 0.01) -> ChunkResult:
    return ChunkResult(chunk=CHUNK.id, status="ok", raw_findings=raw, run_id=run_id, cost_usd=cost, sent=SENT)


def report_of(result: ChunkResult | None, run_id: str = "now"):
    results = {CHUNK.id: result} if result else {}
    return build_report([CHUNK], results, DISCOVERY, run_id=run_id)


def test_a_valid_finding_is_kept_with_its_chunk() -> None:
    report = report_of(ok(finding()))
    assert [(f.file, f.line, f.chunk) for f in report.findings] == [("app/a.py", 3, CHUNK.id)]


def test_findings_outside_the_chunk_are_rejected_and_counted() -> None:
    report = report_of(ok(finding(file="app/other.py"), finding(file="../etc/passwd"), finding(file="/etc/passwd")))
    assert report.findings == ()
    assert report.rejected == {"file-not-in-chunk": 1, "path-outside-repo": 2}


def test_lines_outside_the_sent_range_are_rejected() -> None:
    report = report_of(ok(finding(line=11, end_line=11), finding(line=0)))
    assert report.findings == ()
    assert report.rejected == {"line-out-of-range": 2}


def test_end_line_is_clamped_into_the_sent_range() -> None:
    report = report_of(ok(finding(line=9, end_line=40)))
    assert report.findings[0].end_line == 10


def test_duplicates_collapse_to_the_most_severe() -> None:
    report = report_of(ok(finding(severity="low"), finding(severity="critical")))
    assert [f.severity for f in report.findings] == ["critical"]


def test_findings_are_sorted_by_file_then_line() -> None:
    report = report_of(ok(finding(file="app/b.py", line=1), finding(line=7), finding(line=2, category="x")))
    assert [(f.file, f.line) for f in report.findings] == [("app/a.py", 2), ("app/a.py", 7), ("app/b.py", 1)]


def test_cached_results_count_as_savings_and_fresh_ones_as_spending() -> None:
    assert (report_of(ok(cost=0.5, run_id="old")).cost_saved, report_of(ok(cost=0.5, run_id="old")).cached) == (0.5, 1)
    fresh = report_of(ok(cost=0.5))
    assert (fresh.cost_this_run, fresh.fresh, fresh.cost_saved) == (0.5, 1, 0.0)


def test_failed_chunks_are_listed_with_their_reason() -> None:
    failed = ChunkResult(chunk=CHUNK.id, status="error", error="API Error: 400 bad", error_kind="bad-request", run_id="now")
    report = report_of(failed)
    assert [(f.chunk, f.kind) for f in report.failed] == [(CHUNK.id, "bad-request")]


def test_chunks_without_a_result_are_pending_and_skips_are_counted() -> None:
    report = report_of(None)
    assert report.pending == (CHUNK.id,)
    assert report.skipped_files == {"secret": 1}


def test_results_of_chunks_that_no_longer_exist_are_ignored() -> None:
    gone = ChunkResult(chunk="gone.py", status="ok", raw_findings=(finding(file="gone.py"),), sent=SENT)
    report = build_report([CHUNK], {"gone.py": gone}, DISCOVERY, run_id="now")
    assert report.findings == () and report.pending == (CHUNK.id,)


def test_paths_are_normalised_or_refused() -> None:
    assert normalize_path("./app/a.py") == "app/a.py"
    assert normalize_path("app/../../x") is None
    assert normalize_path("/etc/passwd") is None
    assert normalize_path("a\0b") is None


@pytest.mark.parametrize("name", ["a:b.py", "a::b.py", " lead.py", "trail.py ", "back\\slash.py", "C:/x.py"])
def test_legal_file_names_are_kept_byte_exact(name: str) -> None:
    assert normalize_path(name) == name


def test_skipped_files_are_named_with_their_reason_in_report_json_and_folded_in_markdown() -> None:
    from claudebuild.render import json_report, markdown

    discovery = Discovery(files=DISCOVERY.files, skipped=(SkippedFile("deploy_key", "secret"), SkippedFile("CLAUDE.md", "agent-instructions")))
    report = build_report([CHUNK], {}, discovery, run_id="now")

    assert json_report.report_document(report)["skipped"] == [
        {"path": "deploy_key", "reason": "secret"}, {"path": "CLAUDE.md", "reason": "agent-instructions"}]
    assert "<details><summary>Every skipped file</summary>" in markdown.render(report)
    assert "`CLAUDE.md` (agent-instructions)" in markdown.render(report)


def test_every_terminal_summary_names_the_findings_whose_inline_suppression_was_not_trusted() -> None:
    from dataclasses import replace

    from claudebuild.render import terminal

    report = build_report([CHUNK], {CHUNK.id: ok(finding())}, DISCOVERY, run_id="now")
    kept = replace(report, findings=tuple(replace(f, suppression_ignored="not trusted here") for f in report.findings))

    assert "suppressions not trusted: 1" in terminal.render(kept)
    assert "app/a.py:3: high: not trusted here [security/eval]" in terminal.render(kept)
    assert "suppressions not trusted" not in terminal.render(report)


def test_the_report_names_the_model_and_cli_version_of_each_result_it_uses() -> None:
    from dataclasses import replace

    report = report_of(replace(ok(), model="claude-sonnet-5-5", cli_version="2.1.332"))
    assert report.models == {"claude-sonnet-5-5": 1} and report.cli_versions == {"2.1.332": 1}


def test_the_terminal_markdown_and_github_summaries_tell_the_same_triage_news() -> None:
    from dataclasses import replace

    from claudebuild.render import github, markdown, terminal

    report = build_report([CHUNK], {CHUNK.id: ok(finding())}, DISCOVERY, run_id="now")
    kept = replace(report, findings=tuple(replace(f, suppression_ignored="not trusted here") for f in report.findings))
    clause = "suppressions not trusted: 1 (added by the change under review; the findings stay)"

    assert clause in terminal.render(kept)
    assert clause[0].upper() + clause[1:] + "." in markdown.render(kept)
    assert clause[0].upper() + clause[1:] + "." in github.render_step_summary(kept)

"""Sessions and follow-ups without the CLI: transcript paths, ages, the table, `ask` targets and outcomes."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest

from claudebuild.claude import outcome as claude
from claudebuild.run.plan import Plan
from claudebuild.claude.calls import FollowUp
from claudebuild.claude.outcome import classify_answer
from claudebuild.commands.ask import resolve_target, run_ask
from claudebuild.commands.sessions import (
    SessionRow,
    age_seconds,
    claude_config_dir,
    humanize_age,
    project_dir_name,
    render_table,
    run_sessions,
    session_rows,
    to_json,
    transcript_path,
)
from claudebuild.config_sources import load_config
from claudebuild.errors import ClaudebuildError
from claudebuild.model import Chunk, ChunkPart, Discovery, SkippedFile, SourceFile

NOW = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
SESSION = "0b6d7c1e-2f4a-4e59-9a51-3f0c2d8e9b10"


# -- where the CLI keeps transcripts ---------------------------------------------------------------

def test_the_project_dir_replaces_every_non_alphanumeric_character_with_a_dash() -> None:
    assert project_dir_name("/tmp/my repo_1/.claudebuild/session-cwd") == "-tmp-my-repo-1--claudebuild-session-cwd"


def test_a_character_outside_the_bmp_becomes_two_dashes_as_in_javascript() -> None:
    assert project_dir_name("/tmp/😀ü") == "-tmp----"


def test_a_project_dir_over_200_characters_is_cut_and_gets_the_clis_hash_suffix() -> None:
    name = project_dir_name("/work/" + "deep/" * 50 + "session-cwd")  # expected value computed with the CLI's JS
    assert len(name) == 207 and name.endswith("-deep-akckl2")


def test_the_transcript_is_the_session_id_under_the_projects_dir_of_its_cwd(tmp_path: Path) -> None:
    assert transcript_path(tmp_path, "/a/b", SESSION) == tmp_path / "projects" / "-a-b" / f"{SESSION}.jsonl"


def test_the_config_dir_is_claude_config_dir_when_set_and_home_dot_claude_otherwise() -> None:
    assert claude_config_dir({"CLAUDE_CONFIG_DIR": "/x/cfg"}) == Path("/x/cfg")
    assert claude_config_dir({}) == Path.home() / ".claude"


# -- ages ------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("seconds", "shown"), [(-5, "0s"), (42, "42s"), (61, "1m"), (3 * 3600 + 5, "3h"),
                                                (86400 * 5, "5d"), (86400 * 13, "13d"), (86400 * 30, "4w")])
def test_an_age_is_shown_in_its_largest_whole_unit(seconds: float, shown: str) -> None:
    assert humanize_age(seconds) == shown


def test_the_age_of_a_result_counts_from_its_finished_at_timestamp() -> None:
    assert age_seconds((NOW - timedelta(minutes=3)).isoformat(), NOW) == pytest.approx(180)


def test_a_timestamp_without_zone_is_utc_and_a_missing_one_has_no_age() -> None:
    assert age_seconds("2025-06-01T11:00:00", NOW) == pytest.approx(3600)
    assert age_seconds("", NOW) is None


# -- the table -------------------------------------------------------------------------------------

def stored_result(chunk: str, session_id: str, cwd: str, *, cost: float = 0.01, status: str = "ok") -> dict[str, Any]:
    return {"chunk": chunk, "status": status, "session_id": session_id, "cwd": cwd, "cost_usd": cost,
            "finished_at": (NOW - timedelta(hours=2)).isoformat()}


def test_rows_are_sorted_by_chunk_skip_results_without_a_session_and_check_the_transcript_on_disk(tmp_path: Path) -> None:
    present = transcript_path(tmp_path, "/repo/cwd", "s-present")
    present.parent.mkdir(parents=True)
    present.write_text("{}\n")
    stored = {"analyze:z.py": stored_result("z.py", "s-present", "/repo/cwd"),
              "analyze:a.py": stored_result("a.py", "s-gone", "/repo/cwd"),
              "analyze:m.py": stored_result("m.py", "", "/repo/cwd", status="error")}
    rows = session_rows(stored, tmp_path, NOW)
    assert [(row.chunk, row.transcript_present) for row in rows] == [("a.py", False), ("z.py", True)]
    assert rows[1].age_seconds == pytest.approx(7200) and rows[1].transcript == str(present)


def row(chunk: str, *, present: bool = True, cost: float = 0.0123, age: float | None = 7200) -> SessionRow:
    return SessionRow(chunk=chunk, session_id=SESSION, cwd="/c", finished_at="", age_seconds=age, cost_usd=cost,
                      status="ok", transcript="/t", transcript_present=present)


def test_the_table_aligns_columns_and_ends_with_totals() -> None:
    lines = render_table([row("app/db.py+3"), row("lib/x.py", present=False, age=None)]).splitlines()
    assert lines[0].split() == ["chunk", "session", "age", "cost", "status", "transcript"]
    assert lines[1].split() == ["app/db.py+3", SESSION, "2h", "$0.0123", "ok", "yes"]
    assert lines[2].split() == ["lib/x.py", SESSION, "?", "$0.0123", "ok", "no"]
    assert lines[1].index(SESSION) == lines[2].index(SESSION) == lines[0].index("session")
    assert lines[3].startswith("2 sessions, 1 with a transcript, $0.0246 spent on them; 1 can no longer be resumed")


def test_the_json_output_has_every_row_and_the_totals() -> None:
    data = json.loads(to_json([row("a"), row("b", present=False)]))
    assert [item["chunk"] for item in data["sessions"]] == ["a", "b"]
    assert data["totals"] == {"sessions": 2, "transcripts_present": 1, "cost_usd": 0.0246}


def test_sessions_on_a_repository_never_analyzed_says_what_to_run(tmp_path: Path) -> None:
    out = io.StringIO()
    assert run_sessions(load_config(tmp_path), out) == 0
    assert "run `claudebuild analyze` first" in out.getvalue()


# -- ask: which chunk a target names ---------------------------------------------------------------

ROOT = Path("/repo")
PLAN = Plan(
    Discovery((SourceFile("app/db.py", 10), SourceFile("app/api.py", 10), SourceFile("big.py", 10)),
              (SkippedFile(".env", "secret"),)),
    (Chunk("app/api.py+1", (ChunkPart("app/api.py"), ChunkPart("app/db.py"))),
     Chunk("big.py#1", (ChunkPart("big.py", 1, 2),)), Chunk("big.py#2", (ChunkPart("big.py", 2, 2),))),
)


@pytest.mark.parametrize("target", ["app/api.py+1", "analyze:app/api.py+1", "app/db.py", "./app/db.py", "/repo/app/db.py"])
def test_a_chunk_id_with_or_without_prefix_or_a_path_in_the_repository_names_its_chunk(target: str) -> None:
    assert resolve_target(target, PLAN, ROOT, ROOT).id == "app/api.py+1"


def test_a_path_relative_to_the_current_directory_names_its_chunk() -> None:
    assert resolve_target("db.py", PLAN, ROOT, ROOT / "app").id == "app/api.py+1"


def test_a_file_that_exists_relative_to_the_current_directory_wins_over_the_same_repo_relative_path(tmp_path: Path) -> None:
    for path in ("db.py", "app/db.py"):
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_text("x = 1\n")
    plan = Plan(Discovery((SourceFile("app/db.py", 6), SourceFile("db.py", 6))),
                (Chunk("app/db.py", (ChunkPart("app/db.py"),)), Chunk("db.py", (ChunkPart("db.py"),))))
    assert resolve_target("db.py", plan, tmp_path, tmp_path / "app").id == "app/db.py"
    assert resolve_target("db.py", plan, tmp_path, tmp_path).id == "db.py"


def test_an_unknown_file_suggests_close_matches() -> None:
    with pytest.raises(ClaudebuildError, match=r"no analyzed file or chunk 'app/dbb\.py'.*did you mean app/db\.py"):
        resolve_target("app/dbb.py", PLAN, ROOT, ROOT)


def test_a_path_outside_the_repository_is_unknown() -> None:
    with pytest.raises(ClaudebuildError, match="no analyzed file or chunk"):
        resolve_target("/elsewhere/app/db.py", PLAN, ROOT, ROOT)


def test_a_skipped_file_says_why_it_has_no_session() -> None:
    with pytest.raises(ClaudebuildError, match=r"\.env is not analyzed \(skipped: secret\)"):
        resolve_target(".env", PLAN, ROOT, ROOT)


def test_a_file_split_over_several_chunks_asks_for_a_chunk_id() -> None:
    with pytest.raises(ClaudebuildError, match=r"big\.py is split over chunks big\.py#1, big\.py#2"):
        resolve_target("big.py", PLAN, ROOT, ROOT)


def test_asking_about_a_chunk_never_analyzed_says_to_run_analyze_first(make_repo: Callable[..., Path]) -> None:
    root = make_repo({"app/db.py": "x = 1\n"})
    with pytest.raises(ClaudebuildError, match=r"was never analyzed: run `claudebuild analyze` first"):
        run_ask(load_config(root), "app/db.py", "why?")


def test_an_empty_question_is_refused_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(ClaudebuildError, match="the question is empty"):
        run_ask(load_config(tmp_path), "app/db.py", "  ")


# -- ask: the call and its outcome -----------------------------------------------------------------

def follow_up(**changes: Any) -> FollowUp:
    return FollowUp(**{"question": "why?", "session": SESSION, "cwd": Path("/c"), "model": "m", **changes})


def test_a_follow_up_resumes_the_session_forked_without_tools_settings_or_a_schema() -> None:
    argv = follow_up().argv("claude")
    assert argv[:4] == ["claude", "-p", "--resume", SESSION] and "--fork-session" in argv
    assert argv[argv.index("--tools") + 1] == "" and argv[argv.index("--setting-sources") + 1] == ""
    assert "--strict-mcp-config" in argv and "--json-schema" not in argv and "--session-id" not in argv


def test_the_question_is_not_in_argv_where_a_leading_dash_would_read_as_an_option() -> None:
    assert "--help me" not in follow_up(question="--help me").argv("claude")


def test_a_follow_up_without_fork_continues_the_same_session() -> None:
    assert "--fork-session" not in follow_up(fork=False).argv("claude")


def answer(**fields: object) -> bytes:
    base: dict[str, object] = {"type": "result", "subtype": "success", "is_error": False, "api_error_status": None,
                               "result": "It is the SQL injection.", "session_id": "fork-id", "total_cost_usd": 0.02,
                               "usage": {"input_tokens": 900, "output_tokens": 30}}
    return orjson.dumps(base | fields)


def test_a_text_answer_is_the_success_of_a_follow_up() -> None:
    outcome = classify_answer(0, answer(), b"")
    assert (outcome.kind, outcome.extra["answer"], outcome.session_id) == (claude.OK, "It is the SQL injection.", "fork-id")
    assert outcome.cost_usd == pytest.approx(0.02)


def test_no_conversation_found_means_the_session_is_gone() -> None:
    outcome = classify_answer(1, b"", f"No conversation found with session ID: {SESSION}\n".encode())
    assert outcome.kind == claude.NO_SESSION and SESSION in outcome.message


def test_an_empty_answer_is_bad_output() -> None:
    assert classify_answer(0, answer(result=""), b"").kind == claude.BAD_OUTPUT


def test_an_api_error_on_a_follow_up_is_classified_as_for_a_review() -> None:
    outcome = classify_answer(1, answer(is_error=True, api_error_status=529, result="API Error: 529", total_cost_usd=0), b"")
    assert outcome.kind == claude.RETRY and outcome.http_status == 529

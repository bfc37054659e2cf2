"""End to end: `ask` resumes a chunk's stored session with the real claude CLI against the fake API.

The fake answers a resumed session (no StructuredOutput tool offered) with a
text that names the files and findings in the history and echoes the
question, so the answer itself proves which history the CLI sent.
"""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from claudebuild.commands.ask import run_ask
from claudebuild.claude.credentials import session_config_dir
from claudebuild.commands.sessions import run_sessions, transcript_path
from claudebuild.config_sources import load_config
from claudebuild.fakeapi import FakeAnthropicServer
from claudebuild.main import main
from claudebuild.engine.store import read_task_values

from conftest import needs_claude

pytestmark = [needs_claude, pytest.mark.e2e, pytest.mark.both_clis]  # resumes differ between CLI versions

FILES = {
    "app/db.py": 'def find(cursor, name):\n    cursor.execute(f"SELECT * FROM users WHERE name = \'{name}\'")\n    return cursor.fetchall()\n',
    "lib/retry.py": "def retry(fn):\n    try:\n        return fn()\n    except:\n        return None\n",
}
QUESTION = "Which finding is most urgent?"
ANSWERED = "the conversation contains 2 file(s) (app/db.py, lib/retry.py) with 2 finding(s)"


@pytest.fixture
def repo(make_repo: Callable[..., Path], fake_api: FakeAnthropicServer) -> Path:
    """Two files in one chunk, analyzed once (one CLI start: each start costs about a CPU-second)."""
    root = make_repo(FILES)
    assert main(["-C", str(root), "analyze"]) == 0
    return root


def stored(root: Path) -> dict[str, dict[str, Any]]:
    return {name.removeprefix("analyze:"): values for name, values in read_task_values(root / ".claudebuild" / "doit.sqlite").items()}


def only_chunk(root: Path) -> str:
    (chunk,) = stored(root)
    return chunk


def ask(root: Path, target: str, question: str = QUESTION, **options: Any) -> str:
    out = io.StringIO()
    assert run_ask(load_config(root), target, question, out=out, **options) == 0
    return out.getvalue()


def answer_session(printed: str) -> str:
    return printed.strip().splitlines()[-1].split()[2]


def transcript(root: Path, chunk: str) -> Path:
    values = stored(root)[chunk]
    return transcript_path(session_config_dir(root / ".claudebuild"), values["cwd"], values["session_id"])


def test_asking_about_a_file_prints_the_answer_from_its_chunks_history(repo: Path) -> None:
    printed = ask(repo, "app/db.py")
    assert ANSWERED in printed and f"You asked: {QUESTION}" in printed
    assert re.fullmatch(r"claudebuild: session [0-9a-f-]{36} \(forked from [0-9a-f-]{36}\), \$\d+\.\d{4}",
                        printed.strip().splitlines()[-1])


def test_the_resume_sends_one_request_with_the_history_and_the_question_but_no_file_read(
        repo: Path, fake_api: FakeAnthropicServer) -> None:
    before = len(fake_api.message_requests())
    ask(repo, "app/db.py")
    requests = fake_api.message_requests()
    assert len(requests) == before + 1
    body = requests[-1].body
    assert body["tools"] == []
    assert ' \\"app/db.py\\"\\n' in json.dumps(body["messages"][0])  # the analysis prompt, as history
    assert requests[-1].user_text.count(' "app/db.py"\n') == 1
    assert any(block.get("type") == "tool_use" and block.get("name") == "StructuredOutput"
               for message in body["messages"] if message["role"] == "assistant" for block in message["content"])
    assert body["messages"][-1]["content"][-1]["text"] == QUESTION


def test_a_forked_ask_answers_in_a_new_session_and_leaves_the_stored_one_unchanged(
        repo: Path, fake_api: FakeAnthropicServer) -> None:
    chunk = only_chunk(repo)
    original = stored(repo)[chunk]["session_id"]
    history = transcript(repo, chunk).read_bytes()
    new_id = answer_session(ask(repo, "lib/retry.py"))
    assert new_id != original and fake_api.message_requests()[-1].session_id == new_id
    assert stored(repo)[chunk]["session_id"] == original
    assert transcript(repo, chunk).read_bytes() == history


def test_a_chunk_id_names_the_chunk_as_a_file_does(repo: Path) -> None:
    assert ANSWERED in ask(repo, f"analyze:{only_chunk(repo)}")


def test_no_fork_continues_the_stored_session(repo: Path, fake_api: FakeAnthropicServer) -> None:
    chunk = only_chunk(repo)
    original = stored(repo)[chunk]["session_id"]
    assert answer_session(ask(repo, "app/db.py", "A question to remember?", fork=False)) == original
    assert fake_api.message_requests()[-1].session_id == original
    assert "A question to remember?" in transcript(repo, chunk).read_text()
    assert stored(repo)[chunk]["session_id"] == original


def test_a_deleted_transcript_makes_ask_exit_1_with_one_line_naming_reanalyze(
        repo: Path, fake_api: FakeAnthropicServer, capsys: pytest.CaptureFixture[str]) -> None:
    transcript(repo, only_chunk(repo)).unlink()
    before = len(fake_api.message_requests())
    assert main(["-C", str(repo), "ask", "app/db.py", QUESTION]) == 1
    error = capsys.readouterr().err
    assert error.startswith(f"claudebuild: error: the session of chunk {only_chunk(repo)} is gone") and error.count("\n") == 1
    assert "cleanupPeriodDays" in error and "--reanalyze" in error and "Traceback" not in error
    assert len(fake_api.message_requests()) == before


def test_reanalyze_analyzes_a_chunk_whose_session_is_gone_and_answers(repo: Path) -> None:
    chunk = only_chunk(repo)
    old = stored(repo)[chunk]
    transcript(repo, chunk).unlink()
    printed = ask(repo, "app/db.py", reanalyze=True)
    new = stored(repo)[chunk]
    assert ANSWERED in printed and f"forked from {new['session_id']}" in printed
    assert new["session_id"] != old["session_id"] and new["finished_at"] > old["finished_at"]
    assert transcript(repo, chunk).is_file()


def test_sessions_lists_every_chunk_with_its_session_id_and_whether_its_transcript_exists(
        make_repo: Callable[..., Path], fake_api: FakeAnthropicServer) -> None:
    root = make_repo(FILES, config="max_files_per_chunk = 1\n")
    assert main(["-C", str(root), "analyze", "-n", "2"]) == 0
    db_chunk, retry_chunk = sorted(stored(root), key=lambda chunk: stored(root)[chunk]["sent"][0]["path"])
    transcript(root, retry_chunk).unlink()
    out = io.StringIO()
    assert run_sessions(load_config(root), out, as_json=True) == 0
    listed = json.loads(out.getvalue())
    assert {row["chunk"]: row["session_id"] for row in listed["sessions"]} == {
        chunk: values["session_id"] for chunk, values in stored(root).items()}
    assert {row["chunk"]: row["transcript_present"] for row in listed["sessions"]} == {db_chunk: True, retry_chunk: False}

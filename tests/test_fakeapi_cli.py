"""The real `claude` CLI against the fake API: the contract claudebuild relies on.

Each test starts the genuine CLI (about a second of CPU each) with the flags
claudebuild uses, offline: the only server it can reach is the fake on
127.0.0.1, the config dir is private to the test, retries are off.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import pytest

from claudebuild.claude.environment import offline_settings
from claudebuild.fakeapi import FakeAnthropicServer, Fault, review


def find_claude() -> str | None:
    """CLAUDEBUILD_CLAUDE, else the repo's pinned tools/ install, else `claude` on PATH."""
    for candidate in (os.environ.get("CLAUDEBUILD_CLAUDE"),
                      str(Path(__file__).resolve().parents[1] / "tools/node_modules/.bin/claude"),
                      shutil.which("claude")):
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


CLAUDE = find_claude()

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.slow,  # every test starts the real CLI
    pytest.mark.skipif(CLAUDE is None, reason="no claude CLI: set CLAUDEBUILD_CLAUDE or install it into tools/"),
]

SCHEMA = json.dumps({
    "type": "object", "additionalProperties": False, "required": ["findings"],
    "properties": {"findings": {"type": "array", "items": {
        "type": "object", "additionalProperties": False,
        "required": ["file", "line", "severity", "category", "title", "message", "quote"],
        "properties": {
            "file": {"type": "string"}, "line": {"type": "integer", "minimum": 1},
            "severity": {"type": "string", "enum": ["critical", "high", "medium", "low", "info"]},
            "category": {"type": "string"}, "title": {"type": "string"}, "message": {"type": "string"},
            "quote": {"type": "string"}}}}},
})
STDIN = (
    "Fence boundary: @@1\n"
    '@@1 "src/app/db.py"\n'
    "import os\n"
    'password = "hunter2-secret"\n'
    'cur.execute(f"SELECT * FROM users WHERE id={uid}")\n'
    "except:\n"
    '@@1 "src/my app/util.py" lines 109-110 of 300\n'
    "def f(s):\n"
    "110|    return eval(s)  # TODO\n"
    "@@1 end\n"
)
FLAGS = ["--output-format", "json", "--max-turns", "3", "--tools", "", "--setting-sources", "",
         "--strict-mcp-config", "--system-prompt", "You are a code reviewer.", "--model", "claude-sonnet-4-5"]


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    (tmp_path / "work").mkdir()
    return tmp_path / "work"


def run_claude(api: FakeAnthropicServer, workdir: Path, args: list[str], stdin: str = "") -> tuple[int, Any]:
    """Run the CLI offline; returns (exit code, parsed stdout or None when stdout is empty)."""
    home = workdir.parent
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home),
           **offline_settings(api.url, home / "claude-config"), "CLAUDE_CODE_MAX_RETRIES": "0"}
    assert CLAUDE is not None
    done = subprocess.run([CLAUDE, "-p", *args], input=stdin, capture_output=True, text=True, cwd=workdir,
                          env=env, timeout=60, check=False)
    return done.returncode, (json.loads(done.stdout) if done.stdout.strip() else None)


def review_call(api: FakeAnthropicServer, workdir: Path, session_id: str | None = None) -> tuple[int, Any]:
    session = ["--session-id", session_id or str(uuid.uuid4())]
    return run_claude(api, workdir, ["Review the files below.", "--json-schema", SCHEMA, *FLAGS, *session], STDIN)


def test_a_structured_output_call_returns_the_reviewers_findings_for_stdin(
        api: FakeAnthropicServer, workdir: Path) -> None:
    session_id = str(uuid.uuid4())
    code, result = review_call(api, workdir, session_id)

    assert code == 0 and result["is_error"] is False and result["subtype"] == "success"
    assert result["structured_output"]["findings"] == review(STDIN)
    assert result["session_id"] == session_id
    assert result["total_cost_usd"] > 0
    assert [(r.method, r.path.split("?")[0]) for r in api.requests] == [("HEAD", "/"), ("POST", "/v1/messages")]
    assert api.session_ids() == [session_id]


def test_a_401_fault_makes_the_cli_exit_1_with_an_api_error_result(api: FakeAnthropicServer, workdir: Path) -> None:
    api.faults = [Fault(status=401)]
    code, result = review_call(api, workdir)

    assert code == 1
    assert (result["is_error"], result["api_error_status"], result["total_cost_usd"]) == (True, 401, 0)
    assert "structured_output" not in result


def test_a_text_only_answer_exits_0_without_structured_output_after_one_nudge(
        api: FakeAnthropicServer, workdir: Path) -> None:
    api.faults = [Fault(text_only=True)]
    code, result = review_call(api, workdir)
    requests = api.message_requests()

    assert code == 0 and result["is_error"] is False
    assert "structured_output" not in result
    assert len(requests) == 2
    assert "[structured-output-enforce]" in requests[1].user_text


def test_a_broken_stream_is_retried_once_without_streaming(api: FakeAnthropicServer, workdir: Path) -> None:
    api.faults = [Fault(malformed=True, times=1)]
    code, result = review_call(api, workdir)

    assert code == 0 and result["structured_output"]["findings"] == review(STDIN)
    assert [r.body.get("stream") for r in api.message_requests()] == [True, None]


def test_a_resumed_fork_of_a_review_session_gets_a_text_answer(api: FakeAnthropicServer, workdir: Path) -> None:
    session_id = str(uuid.uuid4())
    assert review_call(api, workdir, session_id)[0] == 0

    code, result = run_claude(api, workdir, ["Which finding is most urgent?", *FLAGS, "--resume", session_id,
                                             "--fork-session"])
    last = api.message_requests()[-1]

    assert code == 0 and result["is_error"] is False
    assert result["session_id"] != session_id
    assert f"2 file(s) (src/app/db.py, src/my app/util.py) with {len(review(STDIN))} finding(s)" in result["result"]
    assert result["result"].endswith("You asked: Which finding is most urgent?")
    assert "hunter2-secret" in last.user_text  # the history was sent again
    assert last.body["tools"] == []

"""End to end: how the real CLI starts (`--bare` or normal) for each source of credentials, and where its state goes.

An `ANTHROPIC_API_KEY` in the environment gives the CLI claudebuild's own config directory
(`.claudebuild/claude-config`) and, on a CLI that keeps the prompt in its transcript under
`--bare` (2.1.332; not 2.1.197), the bare start. A user's `apiKeyHelper` (their settings.json)
also allows bare. Anything else (here: a bearer token, as a logged-in CLI has) is the normal start
in the user's config directory. Reviews, sessions and `ask` work in every mode.
"""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from claudebuild.claude.credentials import BARE_MIN_VERSION
from claudebuild.claude.runner import parse_version
from claudebuild.commands.ask import run_ask
from claudebuild.config_sources import load_config
from claudebuild.fakeapi import FakeAnthropicServer
from claudebuild.main import main

from conftest import needs_claude

pytestmark = [needs_claude, pytest.mark.e2e, pytest.mark.both_clis]

FILES = {"app/db.py": 'def find(cursor, name):\n    cursor.execute(f"SELECT * FROM users WHERE name = \'{name}\'")\n'}
REMINDER = "<system-reminder>"


@pytest.fixture
def repo(make_repo: Callable[..., Path]) -> Path:
    return make_repo(FILES)


def cli_is_bare_capable(claude_cli: str) -> bool:
    import subprocess

    version = subprocess.run([claude_cli, "--version"], capture_output=True, text=True, check=True).stdout
    parsed = parse_version(version)
    return parsed is not None and parsed >= BARE_MIN_VERSION


def analyze_and_ask(repo: Path) -> str:
    assert main(["-C", str(repo), "analyze", "-n", "1"]) == 0
    out = io.StringIO()
    assert run_ask(load_config(repo), "app/db.py", "Why is line 2 a risk?", out=out) == 0
    return out.getvalue()


def transcripts(config_dir: Path) -> list[Path]:
    return sorted((config_dir / "projects").glob("*/*.jsonl"))


def sent_reminders(api: FakeAnthropicServer) -> bool:
    return any(REMINDER in json.dumps(request.body["messages"][0]) for request in api.message_requests())


def test_an_environment_key_gives_the_cli_a_config_dir_inside_the_state_dir(
        repo: Path, fake_api: FakeAnthropicServer, claude_cli: str) -> None:
    user_dir = Path(os.environ["CLAUDE_CONFIG_DIR"])
    answer = analyze_and_ask(repo)
    assert "You asked: Why is line 2 a risk?" in answer and "app/db.py" in answer
    assert len(transcripts(repo / ".claudebuild" / "claude-config")) == 2  # the review and the forked answer
    assert not (user_dir / ".claude.json").exists() and not transcripts(user_dir)


def test_an_environment_key_starts_the_cli_bare_where_the_cli_keeps_sessions_under_bare(
        repo: Path, fake_api: FakeAnthropicServer, claude_cli: str) -> None:
    analyze_and_ask(repo)
    calls = [json.loads(line) for line in (repo / ".claudebuild" / "calls.ndjson").read_text().splitlines()]
    bare = cli_is_bare_capable(claude_cli)
    assert [call.get("bare") for call in calls] == [bare, bare]
    if bare:  # bare drops the environment, model and date reminders the newest CLI adds
        assert not sent_reminders(fake_api)


def test_a_user_api_key_helper_is_handed_to_the_cli_and_allows_the_bare_start(
        repo: Path, fake_api: FakeAnthropicServer, claude_cli: str, monkeypatch: pytest.MonkeyPatch) -> None:
    user_dir = Path(os.environ["CLAUDE_CONFIG_DIR"])
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    (user_dir / "settings.json").write_text(json.dumps({"apiKeyHelper": "echo sk-ant-helper-not-a-real-key"}))
    answer = analyze_and_ask(repo)
    assert "You asked:" in answer
    assert {request.headers.get("x-api-key") for request in fake_api.message_requests()} == {"<redacted>"}
    assert sent_reminders(fake_api) != cli_is_bare_capable(claude_cli)  # bare sends no reminders
    assert len(transcripts(user_dir)) == 2  # the helper's user keeps their own config dir


def test_without_a_key_the_cli_starts_normally_in_the_users_config_dir(
        repo: Path, fake_api: FakeAnthropicServer, monkeypatch: pytest.MonkeyPatch) -> None:
    user_dir = Path(os.environ["CLAUDE_CONFIG_DIR"])
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "not-a-real-token")  # what a logged-in CLI sends, without --bare's key rule
    answer = analyze_and_ask(repo)
    assert "You asked:" in answer
    calls = [json.loads(line) for line in (repo / ".claudebuild" / "calls.ndjson").read_text().splitlines()]
    assert [call.get("bare") for call in calls] == [False, False]
    assert len(transcripts(user_dir)) == 2 and not (repo / ".claudebuild" / "claude-config").exists()

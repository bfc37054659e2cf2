"""Shared fixtures: the real claude CLI, the local fake API, isolated environments, small repos.

An autouse guard points every test at a dead loopback port and a private
CLAUDE_CONFIG_DIR, so no test can reach the real Anthropic API or touch the
developer's ~/.claude, even by accident.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest

from claudebuild.fakeapi import FakeAnthropicServer

REPO = Path(__file__).resolve().parents[1]


def find_claude() -> str | None:
    candidates = [os.environ.get("CLAUDEBUILD_CLAUDE"), str(REPO / "tools/node_modules/.bin/claude"), shutil.which("claude")]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    return None


CLAUDE = find_claude()
needs_claude = pytest.mark.skipif(CLAUDE is None, reason="the claude CLI is not installed: run scripts/setup.sh")


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir = tmp_path_factory.mktemp("claude-config")
    for key in ("ANTHROPIC_AUTH_TOKEN", "CLAUDE_CODE_USE_BEDROCK", "CLAUDE_CODE_USE_VERTEX", "CLAUDEBUILD_MODEL"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")  # discard port: nothing answers
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-not-a-real-key")
    monkeypatch.setenv("CLAUDE_CONFIG_DIR", str(config_dir))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))  # no user claudebuild config
    monkeypatch.delenv("CLAUDEBUILD_CONFIG_FROM", raising=False)
    monkeypatch.setenv("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
    monkeypatch.setenv("DISABLE_AUTOUPDATER", "1")
    if CLAUDE:
        monkeypatch.setenv("CLAUDEBUILD_CLAUDE", CLAUDE)


@pytest.fixture
def fake_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeAnthropicServer]:
    """A running fake API that the real CLI (in this process's environment) talks to."""
    with FakeAnthropicServer() as server:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
        yield server


def write_files(root: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[..., Path]:
    def make(files: dict[str, str | bytes], name: str = "repo", config: str = "") -> Path:
        root = tmp_path / name
        root.mkdir()
        write_files(root, files)
        if config:
            (root / "claudebuild.toml").write_text(config, encoding="utf-8")
        return root

    return make


GIT_ISOLATION = {"GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t",
                 "GIT_COMMITTER_EMAIL": "t@example.com", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
"""A fixed identity and none of the developer's or the machine's git config."""


def git(root: Path, *args: str, check: bool = True) -> str:
    """`git ARGS` in `root`, isolated by `GIT_ISOLATION`; its stdout and stderr, stripped."""
    done = subprocess.run(["git", *args], cwd=root, env={**os.environ, **GIT_ISOLATION}, capture_output=True,
                          text=True, check=False)
    assert not check or done.returncode == 0, done.stderr
    return (done.stdout + done.stderr).strip()


def run_cli(args: list[str], *, cwd: Path, env: dict[str, str] | None = None, timeout: float = 300, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    """`python -m claudebuild ...` as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "claudebuild", *args],
        cwd=cwd,
        env=env if env is not None else dict(os.environ),
        capture_output=True,
        text=True,
        timeout=timeout,
        **kwargs,
    )


def claude_pids_in(cwd: Path) -> list[int]:
    """Live processes whose working directory is the session cwd of this repository."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if os.readlink(entry / "cwd") == str(cwd):
                    pids.append(int(entry.name))
            except OSError:
                continue
    return pids

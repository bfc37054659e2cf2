"""Shared fixtures: the real claude CLI, the local fake API, isolated environments, small repos.

An autouse guard points every test at a dead loopback port and a private
CLAUDE_CONFIG_DIR, so no test can reach the real Anthropic API or touch the
developer's ~/.claude, even by accident.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from claudebuild.claude.environment import ROUTES_ELSEWHERE, offline_settings
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

NEWEST_ENV = "CLAUDEBUILD_CLAUDE_NEWEST"
"""Where the newest tested CLI is; scripts/test.sh sets it, so in CI a missing one fails instead of skipping."""


def find_newest_claude() -> str | None:
    """The newest tested CLI (claudebuild.CLAUDE_CODE_NEWEST): $CLAUDEBUILD_CLAUDE_NEWEST, else tools-newest/."""
    candidate = os.environ.get(NEWEST_ENV) or str(REPO / "tools-newest/node_modules/.bin/claude")
    return candidate if Path(candidate).is_file() and os.access(candidate, os.X_OK) else None


NEWEST_CLAUDE = find_newest_claude()
CLI_VERSIONS = ("pinned", "newest")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Tests marked `both_clis` run once per CLI version, as `test[pinned]` and `test[newest]`.

    Only a chosen set of end-to-end scenarios is marked: users install the newest CLI, but
    every CLI start costs about a CPU-second, so doubling the whole suite would double CI.
    """
    if metafunc.definition.get_closest_marker("both_clis") is not None:
        metafunc.parametrize("claude_cli", CLI_VERSIONS, indirect=True)


@pytest.hookimpl(tryfirst=True)  # before `-m` deselects
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """An end-to-end test that runs the real CLI against the fake API (the `fake_api` fixture) is `slow`:
    each CLI start costs about a CPU-second. `-m "not slow"` keeps the unit tests and the quick
    end-to-end ones (refusals, errors before any call); a slow test without that fixture is marked by hand.

    Slow tests then run first (a stable sort, so every xdist worker collects the same order): with the quick
    ones last, a worker that finishes early fills the tail with unit tests instead of idling beside the one
    still running a 60-second scenario."""
    for item in items:
        if item.get_closest_marker("e2e") is not None and "fake_api" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.slow)
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    config_dir = tmp_path_factory.mktemp("claude-config")
    for key in (*ROUTES_ELSEWHERE, "CLAUDEBUILD_MODEL", "CLAUDEBUILD_CONFIG_FROM"):
        monkeypatch.delenv(key, raising=False)
    for key, value in offline_settings("http://127.0.0.1:9", config_dir).items():  # discard port: nothing answers
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path_factory.mktemp("xdg-config")))  # no user claudebuild config
    if CLAUDE:
        monkeypatch.setenv("CLAUDEBUILD_CLAUDE", CLAUDE)


@pytest.fixture(autouse=True)
def claude_cli(request: pytest.FixtureRequest, isolated_environment: None, monkeypatch: pytest.MonkeyPatch) -> str | None:
    """The claude binary this test's runs use: for a `both_clis` test, the pinned CLI as `[pinned]` and the newest
    as `[newest]`; for every other test the newest, which users have (the pinned one when it is not installed)."""
    version = getattr(request, "param", None)
    if version == "pinned" or (version is None and NEWEST_CLAUDE is None):
        return CLAUDE
    if NEWEST_CLAUDE is None:
        if os.environ.get(NEWEST_ENV):
            pytest.fail(f"${NEWEST_ENV} is not an executable claude CLI: {os.environ[NEWEST_ENV]}")
        pytest.skip("the newest claude CLI is not installed in tools-newest/: run scripts/setup.sh")
    monkeypatch.setenv("CLAUDEBUILD_CLAUDE", NEWEST_CLAUDE)
    return NEWEST_CLAUDE


@pytest.fixture
def api() -> Iterator[FakeAnthropicServer]:
    """A fresh fake API that is always stopped, even when the test fails."""
    server = FakeAnthropicServer().start()
    try:
        yield server
    finally:
        server.stop()


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


@pytest.fixture
def app_git_repo(tmp_path: Path) -> Path:
    """A git work tree on branch `main` holding one file, `app.py`, not committed yet."""
    root = tmp_path / "repo"
    root.mkdir()
    git(root, "init", "-q", "-b", "main")
    (root / "app.py").write_text("x = 1\n")
    return root


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
        check=False,
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


T = TypeVar("T")


def wait_until(condition: Callable[[], T], *, timeout: float = 60, what: str = "the condition") -> T:
    """Poll `condition` until it returns something truthy, which is returned; fail the test after `timeout`
    seconds instead of waiting forever (or asserting after a fixed sleep that a slow machine outlasts)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        assert time.monotonic() < deadline, f"{what} did not happen within {timeout:g}s"
        time.sleep(0.05)


def alive(pid: int) -> bool:
    """The process exists and is not a zombie (an exited child nobody has reaped yet is not running)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def pids_working_under(root: Path) -> list[int]:
    """Live processes (other than this one) whose working directory is `root` or inside it."""
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                cwd = Path(os.readlink(entry / "cwd"))
            except OSError:
                continue
            if cwd == root or root in cwd.parents:
                pids.append(int(entry.name))
    return pids


def end_process(process: subprocess.Popen[Any], grace: float = 10) -> None:
    """SIGTERM (claudebuild then stops its own children), SIGKILL after `grace` seconds; the whole
    process group when the process leads one (started with `start_new_session=True`)."""
    if process.poll() is not None:
        return
    try:
        own_group = os.getpgid(process.pid) == process.pid
    except ProcessLookupError:
        own_group = False
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 30.0)):
        try:
            if own_group:
                os.killpg(process.pid, sig)
            else:
                process.send_signal(sig)
        except ProcessLookupError:
            pass
        try:
            process.wait(timeout=wait)
            return
        except subprocess.TimeoutExpired:
            continue


@pytest.fixture
def started(tmp_path: Path) -> Iterator[list[subprocess.Popen[Any]]]:
    """Processes a test starts: ended at teardown even when the test fails, and so is any process still
    working inside this test's tmp_path (e.g. `claude` children a killed or hung run left behind)."""
    processes: list[subprocess.Popen[Any]] = []
    yield processes
    for process in processes:
        end_process(process)
    for pid in pids_working_under(tmp_path):
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

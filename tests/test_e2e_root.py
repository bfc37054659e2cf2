"""End to end: run from a subdirectory, every command uses the repository's root, settings and cache.

The root is found like git and ruff find theirs (the nearest claudebuild.toml or
[tool.claudebuild] up from the current directory, else the git work tree's top),
so a run from a subdirectory sends nothing the repository excludes and pays for
nothing twice; paths on the command line stay relative to the current directory.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from claudebuild.fakeapi import FakeAnthropicServer
from claudebuild.engine.store import read_task_values
from conftest import git, needs_claude, run_cli

pytestmark = [pytest.mark.e2e, needs_claude]

FILES = {
    "src/app.py": "def run(x):\n    return eval(x)\n",
    "keep/k.py": "import os\n\n\ndef wipe(path):\n    os.system('rm -rf ' + path)\n",
}


@pytest.fixture
def repo(make_repo: Callable[..., Path]) -> Path:
    """A git repository whose root excludes keep/ twice over (.claudeignore and the `ignore` setting)."""
    root = make_repo({**FILES, ".claudeignore": "keep/\n", ".gitignore": ".claudebuild/\n"},
                     config='ignore = ["keep/**"]\n')
    git(root, "init", "-q", "-b", "main")
    return root


def chunks(root: Path) -> list[str]:
    return sorted(read_task_values(root / ".claudebuild" / "doit.sqlite"))


def test_analyze_from_an_excluded_subdirectory_sends_nothing_the_repository_excludes(
        repo: Path, fake_api: FakeAnthropicServer) -> None:
    done = run_cli(["analyze"], cwd=repo / "keep")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "keep/k.py" not in fake_api.received_text() and "rm -rf" not in fake_api.received_text()
    assert ' "src/app.py"\n' in fake_api.received_text() and chunks(repo)
    assert not (repo / "keep" / ".claudebuild").exists()
    assert f"repository root {repo} (nearest claudebuild.toml)" in done.stderr


def test_a_run_from_a_subdirectory_reuses_the_cache_of_a_run_from_the_top(
        repo: Path, fake_api: FakeAnthropicServer) -> None:
    assert run_cli(["analyze"], cwd=repo).returncode == 0
    again = run_cli(["report"], cwd=repo / "src")

    assert again.returncode == 0, again.stdout + again.stderr
    assert len(fake_api.message_requests()) == 1 and "every chunk is up to date" in again.stdout
    assert (repo / ".claudebuild" / "report.json").is_file() and not (repo / "src" / ".claudebuild").exists()


def test_without_claudebuild_settings_a_subdirectory_run_uses_the_git_work_tree(
        make_repo: Callable[..., Path], fake_api: FakeAnthropicServer) -> None:
    root = make_repo({"src/app.py": FILES["src/app.py"], "lib/util.py": "def f():\n    return 1\n"})
    git(root, "init", "-q", "-b", "main")
    done = run_cli(["analyze"], cwd=root / "lib")

    assert done.returncode == 0, done.stdout + done.stderr
    assert ' "src/app.py"\n' in fake_api.received_text()
    assert (root / ".claudebuild" / "doit.sqlite").is_file() and not (root / "lib" / ".claudebuild").exists()


def test_doit_commands_from_a_subdirectory_list_the_repositorys_tasks(repo: Path) -> None:
    listed = run_cli(["list", "--all"], cwd=repo / "src")

    assert listed.returncode == 0, listed.stderr
    assert "analyze:" in listed.stdout and "keep/k.py" not in listed.stdout
    assert not (repo / "src" / ".claudebuild").exists()


def test_ask_from_a_subdirectory_takes_the_file_relative_to_it(repo: Path, fake_api: FakeAnthropicServer) -> None:
    assert run_cli(["analyze"], cwd=repo).returncode == 0
    asked = run_cli(["ask", "app.py", "What is wrong here?"], cwd=repo / "src")

    assert asked.returncode == 0, asked.stdout + asked.stderr
    assert "You asked: What is wrong here?" in asked.stdout


def test_ask_takes_a_file_named_with_a_dash_after_double_dash(
        make_repo: Callable[..., Path], fake_api: FakeAnthropicServer) -> None:
    root = make_repo({"-dash.py": "def run(x):\n    return eval(x)\n"})
    assert run_cli(["analyze"], cwd=root).returncode == 0
    asked = run_cli(["ask", "--", "-dash.py", "Why?"], cwd=root)

    assert asked.returncode == 0, asked.stdout + asked.stderr
    assert "You asked: Why?" in asked.stdout


def test_ask_takes_the_task_name_that_list_shows(repo: Path, fake_api: FakeAnthropicServer) -> None:
    assert run_cli(["analyze"], cwd=repo).returncode == 0
    (chunk,) = chunks(repo)
    asked = run_cli(["ask", chunk, "Why?"], cwd=repo / "keep")

    assert asked.returncode == 0, asked.stdout + asked.stderr
    assert "You asked: Why?" in asked.stdout


def test_the_hook_from_a_subdirectory_takes_staged_files_relative_to_it(
        repo: Path, fake_api: FakeAnthropicServer) -> None:
    git(repo, "add", "-A")
    done = run_cli(["hook", "run", "app.py", "--fail-on", "critical"], cwd=repo / "src")

    assert done.returncode == 0, done.stdout + done.stderr
    assert "holding 1 staged file(s)" in done.stdout and ' "src/app.py"\n' in fake_api.received_text()
    assert not (repo / "src" / ".claudebuild").exists()

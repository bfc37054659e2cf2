"""End to end: the fast paths of a large no-op run catch every change the slow path catches.

Discovery reuses a file's verdict while its stat signature is unchanged (the
discovery memo), the chunk plan is reused while the files are the same, and
`claudebuild analyze` hands doit only the chunks that can be stale. Each test
makes one kind of change after a run that filled those memos and checks that
the next run sees it exactly as a run without memos would.

Files written by a test are seconds old, and the memo does not remember files
changed within `RACY_NS` of a run (see discover_memo.py); these tests set it to
0 so the memo is used at once, except the one that checks the racy rule itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from claudebuild.config_sources import load_config
from claudebuild.fakeapi import FakeAnthropicServer
from claudebuild.main import main
from claudebuild.pipeline import discover_memo
from claudebuild.run.build import Build

from conftest import git, needs_claude, run_cli

pytestmark = [needs_claude, pytest.mark.e2e]

FILES = {
    "app/db.py": 'def find(cursor, name):\n    cursor.execute(f"SELECT * FROM users WHERE name = \'{name}\'")\n',
    "app/api.py": "import json\n\n\ndef parse(text):\n    return json.loads(text)\n",
    "app/models.py": "class User:\n    def __init__(self, name):\n        self.name = name\n",
    "lib/retry.py": "def retry(fn):\n    return fn()\n",
    "lib/text.py": "def shout(text):\n    return text.upper()\n",
}
CONFIG = "max_files_per_chunk = 2\n"


@pytest.fixture(autouse=True)
def no_racy_window(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discover_memo, "RACY_NS", 0)


@pytest.fixture
def repo(make_repo: Callable[..., Path]) -> Path:
    root = make_repo(FILES, config=CONFIG)
    (root / ".gitignore").write_text(".claudebuild/\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "start")
    return root


def analyze(root: Path) -> int:
    return main(["-C", str(root), "report", "-n", "2"])


def calls(api: FakeAnthropicServer) -> int:
    return len(api.message_requests())


def report_json(root: Path) -> dict[str, Any]:
    return json.loads((root / ".claudebuild" / "report.json").read_text())


def finding_files(root: Path) -> set[str]:
    return {finding["file"] for finding in report_json(root)["findings"]}


def planned(root: Path) -> tuple[Build, list[str]]:
    """A fresh build's plan (as the next run would make it): the build, for its memo, and the planned paths."""
    build = Build(load_config(root))
    with build:
        paths = [file.path for file in build.plan().discovery.files]
    return build, paths


def test_a_no_op_reuses_every_verdict_and_makes_no_call(repo: Path, fake_api: FakeAnthropicServer) -> None:
    assert analyze(repo) == 0
    before = calls(fake_api)
    build, paths = planned(repo)
    assert build.memo.reused >= len(FILES) and sorted(paths) == sorted([*FILES, ".gitignore"])
    assert analyze(repo) == 0
    assert calls(fake_api) == before
    assert report_json(repo)["summary"]["cached"] == report_json(repo)["summary"]["chunks"]


def test_an_edit_that_keeps_size_and_mtime_is_still_caught(repo: Path, fake_api: FakeAnthropicServer) -> None:
    assert analyze(repo) == 0
    target = repo / "lib/text.py"
    old = target.stat()
    text = target.read_text()
    edited = text.replace("return text.upper()", "return eval(text)  ")
    assert len(edited) == len(text)
    target.write_text(edited)
    os.utime(target, ns=(old.st_atime_ns, old.st_mtime_ns))  # same size, same mtime: only ctime tells
    fake_api.reset()
    assert analyze(repo) == 0
    requests = fake_api.message_requests()
    assert len(requests) == 1 and ' "lib/text.py"\n' in requests[0].user_text
    assert "lib/text.py" in finding_files(repo)


def test_an_added_and_a_deleted_file_are_seen(repo: Path, fake_api: FakeAnthropicServer) -> None:
    assert analyze(repo) == 0
    (repo / "lib/new.py").write_text("def run(code):\n    return eval(code)\n")
    (repo / "app/db.py").unlink()
    fake_api.reset()
    assert analyze(repo) == 0
    assert calls(fake_api) >= 1
    files = finding_files(repo)
    assert "lib/new.py" in files and "app/db.py" not in files
    _, paths = planned(repo)
    assert "lib/new.py" in paths and "app/db.py" not in paths


def test_an_ignore_pattern_in_the_config_is_not_hidden_by_the_memo(repo: Path, fake_api: FakeAnthropicServer) -> None:
    assert analyze(repo) == 0
    (repo / "claudebuild.toml").write_text(CONFIG + 'ignore = ["app/db.py"]\n')
    build, paths = planned(repo)
    assert "app/db.py" not in paths and build.memo.reused == 0  # other settings: nothing is reused
    assert analyze(repo) == 0
    assert "app/db.py" not in finding_files(repo)


def test_a_changed_claudeignore_is_not_hidden_by_the_memo(repo: Path, fake_api: FakeAnthropicServer) -> None:
    assert analyze(repo) == 0
    (repo / ".claudeignore").write_text("app/\n")
    _, paths = planned(repo)
    assert not any(path.startswith("app/") for path in paths)
    assert analyze(repo) == 0
    assert not any(path.startswith("app/") for path in finding_files(repo))


def test_a_file_newly_ignored_by_gitignore_leaves_the_plan(repo: Path, fake_api: FakeAnthropicServer) -> None:
    assert analyze(repo) == 0
    git(repo, "rm", "-q", "--cached", "app/db.py")
    (repo / ".gitignore").write_text(".claudebuild/\napp/db.py\n")
    _, paths = planned(repo)
    assert "app/db.py" not in paths
    assert analyze(repo) == 0
    assert "app/db.py" not in finding_files(repo)


def test_checking_out_another_branch_reanalyzes_what_differs(repo: Path, fake_api: FakeAnthropicServer) -> None:
    git(repo, "checkout", "-q", "-b", "other")
    (repo / "lib/retry.py").write_text("def retry(fn):\n    try:\n        return fn()\n    except:\n        return None\n")
    git(repo, "commit", "-q", "-am", "bare except")
    git(repo, "checkout", "-q", "main")
    assert analyze(repo) == 0
    assert "lib/retry.py" not in finding_files(repo)
    fake_api.reset()
    git(repo, "checkout", "-q", "other")
    assert analyze(repo) == 0
    requests = fake_api.message_requests()
    assert len(requests) == 1 and ' "lib/retry.py"\n' in requests[0].user_text
    assert "lib/retry.py" in finding_files(repo)


def test_a_corrupt_memo_is_an_empty_one(repo: Path, fake_api: FakeAnthropicServer) -> None:
    assert analyze(repo) == 0
    for name in ("discovery.json", "plan.json"):
        (repo / ".claudebuild" / name).write_text('{"settings": 1, "entries": [')
    before = calls(fake_api)
    build, paths = planned(repo)
    assert build.memo.reused == 0 and sorted(paths) == sorted([*FILES, ".gitignore"])
    assert analyze(repo) == 0
    assert calls(fake_api) == before


def test_a_file_changed_just_before_a_run_is_classified_again(repo: Path, fake_api: FakeAnthropicServer,
                                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discover_memo, "RACY_NS", 3600 * 10**9)  # every file here is "just changed"
    assert analyze(repo) == 0
    build, _ = planned(repo)
    assert build.memo.reused == 0


def test_plain_doit_and_doit_list_still_see_every_chunk_after_a_no_op(repo: Path, fake_api: FakeAnthropicServer) -> None:
    (repo / "dodo.py").write_text("from claudebuild.engine import dodo_tasks\n\nglobals().update(dodo_tasks(__file__))\n")
    assert analyze(repo) == 0
    before = calls(fake_api)
    assert analyze(repo) == 0  # hands doit no chunk at all
    build, _ = planned(repo)
    with build:
        ids = [chunk.id for chunk in build.plan().chunks]
    listed = run_cli(["list", "--all", "--status"], cwd=repo)
    assert listed.returncode == 0, listed.stderr
    assert all(f"U analyze:{chunk_id}" in listed.stdout for chunk_id in ids)
    done = subprocess.run([sys.executable, "-m", "doit", "-n", "2", "analyze"], cwd=repo, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert calls(fake_api) == before


def test_plain_doit_shown_only_stale_chunks_still_analyzes_an_edit(repo: Path, fake_api: FakeAnthropicServer) -> None:
    (repo / "dodo.py").write_text("from claudebuild.engine import dodo_tasks\n\nglobals().update(dodo_tasks(__file__))\n")
    assert analyze(repo) == 0
    (repo / "lib/text.py").write_text("def shout(text):\n    return eval(text)\n")
    fake_api.reset()
    done = subprocess.run([sys.executable, "-m", "doit", "-n", "2", "analyze"], cwd=repo, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    requests = fake_api.message_requests()
    assert len(requests) == 1 and ' "lib/text.py"\n' in requests[0].user_text
    again = subprocess.run([sys.executable, "-m", "doit", "-n", "2", "analyze"], cwd=repo, capture_output=True, text=True,
                           timeout=300, check=False)
    assert again.returncode == 0 and "every chunk is up to date" in again.stdout, again.stdout + again.stderr
    assert len(fake_api.message_requests()) == 1


# -- the whole-run fast path (run/noop_stamp.py) ------------------------------------------------------------

def analyze_only(root: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`claudebuild analyze`: its exit status and what it printed."""
    code = main(["-C", str(root), "analyze", "-n", "2"])
    return code, capsys.readouterr().out


def never_plans(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Build) -> None:
        raise AssertionError("the fast path must not plan")

    monkeypatch.setattr(Build, "plan", refuse)


def test_a_no_op_after_a_no_op_repeats_its_outcome_without_planning(repo: Path, fake_api: FakeAnthropicServer,
                                                                     capsys: pytest.CaptureFixture[str],
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    analyze_only(repo, capsys)
    code, slow = analyze_only(repo, capsys)  # finds nothing to do: stores the stamp
    before = calls(fake_api)
    with monkeypatch.context() as patched:
        never_plans(patched)
        assert analyze_only(repo, capsys) == (code, slow)
    assert "every chunk is up to date" in slow and calls(fake_api) == before


def test_an_edit_after_a_repeated_no_op_is_analyzed(repo: Path, fake_api: FakeAnthropicServer,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    analyze_only(repo, capsys)
    analyze_only(repo, capsys)
    analyze_only(repo, capsys)  # the fast path
    target = repo / "lib/text.py"
    old = target.stat()
    text = target.read_text()
    target.write_text(text.replace("return text.upper()", "return eval(text)  "))
    os.utime(target, ns=(old.st_atime_ns, old.st_mtime_ns))  # same size, same mtime
    fake_api.reset()
    _, out = analyze_only(repo, capsys)
    requests = fake_api.message_requests()
    assert len(requests) == 1 and ' "lib/text.py"\n' in requests[0].user_text, out


def test_forget_after_a_repeated_no_op_analyzes_the_chunk_again(repo: Path, fake_api: FakeAnthropicServer,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    analyze_only(repo, capsys)
    analyze_only(repo, capsys)
    build, _ = planned(repo)
    with build:
        task = build.plan().jobs[0].task
    forgot = run_cli(["forget", task], cwd=repo)
    assert forgot.returncode == 0, forgot.stderr
    fake_api.reset()
    analyze_only(repo, capsys)
    assert calls(fake_api) == 1


def test_plain_doit_repeats_a_no_op_without_planning(repo: Path, fake_api: FakeAnthropicServer,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "dodo.py").write_text("from claudebuild.engine import dodo_tasks\n\nglobals().update(dodo_tasks(__file__))\n")
    (repo / ".gitignore").write_text(".claudebuild/\n__pycache__/\n")
    analyze_only(repo, capsys)
    analyze_only(repo, capsys)  # stores the stamp
    memo = repo / ".claudebuild" / "discovery.json"
    memo.unlink()  # a run that plans writes it again
    done = subprocess.run([sys.executable, "-m", "doit", "-n", "2", "analyze"], cwd=repo, capture_output=True, text=True,
                          timeout=300, check=False)
    assert done.returncode == 0 and "every chunk is up to date" in done.stdout, done.stdout + done.stderr
    assert not memo.exists()
    listed = run_cli(["list", "--all", "--status"], cwd=repo)  # list still sees every chunk
    assert listed.returncode == 0 and listed.stdout.count("U analyze:") == len(build_ids(repo)), listed.stdout


def build_ids(root: Path) -> list[str]:
    build, _ = planned(root)
    with build:
        return [chunk.id for chunk in build.plan().chunks]

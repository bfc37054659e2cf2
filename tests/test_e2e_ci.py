"""CI paths end to end: sharded jobs, `merge` and `report --no-analyze` on a machine without claude,
GitHub's step summary and annotations written once, and garbage collection that keeps other shards' results."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from claudebuild.engine.store import read_task_values
from claudebuild.fakeapi import FakeAnthropicServer, Fault
from claudebuild.main import main

from conftest import git, needs_claude, run_cli

pytestmark = [needs_claude, pytest.mark.e2e]

FILES = {
    "app/db.py": "def find(cursor, name):\n    cursor.execute(f\"SELECT * FROM t WHERE n = '{name}'\")\n",
    "app/api.py": "import os\n\n\ndef handle(request):\n    os.system('rm ' + request)\n",
    "lib/text.py": "def shout(text):\n    # TODO: unicode\n    return text.upper()\n",
    "lib/num.py": "def double(x):\n    return x * 2\n",
    "lib/calc.py": "def calc(expr):\n    return eval(expr)\n",
    "web/view.py": "def view(page):\n    return page\n",
}
FAST = "max_files_per_chunk = 1\nbackoff_base = 0.2\nbackoff_max = 1\n"
BAD_REQUEST = Fault(match=' "lib/num.py"\n', status=400, error_type="invalid_request_error", message="bad request for the test")


@pytest.fixture
def repo(make_repo: Callable[..., Path]) -> Path:
    return make_repo(FILES, config=FAST)


def no_claude(tmp_path: Path) -> dict[str, str]:
    """The environment of a CI job that has no claude installed: any start of it would fail loudly."""
    return {**os.environ, "CLAUDEBUILD_CLAUDE": str(tmp_path / "no-claude-here"), "PATH": "/usr/bin:/bin"}


def github_env(tmp_path: Path, base: dict[str, str] | None = None) -> dict[str, str]:
    return {**(base or os.environ), "GITHUB_ACTIONS": "true", "CI": "true",
            "GITHUB_STEP_SUMMARY": str(tmp_path / "step-summary.md")}


def shard_copies(repo: Path, tmp_path: Path, count: int) -> list[Path]:
    """Run `report --shard K/N` in N copies of `repo`, as N CI jobs would; their state directories."""
    states = []
    for index in range(1, count + 1):
        copy = tmp_path / f"job{index}"
        shutil.copytree(repo, copy)
        main(["-C", str(copy), "report", "--shard", f"{index}/{count}", "--no-fail-on-error"])
        states.append(copy / ".claudebuild")
    return states


def stored(root: Path) -> dict[str, dict]:
    return read_task_values(root / ".claudebuild" / "doit.sqlite")


def test_merge_and_report_without_analysis_work_with_no_claude_installed(repo: Path, fake_api: FakeAnthropicServer,
                                                                        tmp_path: Path) -> None:
    fake_api.add_fault(BAD_REQUEST)
    states = shard_copies(repo, tmp_path, 2)
    calls = len(fake_api.message_requests())
    env = no_claude(tmp_path)
    merged = run_cli(["merge", *map(str, states)], cwd=repo, env=env)
    assert merged.returncode == 1, merged.stdout + merged.stderr  # one chunk failed in its shard
    assert run_cli(["merge", "--no-fail-on-error", *map(str, states)], cwd=repo, env=env).returncode == 0
    done = run_cli(["report", "--no-analyze"], cwd=repo, env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert "not found" not in done.stdout + done.stderr
    assert "FAILED lib/num.py" in done.stdout
    report = json.loads((repo / ".claudebuild/report.json").read_text())
    assert [failed["chunk"] for failed in report["failed_chunks"]] == ["lib/num.py"]
    assert {f["file"] for f in report["findings"]} >= {"app/db.py", "app/api.py", "lib/calc.py"}
    assert run_cli(["report", "--no-analyze", "--no-fail-on-error"], cwd=repo, env=env).returncode == 0
    assert len(fake_api.message_requests()) == calls


def test_report_without_analysis_lists_chunks_that_have_no_result_and_fails_on_them(repo: Path,
                                                                                    fake_api: FakeAnthropicServer) -> None:
    assert main(["-C", str(repo), "report"]) == 0
    (repo / "lib/num.py").write_text("def double(x):\n    return x + x\n")
    calls = len(fake_api.message_requests())
    done = run_cli(["report", "--no-analyze"], cwd=repo)
    assert done.returncode == 1
    assert "not analyzed lib/num.py" in done.stdout
    assert json.loads((repo / ".claudebuild/report.json").read_text())["pending_chunks"] == ["lib/num.py"]
    assert run_cli(["report", "--no-analyze", "--no-fail-on-error"], cwd=repo).returncode == 0
    assert len(fake_api.message_requests()) == calls


def test_a_sharded_report_keeps_the_stored_results_of_the_other_shards(repo: Path, fake_api: FakeAnthropicServer) -> None:
    fake_api.add_fault(BAD_REQUEST)  # a failed result records no files sent: it must survive the other shards too
    assert main(["-C", str(repo), "report", "--no-fail-on-error"]) == 0
    before = set(stored(repo))
    assert len(before) == len(FILES)
    for index in (1, 2, 3):
        assert main(["-C", str(repo), "report", "--shard", f"{index}/3", "--no-fail-on-error"]) == 0
        assert set(stored(repo)) == before


def test_merge_writes_no_step_summary_and_report_writes_it_once(repo: Path, fake_api: FakeAnthropicServer,
                                                               tmp_path: Path) -> None:
    states = shard_copies(repo, tmp_path, 2)
    env = github_env(tmp_path, no_claude(tmp_path))
    summary = Path(env["GITHUB_STEP_SUMMARY"])
    merged = run_cli(["merge", *map(str, states)], cwd=repo, env=env)
    assert merged.returncode == 0, merged.stdout + merged.stderr
    assert not summary.exists()
    assert "::" not in merged.stdout + merged.stderr
    done = run_cli(["report", "--no-analyze", "--fail-on", "high"], cwd=repo, env=env)
    assert done.returncode == 1, done.stdout + done.stderr
    assert summary.read_text().count("## claudebuild") == 1
    annotations = [line for line in done.stdout.splitlines() if line.startswith("::")]
    assert len(annotations) >= 3 and len(set(annotations)) == len(annotations)
    assert "::" not in done.stderr


def test_annotations_are_printed_once_on_stdout_by_a_report_that_analyzes(repo: Path, fake_api: FakeAnthropicServer,
                                                                         tmp_path: Path) -> None:
    env = github_env(tmp_path)
    done = run_cli(["report"], cwd=repo, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    annotations = [line for line in done.stdout.splitlines() if line.startswith("::")]
    assert any("file=app/api.py" in line for line in annotations)
    assert len(set(annotations)) == len(annotations)
    assert "::" not in done.stderr
    assert Path(env["GITHUB_STEP_SUMMARY"]).read_text().count("## claudebuild") == 1


def test_report_format_github_prints_the_annotations_once(repo: Path, fake_api: FakeAnthropicServer, tmp_path: Path) -> None:
    env = github_env(tmp_path)
    done = run_cli(["report", "--format", "github"], cwd=repo, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    annotations = [line for line in done.stdout.splitlines() if line.startswith("::")]
    assert annotations and len(set(annotations)) == len(annotations)
    assert "::" not in done.stderr
    assert Path(env["GITHUB_STEP_SUMMARY"]).read_text().count("## claudebuild") == 1


ALL_FORMATS = 'formats = ["json", "md", "sarif", "html", "junit", "gitlab", "rdjson", "github"]\nmax_files_per_chunk = 1\n'


@pytest.fixture
def monorepo(make_repo: Callable[..., Path]) -> Path:
    """A git repository holding two projects, each with its own claudebuild.toml."""
    top = make_repo({
        "services/api/app/api.py": FILES["app/api.py"],
        "services/api/claudebuild.toml": ALL_FORMATS,
        "services/web/view.py": FILES["lib/calc.py"],
        "services/web/claudebuild.toml": ALL_FORMATS,
        ".gitignore": ".claudebuild/\n",
    }, name="mono")
    git(top, "init", "-q", "-b", "main")
    git(top, "add", "-A")
    git(top, "commit", "-q", "-m", "two projects")
    return top


def test_every_format_names_files_from_the_repository_root_in_a_monorepo(monorepo: Path, fake_api: FakeAnthropicServer,
                                                                         tmp_path: Path) -> None:
    env = github_env(tmp_path)
    for project, path in (("services/api", "services/api/app/api.py"), ("services/web", "services/web/view.py")):
        done = run_cli(["-C", project, "report"], cwd=monorepo, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        state = monorepo / project / ".claudebuild"
        sarif = json.loads((state / "report.sarif").read_text())
        uris = {location["physicalLocation"]["artifactLocation"]["uri"]
                for run in sarif["runs"] for result in run["results"] for location in result["locations"]}
        assert uris == {path}
        assert {item["location"]["path"] for item in json.loads((state / "report.gitlab.json").read_text())} == {path}
        assert {item["location"]["path"] for item in json.loads((state / "report.rdjson").read_text())["diagnostics"]} == {path}
        assert f'file="{path}"' in (state / "report.junit.xml").read_text()
        assert f"file={path}," in (state / "report.github.txt").read_text()
        assert f"`{path}`" in (state / "report.md").read_text()
        document = json.loads((state / "report.json").read_text())
        assert {finding["file"] for finding in document["findings"]} == {path}
        assert document["path_prefix"] == project + "/"
        assert any(line.startswith("::") and f"file={path}," in line for line in done.stdout.splitlines())
        assert f"| {path} |" in Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    again = run_cli(["-C", "services/api", "report"], cwd=monorepo)
    assert again.returncode == 0
    document = json.loads((monorepo / "services/api/.claudebuild/report.json").read_text())
    assert [finding["status"] for finding in document["findings"]] == ["persisting"] and document["fixed_findings"] == []


@pytest.fixture
def pr(repo: Path, fake_api: FakeAnthropicServer) -> Path:
    """`repo` under git with its base branch fully reviewed (the cache a PR job restores), on a PR branch."""
    (repo / ".gitignore").write_text(".claudebuild/\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "base")
    assert main(["-C", str(repo), "report"]) == 0
    git(repo, "checkout", "-q", "-b", "pr")
    fake_api.reset()
    return repo


def test_pr_mode_analyzes_reports_and_gates_only_the_changed_files(pr: Path, fake_api: FakeAnthropicServer) -> None:
    (pr / "lib/num.py").write_text("def double(x):\n    return x + x\n")
    (pr / "lib/shell.py").write_text("import os\n\n\ndef run(cmd):\n    os.system('sh -c ' + cmd)\n")
    git(pr, "add", "-A")
    git(pr, "commit", "-q", "-m", "change")
    git(pr, "checkout", "-q", "main")
    (pr / "web/view.py").write_text("def view(page):\n    return page.title\n")  # main moves on after the branch point
    git(pr, "commit", "-q", "-am", "main moves")
    git(pr, "checkout", "-q", "pr")
    done = run_cli(["report", "--changed-since", "main", "--fail-on", "high"], cwd=pr)
    assert done.returncode == 1, done.stdout + done.stderr  # lib/shell.py is high
    assert "in scope lib/num.py" in done.stdout and "in scope lib/shell.py" in done.stdout
    sent = [request.user_text for request in fake_api.message_requests()]
    assert len(sent) == 2 and all(' "lib/num.py"\n' in text or ' "lib/shell.py"\n' in text for text in sent)
    document = json.loads((pr / ".claudebuild/report.json").read_text())
    assert document["scope"]["files"] == ["lib/num.py", "lib/shell.py"]
    assert document["scope"]["changed_since"].startswith("main (merge base ")
    assert {finding["file"] for finding in document["findings"]} == {"lib/shell.py"}
    assert "lib/shell.py" in (pr / ".claudebuild/report.md").read_text()


def test_pr_mode_passes_a_clean_change_despite_findings_elsewhere(pr: Path, fake_api: FakeAnthropicServer) -> None:
    (pr / "lib/num.py").write_text("def double(x):\n    return 2 * x\n")
    git(pr, "commit", "-q", "-am", "clean change")
    done = run_cli(["report", "--changed-since", "main", "--fail-on", "high"], cwd=pr)
    assert done.returncode == 0, done.stdout + done.stderr
    assert len(fake_api.message_requests()) == 1
    assert json.loads((pr / ".claudebuild/report.json").read_text())["findings"] == []
    assert run_cli(["report", "--fail-on", "high"], cwd=pr).returncode == 1  # the whole repository still has them
    assert len(fake_api.message_requests()) == 1  # and every other chunk came from the cache


def test_pr_mode_with_a_ref_that_does_not_exist_is_a_one_line_error(pr: Path, fake_api: FakeAnthropicServer) -> None:
    done = run_cli(["analyze", "--changed-since", "origin/nope"], cwd=pr)
    assert done.returncode == 1
    assert done.stderr.strip().count("\n") == 0 and "'origin/nope' is not a commit" in done.stderr
    assert fake_api.message_requests() == []

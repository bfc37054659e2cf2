"""The GitHub Action's steps (scripts/action.sh) run locally as a runner would run them: inputs as INPUT_*,
GITHUB_STEP_SUMMARY and GITHUB_OUTPUT pointing at temp files, the real CLI against the fake API."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml

from claudebuild.fakeapi import FakeAnthropicServer

from conftest import REPO, git, needs_claude

pytestmark = [needs_claude, pytest.mark.e2e]

FILES = {
    "app/db.py": "def find(cursor, name):\n    cursor.execute(f\"SELECT * FROM t WHERE n = '{name}'\")\n",
    "app/api.py": "import os\n\n\ndef handle(request):\n    os.system('rm ' + request)\n",
    "lib/text.py": "def shout(text):\n    # TODO: unicode\n    return text.upper()\n",
    "lib/num.py": "def double(x):\n    return x * 2\n",
}
CHUNKS = len(FILES) + 1
"""One file a chunk, and .gitignore is reviewed too."""


@pytest.fixture
def checkout(make_repo: Callable[..., Path]) -> Path:
    root = make_repo({**FILES, ".gitignore": ".claudebuild/\n"}, config="max_files_per_chunk = 1\n")
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "base")
    return root


def run_action(cwd: Path, tmp_path: Path, **inputs: str) -> tuple[subprocess.CompletedProcess[str], dict[str, str], Path]:
    """scripts/action.sh with these inputs (`fail_on` -> INPUT_FAIL_ON); its result, $GITHUB_OUTPUT's values and
    the step summary file. claudebuild and the CLI are the test's own (CLAUDEBUILD_PYTHON, CLAUDEBUILD_CLAUDE)."""
    runner = tmp_path / f"runner-{len(list(tmp_path.glob('runner-*')))}"
    runner.mkdir()
    env = {**os.environ, "GITHUB_ACTIONS": "true", "CI": "true", "RUNNER_TEMP": str(runner),
           "GITHUB_STEP_SUMMARY": str(runner / "summary.md"), "GITHUB_OUTPUT": str(runner / "output"),
           "GITHUB_ACTION_PATH": str(REPO), "CLAUDEBUILD_PYTHON": sys.executable}
    env.update({f"INPUT_{name.upper()}": value for name, value in inputs.items()})
    done = subprocess.run(["bash", str(REPO / "scripts/action.sh")], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    output_file = runner / "output"
    outputs = dict(line.split("=", 1) for line in output_file.read_text().splitlines()) if output_file.exists() else {}
    return done, outputs, runner / "summary.md"


def annotations(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("::")]


def test_one_job_writes_sarif_annotations_and_the_step_summary_once(checkout: Path, fake_api: FakeAnthropicServer,
                                                                    tmp_path: Path) -> None:
    done, outputs, summary = run_action(checkout, tmp_path)
    assert done.returncode == 1, done.stdout + done.stderr  # high findings, fail-on high by default
    assert outputs["exit-code"] == "1"
    sarif = json.loads((checkout / outputs["sarif"]).read_text())
    assert sarif["version"] == "2.1.0" and sarif["runs"]
    assert summary.read_text().count("## claudebuild") == 1
    lines = annotations(done.stdout)
    assert any("file=app/api.py" in line for line in lines) and len(set(lines)) == len(lines)
    assert annotations(done.stderr) == []
    assert len(fake_api.message_requests()) == CHUNKS
    again, outputs, _ = run_action(checkout, tmp_path, fail_on="none")
    assert again.returncode == 0 and outputs["exit-code"] == "0"
    assert len(fake_api.message_requests()) == CHUNKS  # the second run is all cache


def test_sharded_jobs_then_a_merge_job_without_claude(checkout: Path, fake_api: FakeAnthropicServer, tmp_path: Path) -> None:
    shards = tmp_path / "shards"
    for index in (1, 2):
        job = tmp_path / f"job{index}"
        shutil.copytree(checkout, job)
        done, outputs, summary = run_action(job, tmp_path, shard=f"{index}/2")
        assert done.returncode == 0, done.stdout + done.stderr
        assert not summary.exists() and annotations(done.stdout + done.stderr) == []
        shutil.copytree(job / ".claudebuild", shards / f"claudebuild-shard-{index}")  # upload/download-artifact
    assert len(fake_api.message_requests()) == CHUNKS
    merge_job = tmp_path / "merge-job"
    shutil.copytree(checkout, merge_job)
    os.environ["CLAUDEBUILD_CLAUDE"] = str(tmp_path / "no-claude-on-this-runner")
    try:
        done, outputs, summary = run_action(merge_job, tmp_path, merge=f"{shards}/*/")
    finally:
        del os.environ["CLAUDEBUILD_CLAUDE"]
    assert done.returncode == 1, done.stdout + done.stderr
    assert "not found" not in done.stdout + done.stderr
    assert summary.read_text().count("## claudebuild") == 1
    assert any("file=app/api.py" in line for line in annotations(done.stdout))
    assert annotations(done.stderr) == []
    report = json.loads((merge_job / ".claudebuild/report.json").read_text())
    assert report["summary"]["chunks"] == CHUNKS and report["pending_chunks"] == [] and report["failed_chunks"] == []
    assert json.loads((merge_job / outputs["sarif"]).read_text())["runs"]
    assert len(fake_api.message_requests()) == CHUNKS


def test_a_pull_request_job_reviews_only_its_changes_with_settings_from_the_base(checkout: Path, fake_api: FakeAnthropicServer,
                                                                                tmp_path: Path) -> None:
    assert run_action(checkout, tmp_path, fail_on="none")[0].returncode == 0  # the base branch's run: the cache
    git(checkout, "checkout", "-q", "-b", "pr")
    (checkout / "lib/num.py").write_text("def double(x):\n    return 2 * x\n")
    (checkout / "claudebuild.toml").write_text("max_files_per_chunk = 1\nignore = ['lib/']\n")  # tries to hide itself
    git(checkout, "commit", "-q", "-am", "change")
    calls = len(fake_api.message_requests())
    done, _, summary = run_action(checkout, tmp_path, changed_since="main", config_from="main")
    assert done.returncode == 0, done.stdout + done.stderr  # findings elsewhere do not fail the change
    assert len(fake_api.message_requests()) == calls + 1  # lib/num.py is reviewed: the ignore came from the PR
    report = json.loads((checkout / ".claudebuild/report.json").read_text())
    assert report["scope"]["files"] == ["lib/num.py"] and report["findings"] == []
    assert "Scope: the 1 reviewed files changed since main" in summary.read_text()


def test_an_input_path_that_is_not_a_directory_is_a_one_line_error(checkout: Path, fake_api: FakeAnthropicServer,
                                                                  tmp_path: Path) -> None:
    done, outputs, _ = run_action(checkout, tmp_path, path="no/such/project")
    assert done.returncode == 1 and outputs == {}
    assert done.stderr.strip().count("\n") == 0 and "no/such/project" in done.stderr


def test_the_action_and_the_example_workflows_agree_on_the_inputs() -> None:
    action = yaml.safe_load((REPO / "action.yml").read_text())
    inputs = set(action["inputs"])
    assert action["runs"]["using"] == "composite"
    for workflow in ("github-actions.yml", "github-actions-sharded.yml", "github-pr-review.yml"):
        document = yaml.safe_load((REPO / "docs" / workflow).read_text())
        steps = [step for job in document["jobs"].values() for step in job["steps"]]
        used = [step for step in steps if "claudebuild" in str(step.get("uses", "")) and "artifact" not in str(step.get("uses"))]
        assert used, workflow
        for step in used:
            assert set(step.get("with") or {}) <= inputs, (workflow, step)

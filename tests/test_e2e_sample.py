"""End to end on the bundled sample repository: exact findings, nothing secret sent, shards, formats, demo."""

from __future__ import annotations

import json
import os
import subprocess
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

from claudebuild.commands.demo import run_demo
from claudebuild.fakeapi import FakeAnthropicServer
from claudebuild.main import main
from claudebuild.sample import copy_sample_repo

from conftest import REPO, needs_claude

pytestmark = [needs_claude, pytest.mark.e2e]

EXPECTED = json.loads((REPO / "claudebuild/sample_repo/EXPECTED_FINDINGS.json").read_text())
SECRET_LINES = {("app/services/billing.py", 40), ("scripts/seed_db.py", 21)}
"""Lines where claudebuild's own secret scan finds a credential: its finding replaces the reviewer's."""
EXPECTED_IN_REPORT = sorted((f["file"], f["line"], "security/hard-coded-secret" if (f["file"], f["line"]) in SECRET_LINES
                             else f["category"]) for f in EXPECTED)
NEVER_SENT = [
    "fake-demo-key-not-real",  # .env
    "FAKE-DEMO-KEY-NOT-REAL",  # config/dev.pem
    "Setting up the 2019 stack",  # docs/legacy/, in .claudeignore
    "Build output copied by the old packaging script",  # build/, in .gitignore
    "tinydom v1.2.0",  # minified
    "PNG",  # binary
]


@pytest.fixture
def sample(tmp_path: Path) -> Path:
    root = copy_sample_repo(tmp_path / "sample")
    (root / "claudebuild.toml").write_text("max_files_per_chunk = 6\n")
    return root


@pytest.fixture
def one_finding(tmp_path: Path) -> Path:
    """One file, one high finding, one call: enough for what does not need the whole sample (formats, exit codes)."""
    root = tmp_path / "small"
    (root / "app").mkdir(parents=True)
    (root / "app/api.py").write_text("def parse(text):\n    return eval(text)\n")
    return root


def findings_of(root: Path) -> list[dict]:
    return json.loads((root / ".claudebuild" / "report.json").read_text())["findings"]


@pytest.mark.parametrize("mode", ["walk", "git"])
def test_every_finding_is_exactly_where_the_problem_is(sample: Path, fake_api: FakeAnthropicServer, mode: str) -> None:
    if mode == "git":
        env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
        subprocess.run(["git", "init", "-q"], cwd=sample, check=True, env=env)
        subprocess.run(["git", "add", "-A"], cwd=sample, check=True, env=env)
    assert main(["-C", str(sample), "report", "-n", "4"]) == 0
    got = sorted((f["file"], f["line"], f["category"]) for f in findings_of(sample))
    assert got == EXPECTED_IN_REPORT
    text = fake_api.received_text()
    for secret in NEVER_SENT:
        assert secret not in text, secret


def test_n_shards_merged_equal_one_unsharded_run(sample: Path, fake_api: FakeAnthropicServer, tmp_path: Path) -> None:
    import shutil

    shards = []
    for index in (1, 2, 3):
        copy = tmp_path / f"shard{index}"
        shutil.copytree(sample, copy)
        assert main(["-C", str(copy), "report", "--shard", f"{index}/3"]) == 0
        shards.append(copy / ".claudebuild")
    shard_calls = len(fake_api.message_requests())
    merged = tmp_path / "merged"
    shutil.copytree(sample, merged)
    assert main(["-C", str(merged), "merge", *map(str, shards)]) == 0
    assert main(["-C", str(sample), "report"]) == 0
    whole_calls = len(fake_api.message_requests()) - shard_calls
    assert shard_calls == whole_calls
    assert findings_of(merged) == findings_of(sample)
    fake_api.reset()
    assert main(["-C", str(merged), "analyze"]) == 0
    assert fake_api.message_requests() == []


def test_report_prints_one_format_to_stdout(one_finding: Path, fake_api: FakeAnthropicServer, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(one_finding), "report", "--format", "sarif"]) == 0
    sarif = json.loads(capsys.readouterr().out)
    assert sarif["version"] == "2.1.0" and len(sarif["runs"][0]["results"]) == 1
    assert main(["-C", str(one_finding), "report", "--format", "junit"]) == 0
    ElementTree.fromstring(capsys.readouterr().out)


def test_configured_formats_are_all_written(one_finding: Path, fake_api: FakeAnthropicServer) -> None:
    sample = one_finding
    (sample / "claudebuild.toml").write_text('formats = ["json", "md", "sarif", "html", "junit", "gitlab", "rdjson", "github"]\n')
    assert main(["-C", str(sample), "report"]) == 0
    names = {path.name for path in (sample / ".claudebuild").iterdir()}
    assert {"report.json", "report.md", "report.sarif", "report.html", "report.junit.xml", "report.gitlab.json",
            "report.rdjson", "report.github.txt"} <= names


def test_fail_on_sets_the_exit_code(one_finding: Path, fake_api: FakeAnthropicServer) -> None:
    assert main(["-C", str(one_finding), "report", "--fail-on", "high"]) == 1
    assert main(["-C", str(one_finding), "report", "--fail-on", "critical"]) == 0
    assert len(fake_api.message_requests()) == 1


@pytest.mark.slow  # three runs of the real CLI over the sample (its own fake API, not the fixture)
def test_the_demo_shows_exactly_one_chunk_reanalyzed_after_an_edit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_demo(directory=tmp_path, latency=0.0, jobs=4) == 0
    out = capsys.readouterr().out
    assert "no-op rerun: 0 API calls" in out
    assert "after the edit: 1 API call(s), 1 chunk re-analyzed" in out

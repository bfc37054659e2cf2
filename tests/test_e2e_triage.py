"""End to end: baseline, inline suppressions, new/persisting/fixed and unverified quotes with the real CLI."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from claudebuild.fakeapi import FakeAnthropicServer, Fault
from claudebuild.main import main

from conftest import needs_claude

pytestmark = [needs_claude, pytest.mark.e2e]

FILES = {
    "app/api.py": "def parse(text):\n    return eval(text)\n",
    "lib/util.py": "def safe(x):\n    return x\n",
}


def report(root: Path, *args: str) -> int:
    return main(["-C", str(root), "report", *args])


def document(root: Path) -> dict[str, Any]:
    return json.loads((root / ".claudebuild" / "report.json").read_text())


@pytest.fixture
def repo(make_repo: Callable[..., Path]) -> Path:
    return make_repo(FILES, config="max_files_per_chunk = 1\n")


def test_a_baseline_lets_old_findings_pass_the_gate_but_not_new_ones(repo: Path, fake_api: FakeAnthropicServer) -> None:
    assert report(repo, "--fail-on", "high") == 1
    assert main(["-C", str(repo), "baseline"]) == 0
    assert (repo / "claudebuild-baseline.json").exists()
    assert report(repo, "--fail-on", "high") == 0
    (repo / "lib/util.py").write_text("import os\n\n\ndef run(cmd):\n    os.system(cmd)\n")
    assert report(repo, "--fail-on", "high") == 1
    findings = {f["file"]: f for f in document(repo)["findings"]}
    assert findings["lib/util.py"]["status"] == "new" and findings["app/api.py"]["status"] == "persisting"


def test_fixing_a_problem_lists_it_as_fixed(repo: Path, fake_api: FakeAnthropicServer) -> None:
    assert report(repo) == 0
    (repo / "app/api.py").write_text("import json\n\n\ndef parse(text):\n    return json.loads(text)\n")
    assert report(repo) == 0
    fixed = document(repo)["fixed_findings"]
    assert [(item["file"], item["category"]) for item in fixed] == [("app/api.py", "security/eval")]


def test_an_inline_suppression_removes_the_finding_and_counts_it(repo: Path, fake_api: FakeAnthropicServer) -> None:
    (repo / "app/api.py").write_text("def parse(text):\n    # claudebuild: ignore[security/eval] input is a constant table\n"
                                     "    return eval(text)\n")
    assert report(repo, "--fail-on", "high") == 0
    doc = document(repo)
    assert doc["findings"] == []
    assert doc["summary"]["suppressed"]["inline"] == 1


def test_a_finding_whose_quote_is_not_in_the_file_is_unverified_and_never_fails(repo: Path, fake_api: FakeAnthropicServer) -> None:
    invented = {"file": "lib/util.py", "line": 2, "end_line": 2, "severity": "critical", "category": "security/rce",
                "title": "Remote code execution", "message": "invented", "quote": "subprocess.call(user_input, shell=True)"}
    fake_api.add_fault(Fault(match=' "lib/util.py"\n', findings=(invented,)))
    assert report(repo, "--fail-on", "critical") == 0
    finding = next(f for f in document(repo)["findings"] if f["file"] == "lib/util.py")
    assert finding["verified"] is False

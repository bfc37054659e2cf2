"""End to end: the verification pass, the real claude CLI against the local fake API.

The fake reviewer flags `eval(` even in a comment (a deliberate false positive); the fake verifier
refutes exactly such findings, confirms real ones and answers `uncertain` for a line marked
`VERIFY-UNCERTAIN`. Verification requests are told apart in the fake's log by their fenced finding.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from claudebuild.fakeapi import FakeAnthropicServer, Fault
from claudebuild.main import main

from conftest import alive, claude_pids_in, needs_claude, wait_until

pytestmark = [needs_claude, pytest.mark.e2e]

FILES = {
    "app/api.py": "def parse(text):\n    return eval(text)\n",
    "app/safe.py": "# never call eval(text) on input here\ndef parse(text):\n    return int(text)\n",
    "app/maybe.py": "import os\n\n\ndef run(cmd):\n    os.system(cmd)  # VERIFY-UNCERTAIN\n",
    "lib/text.py": "def shout(text):\n    # TODO: handle unicode properly\n    return text.upper()\n",
}
VERIFY = "verify = true\nmax_files_per_chunk = 2\n"
VERIFYING = " FINDING>>>"
"""Only a verification's user text holds a finding fence."""


def run(root: Path, *extra: str) -> int:
    return main(["-C", str(root), "report", "-n", "2", *extra])


def report_json(root: Path) -> dict[str, Any]:
    return json.loads((root / ".claudebuild" / "report.json").read_text())


def verifications(api: FakeAnthropicServer) -> list[str]:
    return [request.user_text for request in api.message_requests() if VERIFYING in request.user_text]


def reviews(api: FakeAnthropicServer) -> int:
    return sum(VERIFYING not in request.user_text for request in api.message_requests())


@pytest.fixture
def repo(make_repo: Callable[..., Path]) -> Path:
    return make_repo(FILES, config=VERIFY)


def test_verification_removes_planted_false_positives_and_keeps_true_ones(repo: Path, fake_api: FakeAnthropicServer) -> None:
    assert run(repo) == 0
    assert len(verifications(fake_api)) == 3  # eval, eval in a comment, os.system; the low TODO is not verified
    report = report_json(repo)
    kept = {(f["file"], f["category"]): f["verdict"] for f in report["findings"]}
    assert kept[("app/api.py", "security/eval")] == "confirmed"
    assert kept[("app/maybe.py", "security/shell-injection")] == "uncertain"
    assert kept[("lib/text.py", "maintainability/todo")] == ""
    assert "app/safe.py" not in {f["file"] for f in report["findings"]}
    assert [(f["file"], f["verdict"]) for f in report["refuted_findings"]] == [("app/safe.py", "refuted")]
    assert report["summary"]["verification"]["calls_this_run"] == 3
    assert report["summary"]["verification"]["verdicts"] == {"confirmed": 1, "refuted": 1, "uncertain": 1}
    markdown = (repo / ".claudebuild" / "report.md").read_text()
    assert "Refuted by verification" in markdown and "verification: 3 calls" in markdown


def test_a_rerun_makes_no_verification_call_and_an_edit_reverifies_only_its_file(repo: Path, fake_api: FakeAnthropicServer) -> None:
    assert run(repo) == 0
    fake_api.reset()
    assert run(repo) == 0
    assert fake_api.message_requests() == []
    assert report_json(repo)["summary"]["verification"]["calls_this_run"] == 0
    with open(repo / "app/api.py", "a") as handle:
        handle.write("\n\ndef again(text):\n    return eval(text)\n")
    assert run(repo) == 0
    verified = verifications(fake_api)
    assert len(verified) == 2 and all(' "app/api.py"\n' in text for text in verified)
    assert reviews(fake_api) == 1


def test_a_refuted_finding_never_fails_the_gate(make_repo: Callable[..., Path], fake_api: FakeAnthropicServer) -> None:
    root = make_repo({"app/safe.py": FILES["app/safe.py"]}, config=VERIFY + 'fail_on = "high"\n')
    assert run(root) == 0
    assert report_json(root)["findings"] == [] and len(report_json(root)["refuted_findings"]) == 1
    (root / "claudebuild.toml").write_text('max_files_per_chunk = 2\nfail_on = "high"\n')
    assert run(root) == 1  # without verification the same finding fails it


def test_max_cost_counts_verification_calls(repo: Path, fake_api: FakeAnthropicServer, capsys: pytest.CaptureFixture[str]) -> None:
    (repo / "claudebuild.toml").write_text("max_files_per_chunk = 2\n")
    assert run(repo) == 0
    (repo / "claudebuild.toml").write_text(VERIFY)
    fake_api.reset()
    capsys.readouterr()
    assert run(repo, "--max-cost", "0.000001") == 0
    out = capsys.readouterr().out
    assert "to verify" in out and "covers 0 of them" in out
    assert fake_api.message_requests() == []
    assert report_json(repo)["summary"]["verification"]["pending"] == 3
    assert run(repo, "--max-cost", "5") == 0
    assert len(verifications(fake_api)) == 3 and reviews(fake_api) == 0
    assert report_json(repo)["summary"]["verification"]["pending"] == 0


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_an_interrupt_during_verification_ends_its_calls_and_keeps_the_reviews(
        repo: Path, fake_api: FakeAnthropicServer, started: list[subprocess.Popen[Any]], sig: int) -> None:
    (repo / "claudebuild.toml").write_text("max_files_per_chunk = 2\n")
    assert run(repo) == 0
    (repo / "claudebuild.toml").write_text(VERIFY)
    fake_api.reset()
    fake_api.add_fault(Fault(match=VERIFYING, hang=60))
    process = subprocess.Popen([sys.executable, "-m", "claudebuild", "analyze", "-n", "2"], cwd=repo, env=dict(os.environ),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started.append(process)
    session_cwd = repo / ".claudebuild" / "session-cwd"
    children = wait_until(lambda: claude_pids_in(session_cwd) if verifications(fake_api) else [], timeout=90,
                          what="a verification call in flight")
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=30)
    assert process.returncode == 130
    assert "Traceback" not in stderr
    wait_until(lambda: not any(alive(pid) for pid in children), timeout=10, what="the end of every claude child")
    fake_api.faults = []
    fake_api.reset()
    assert run(repo) == 0
    assert reviews(fake_api) == 0 and len(verifications(fake_api)) == 3

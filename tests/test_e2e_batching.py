"""End to end: one call carrying several stale chunks (run/batching.py), with the real CLI against the fake API.

tests/test_batching.py proves each rule with a scripted runner; these prove that what a user sees is what one
call per chunk would give: every chunk's own stored result and findings, reuse, and fault isolation.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from claudebuild.commands.ask import run_ask
from claudebuild.config_sources import load_config
from claudebuild.engine.store import read_task_values
from claudebuild.run.calllog import read_call_log
from claudebuild.fakeapi import FakeAnthropicServer, Fault
from claudebuild.main import main

from conftest import needs_claude

pytestmark = [needs_claude, pytest.mark.e2e]

MODULES = {f"pkg/m{n}.py": f"def f{n}(x):\n    return x + {n}\n\n\ndef g{n}(text):\n    return eval(text)\n" for n in range(8)}


SHARING = "max_files_per_chunk = 1\nshare_calls_from = 4\n"
"""Runs of these few chunks share calls (by default a run needs 32 stale chunks)."""


def stored(root: Path) -> dict[str, dict[str, Any]]:
    return read_task_values(root / ".claudebuild" / "doit.sqlite")


def report_json(root: Path) -> dict[str, Any]:
    return json.loads((root / ".claudebuild" / "report.json").read_text())


def review(root: Path) -> int:
    return main(["-C", str(root), "report", "-n", "1"])


@pytest.fixture
def repo(make_repo: Callable[..., Path]) -> Path:
    return make_repo(MODULES, config=SHARING)


@pytest.mark.both_clis
def test_one_call_reviews_a_long_queue_and_every_chunk_keeps_its_own_result(repo: Path, fake_api: FakeAnthropicServer) -> None:
    review(repo)

    assert len(fake_api.message_requests()) == 1
    results = stored(repo)
    assert len(results) == 8 and all(values["status"] == "ok" for values in results.values())
    for name, values in results.items():
        assert [sent["path"] for sent in values["sent"]] == [name.removeprefix("analyze:")]
    findings = report_json(repo)["findings"]
    assert sorted((item["file"], item["line"]) for item in findings) == [(path, 6) for path in sorted(MODULES)]
    assert report_json(repo)["summary"]["fresh"] == 8


def test_after_a_shared_call_a_rerun_makes_no_call_and_an_edit_calls_for_its_chunk_alone(
        repo: Path, fake_api: FakeAnthropicServer) -> None:
    review(repo)
    review(repo)
    assert len(fake_api.message_requests()) == 1
    (repo / "pkg/m5.py").write_text(MODULES["pkg/m5.py"] + "\n\ndef h(x):\n    return x\n")
    review(repo)
    requests = fake_api.message_requests()
    assert len(requests) == 2 and ' "pkg/m5.py"\n' in requests[-1].user_text and ' "pkg/m4.py"\n' not in requests[-1].user_text


def test_a_file_that_breaks_a_shared_call_fails_only_its_own_chunk(make_repo: Callable[..., Path],
                                                                   fake_api: FakeAnthropicServer) -> None:
    four = {path: text for path, text in MODULES.items() if path < "pkg/m4.py"}
    repo = make_repo(four, config=SHARING)
    fake_api.add_fault(Fault(match=' "pkg/m3.py"\n', text_only=True))
    review(repo)

    status = {name.removeprefix("analyze:"): values["status"] for name, values in stored(repo).items()}
    assert status == {path: "error" if path == "pkg/m3.py" else "ok" for path in four}
    calls = read_call_log(repo / ".claudebuild" / "calls.ndjson")
    assert len(calls) == 2 + 1 + 3 + 1  # the shared call tried twice, then each chunk alone (m3's twice)
    assert report_json(repo)["summary"]["failed"] == 1


def test_ask_about_a_carried_chunk_resumes_the_shared_calls_session(repo: Path, fake_api: FakeAnthropicServer) -> None:
    review(repo)
    out = io.StringIO()
    assert run_ask(load_config(repo), "pkg/m6.py", "Why is eval dangerous here?", out=out) == 0

    session = stored(repo)["analyze:pkg/m6.py"]["session_id"]
    assert f"(forked from {session})" in out.getvalue()
    assert len(fake_api.message_requests()) == 2

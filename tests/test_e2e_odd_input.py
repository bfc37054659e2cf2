"""Odd repositories and bad input, end to end: each case a one-line cause, finished work kept."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from claudebuild.fakeapi import FakeAnthropicServer, Fault
from claudebuild.engine.store import read_task_values
from claudebuild.repo.state_dir import ensure_own_state
from conftest import needs_claude, run_cli

pytestmark = [pytest.mark.e2e, needs_claude]


def modules(count: int) -> dict[str, str | bytes]:
    return {f"m{n}.py": f"def f{n}(x):\n    return eval(x)\n" for n in range(1, count + 1)}


def wait_for_request(fake_api: FakeAnthropicServer, text: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while not any(text in request.user_text for request in fake_api.message_requests()):
        assert time.monotonic() < deadline, f"no request with {text!r} arrived"
        time.sleep(0.05)


def test_a_file_deleted_while_its_chunk_runs_fails_nothing_else_and_the_cost_is_counted(
        make_repo: Callable[..., Path], fake_api: FakeAnthropicServer, started: list[subprocess.Popen[str]]) -> None:
    root = make_repo(modules(3), config="max_files_per_chunk = 1\n")
    fake_api.add_fault(Fault(match=' "m1.py"\n', hang=4, times=1))
    run = subprocess.Popen([sys.executable, "-m", "claudebuild", "report", "-n", "3"], cwd=root,
                           env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started.append(run)
    wait_for_request(fake_api, ' "m1.py"\n')
    (root / "m1.py").unlink()
    out, err = run.communicate(timeout=120)

    assert "Traceback" not in err and "saving success" not in out + err, out + err
    assert run.returncode in (0, 1), out + err
    report = json.loads((root / ".claudebuild" / "report.json").read_text())
    assert {f["file"] for f in report["findings"]} >= {"m2.py", "m3.py"}
    assert report["summary"]["cost_usd_this_run"] > 0
    assert len(fake_api.message_requests()) == 3


def test_a_run_that_finds_no_files_keeps_every_stored_result_for_when_they_come_back(
        make_repo: Callable[..., Path], fake_api: FakeAnthropicServer) -> None:
    root = make_repo(modules(3), config="max_files_per_chunk = 1\n")
    assert run_cli(["report"], cwd=root).returncode == 0
    (root / ".claudeignore").write_text("*\n")
    emptied = run_cli(["report"], cwd=root)
    (root / ".claudeignore").unlink()
    again = run_cli(["report"], cwd=root)

    assert "Traceback" not in emptied.stderr + again.stderr
    assert again.returncode == 0 and len(fake_api.message_requests()) == 3
    assert len(json.loads((root / ".claudebuild" / "report.json").read_text())["findings"]) == 3


def test_deleting_a_file_deletes_its_chunks_result(make_repo: Callable[..., Path], fake_api: FakeAnthropicServer) -> None:
    root = make_repo(modules(2), config="max_files_per_chunk = 1\n")
    assert run_cli(["report"], cwd=root).returncode == 0
    (root / "m1.py").unlink()
    assert run_cli(["report"], cwd=root).returncode == 0

    assert list(read_task_values(root / ".claudebuild" / "doit.sqlite")) == ["analyze:m2.py"]


def test_a_closed_output_pipe_ends_output_quietly_and_the_run_finishes(
        make_repo: Callable[..., Path], fake_api: FakeAnthropicServer, started: list[subprocess.Popen[str]]) -> None:
    root = make_repo(modules(4), config="max_files_per_chunk = 1\n")
    run = subprocess.Popen([sys.executable, "-m", "claudebuild", "analyze", "-n", "2"], cwd=root, env=dict(os.environ),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    started.append(run)
    assert run.stdout is not None
    assert select.select([run.stdout], [], [], 120)[0], "no output within 120s"  # a deadline, not a blocked read
    assert run.stdout.readline()
    run.stdout.close()  # `| head -1`
    _, err = run.communicate(timeout=120)

    assert run.returncode == 0 and "Traceback" not in err and "BrokenPipe" not in err
    assert len(read_task_values(root / ".claudebuild" / "doit.sqlite")) == 4


def test_doit_commands_on_a_truncated_database_give_one_line_not_a_traceback(make_repo: Callable[..., Path]) -> None:
    root = make_repo(modules(1))
    ensure_own_state(root, ".claudebuild")  # claudebuild's own state dir (outside git it is marked), then broken
    (root / ".claudebuild" / "doit.sqlite").write_bytes(b"SQLite format 3\0" + b"\x01" * 50)
    listed = run_cli(["list"], cwd=root)

    assert listed.returncode == 1 and "Traceback" not in listed.stderr
    assert "not a usable database" in listed.stderr and len(listed.stderr.strip().splitlines()) == 1


def test_info_on_a_task_that_does_not_exist_is_one_line(make_repo: Callable[..., Path]) -> None:
    root = make_repo(modules(1))
    info = run_cli(["-C", str(root), "info", "analyze:nope.py"], cwd=root)

    assert info.returncode == 1 and "Traceback" not in info.stderr and "no task named 'analyze:nope.py'" in info.stderr


def test_a_doit_command_line_doit_cannot_use_exits_2_not_the_crash_code(make_repo: Callable[..., Path]) -> None:
    root = make_repo(modules(1))

    assert run_cli(["-C", str(root), "nosuchcommand"], cwd=root).returncode == 2

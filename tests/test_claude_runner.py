"""The runner's child processes: `terminate_all` reaches every one, the `claude --version` check included."""

from __future__ import annotations

import os
import signal
import threading
import time
from pathlib import Path

import pytest

from claudebuild.claude.runner import ClaudeNotFound, ClaudeRunner
from claudebuild.errors import ClaudebuildError

from conftest import alive, wait_until


def slow_cli(tmp_path: Path) -> tuple[Path, Path]:
    """A `claude` that writes its pid and never answers; (the script, its pid file)."""
    pid_file = tmp_path / "cli.pid"
    script = tmp_path / "slow-claude"
    script.write_text(f"#!/bin/sh\necho $$ > '{pid_file}'\nexec sleep 120\n")
    script.chmod(0o755)
    return script, pid_file


def test_terminate_all_ends_a_version_check_in_progress(tmp_path: Path) -> None:
    script, pid_file = slow_cli(tmp_path)
    runner = ClaudeRunner(str(script))
    errors: list[BaseException] = []

    def check() -> None:
        try:
            runner.ensure_supported()
        except ClaudebuildError as error:
            errors.append(error)

    worker = threading.Thread(target=check)
    worker.start()
    pid = int(wait_until(lambda: pid_file.is_file() and pid_file.read_text().strip(), what="`claude --version`"))
    started = time.monotonic()
    runner.terminate_all()
    worker.join(timeout=30)

    assert time.monotonic() - started < 10 and not worker.is_alive()
    assert len(errors) == 1 and "stopping" in str(errors[0])
    assert not alive(pid)


def test_a_call_that_starts_as_the_run_stops_is_killed_at_once(tmp_path: Path) -> None:
    script, _ = slow_cli(tmp_path)
    runner = ClaudeRunner(str(script))
    runner.terminate_all()  # e.g. Ctrl-C between a worker's "not stopping" check and its Popen
    started = time.monotonic()
    finished = runner.execute([str(script)], tmp_path, "", timeout=60)

    assert time.monotonic() - started < 10 and not finished.timed_out
    assert finished.exit_code is not None and finished.exit_code < 0


def test_ctrl_c_the_moment_the_child_starts_never_leaves_it_running(tmp_path: Path) -> None:
    """The interrupt lands while the main thread may still be inside the start (Popen after the fork):
    whichever line it hits, the child the runner started is ended before the interrupt unwinds."""
    script, pid_file = slow_cli(tmp_path)
    runner = ClaudeRunner(str(script))

    def interrupt() -> None:  # as soon as the child runs (polled tightly, to land inside the start if it can)
        deadline = time.monotonic() + 60
        while not (pid_file.is_file() and pid_file.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.0005)
        os.kill(os.getpid(), signal.SIGINT)

    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    sender = threading.Thread(target=interrupt)
    sender.start()
    try:
        with pytest.raises(KeyboardInterrupt):
            runner.execute([str(script)], tmp_path, "", timeout=60)
    finally:
        sender.join(timeout=60)
        signal.signal(signal.SIGINT, previous)

    assert not alive(int(pid_file.read_text()))
    assert runner.live_pids() == []


def test_a_missing_cli_is_still_one_line_naming_the_fix(tmp_path: Path) -> None:
    with pytest.raises(ClaudebuildError, match="npm install -g @anthropic-ai/claude-code"):
        ClaudeRunner(str(tmp_path / "no-such-claude")).ensure_supported()


def test_a_missing_cli_is_never_fixed_by_naming_it_in_the_repository() -> None:
    message = str(ClaudeNotFound("nope"))

    assert "CLAUDEBUILD_CLAUDE" in message and "claudebuild.toml" not in message

"""The only module that starts `claude`: each call as a child in its own process group, under a wall-clock
limit, reachable by `terminate_all` (Ctrl-C, SIGTERM, an auth failure), and its outcome classified
(claude/outcome.py). What a call is lives in claude/calls.py.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from claudebuild import CLAUDE_CODE_VERSION
from claudebuild.claude.calls import ClaudeCall, FollowUp
from claudebuild.claude.credentials import LOGIN, Credentials, user_config_dir
from claudebuild.claude.outcome import INTERRUPTED, OK, CallOutcome, classify, classify_answer
from claudebuild.errors import ClaudebuildError


@dataclass(frozen=True)
class FinishedProcess:
    exit_code: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool
    duration_ms: int


VERSION_TIMEOUT_S = 30.0
MIN_VERSION = (2, 1, 0)
"""Oldest CLI with every flag claudebuild passes (--json-schema, --tools "", --setting-sources, --session-id)."""


def parse_version(text: str) -> tuple[int, ...] | None:
    match = re.match(r"\s*(\d+)\.(\d+)\.(\d+)", text)
    return tuple(int(part) for part in match.groups()) if match else None


class ClaudeRunner:
    """Runs calls as child processes in their own process groups, so a timeout or Ctrl-C
    can kill the CLI and everything it started, and `terminate_all` leaves no orphans."""

    def __init__(self, binary: str, env: dict[str, str] | None = None, credentials: Credentials | None = None) -> None:
        self.binary = binary
        self.env = env if env is not None else dict(os.environ)
        self.credentials = credentials or Credentials(LOGIN, user_config_dir(self.env))  # the normal start
        self._live: set[subprocess.Popen[bytes]] = set()
        self._lock = threading.RLock()  # guards `_live`; a signal handler may take it on a thread already holding it
        self._version_lock = threading.Lock()  # one `claude --version` at a time; never `_lock` across a child's life
        self._stopping = False
        self._checked_version: str | None = None

    def ensure_supported(self) -> str:
        """Check once that the CLI exists and is new enough; the version string otherwise.

        `claude --version` runs like a call (own process group, in `_live`) under a lock of its
        own: Ctrl-C's handler runs `terminate_all` on the thread waiting here, and must both get
        `_lock` and reach this child, or the run hangs."""
        with self._version_lock:
            if self._checked_version is None:
                version = self._version()
                parsed = parse_version(version)
                if parsed is None or parsed < MIN_VERSION:
                    needed = ".".join(map(str, MIN_VERSION))
                    raise ClaudebuildError(
                        f"claude CLI {self.binary!r} reports version {version!r}, which is too old: claudebuild needs "
                        f">= {needed}; install `npm install -g @anthropic-ai/claude-code@{CLAUDE_CODE_VERSION}`"
                    )
                self._checked_version = version
            return self._checked_version

    def launch_flags(self) -> list[str]:
        """`--bare` (and the user's key helper) when the credentials and this CLI allow it; see credentials.py."""
        return self.credentials.launch_flags(parse_version(self.ensure_supported()))

    def launch_facts(self) -> dict[str, Any]:
        """For the call log and stored results: the CLI version (as `2.1.332`) and whether calls start bare."""
        parsed = parse_version(self._checked_version or "")
        version = ".".join(map(str, parsed)) if parsed else (self._checked_version or "")
        return {"cli_version": version, "bare": "--bare" in self.credentials.launch_flags(parsed)}

    def _version(self) -> str:
        finished = self.execute([self.binary, "--version"], None, "", VERSION_TIMEOUT_S)
        if finished.timed_out:
            raise ClaudebuildError(f"cannot run {self.binary!r} --version: no answer within {VERSION_TIMEOUT_S:g}s")
        if self._stopping:
            raise ClaudebuildError(f"{self.binary!r} --version was stopped: the run is stopping")
        return finished.stdout.decode(errors="replace").strip()

    def run(self, call: ClaudeCall) -> CallOutcome:
        if self._stopping:
            return CallOutcome(INTERRUPTED, "run is stopping")
        flags = self.launch_flags()
        call.cwd.mkdir(parents=True, exist_ok=True)
        if self.credentials.own_config_dir:
            self.credentials.config_dir.mkdir(parents=True, exist_ok=True)
        finished = self.execute(call.argv(self.binary) + flags, call.cwd, call.stdin, call.timeout)
        outcome = classify(finished.exit_code, finished.stdout, finished.stderr, timed_out=finished.timed_out,
                           answer_field=call.answer_field)
        if self._stopping and outcome.kind != OK:
            outcome = CallOutcome(INTERRUPTED, "run was interrupted", exit_code=finished.exit_code)
        return replace(outcome, duration_ms=finished.duration_ms)

    def execute(self, argv: list[str], cwd: Path | None, stdin: str, timeout: float) -> FinishedProcess:
        """Start the CLI in its own process group, feed stdin, wait at most `timeout` seconds
        (then kill the whole group); registered so `terminate_all` can reach it meanwhile, and
        killed at once if `terminate_all` ran while it was being started."""
        started = time.monotonic()
        try:
            process = self._start(argv, cwd)
        except FileNotFoundError:
            raise ClaudeNotFound(self.binary) from None
        except PermissionError as error:
            raise ClaudebuildError(f"cannot run claude CLI {self.binary!r}: {error.strerror}; check the path and its permissions") from error
        except OSError as error:  # e.g. not an executable: the process never started, no file is at fault
            raise ClaudebuildError(f"cannot start claude CLI {self.binary!r}: {error.strerror or error}; "
                                   "check that it is the claude executable") from error
        timed_out = False
        try:
            with self._lock:
                stopping = self._stopping
            if stopping:  # `terminate_all` took its list before this child was in it
                self._kill_group(process)
            stdout, stderr = process.communicate(stdin.encode("utf-8"), timeout=timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            self._kill_group(process)
            stdout, stderr = process.communicate()
        except BaseException:
            self._kill_group(process)  # a child in its own group does not get the terminal's Ctrl-C
            raise
        finally:
            with self._lock:
                self._live.discard(process)
        return FinishedProcess(process.returncode, stdout, stderr, timed_out, int((time.monotonic() - started) * 1000))

    def _start(self, argv: list[str], cwd: Path | None) -> subprocess.Popen[bytes]:
        """Start the child on a helper thread and put it in `_live` before that thread lets go.

        Signal handlers run on the main thread between bytecodes: Ctrl-C's handler raising
        inside `Popen` after the fork would lose a started child that nobody then ends (it
        outlived the run). The helper's start cannot be interrupted; if the main thread's wait
        is, it closes the gate (no start begins after that) and ends whatever was started."""
        gate = threading.Lock()
        done = threading.Event()
        started: list[subprocess.Popen[bytes]] = []
        failed: list[BaseException] = []
        cancelled: list[bool] = []

        def start() -> None:
            try:
                with gate:
                    if cancelled:
                        return
                    process = subprocess.Popen(argv, cwd=cwd, env=self.env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                               stderr=subprocess.PIPE, start_new_session=True)
                    with self._lock:
                        self._live.add(process)
                    started.append(process)
            except BaseException as error:  # handed to the waiting thread, which raises it
                failed.append(error)
            finally:
                done.set()

        try:
            threading.Thread(target=start, name="claude-start", daemon=True).start()
            done.wait()
        except BaseException:
            while not cancelled:  # a second Ctrl-C must not skip this
                with contextlib.suppress(BaseException), gate:
                    cancelled.append(True)
            for process in started:
                self._kill_group(process)
                with self._lock:
                    self._live.discard(process)
            raise
        if failed:
            raise failed[0]
        return started[0]

    def live_pids(self) -> list[int]:
        with self._lock:
            return [process.pid for process in self._live]

    def terminate_all(self) -> None:
        """Stop every running call (Ctrl-C, SIGTERM, an auth failure): TERM all groups, then KILL."""
        with self._lock:  # with `execute`'s check under the same lock, no child starts unseen
            self._stopping = True
            processes = list(self._live)
        for process in processes:
            _signal_group(process, signal.SIGTERM)
        deadline = time.monotonic() + 3.0
        for process in processes:
            try:
                process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            _signal_group(process, signal.SIGKILL)  # also reaps anything the CLI left in its group

    @staticmethod
    def _kill_group(process: subprocess.Popen[bytes]) -> None:
        _signal_group(process, signal.SIGTERM)
        try:
            process.wait(timeout=3.0)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(process, signal.SIGKILL)


def _signal_group(process: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(process.pid, sig)
    except (ProcessLookupError, PermissionError):
        pass  # the group is already gone


class ClaudeNotFound(ClaudebuildError):
    def __init__(self, binary: str) -> None:
        super().__init__(
            f"claude CLI not found ({binary!r}): install it with "
            f"`npm install -g @anthropic-ai/claude-code@{CLAUDE_CODE_VERSION}` "
            "or point CLAUDEBUILD_CLAUDE, --claude or claude_bin in your ~/.config/claudebuild/config.toml at the binary"
        )


def claude_version(binary: str, env: dict[str, str] | None = None) -> str:
    """`claude --version`, for the crash log and the report header."""
    try:
        done = subprocess.run([binary, "--version"], capture_output=True, timeout=30, env=env, check=False)
    except FileNotFoundError:
        raise ClaudeNotFound(binary) from None
    except (OSError, subprocess.TimeoutExpired) as error:
        raise ClaudebuildError(f"cannot run {binary!r} --version: {error}") from error
    return done.stdout.decode(errors="replace").strip()


def ask_follow_up(runner: ClaudeRunner, follow_up: FollowUp) -> CallOutcome:
    """Run one follow-up exactly as `ClaudeRunner.run` runs a review (own process group,
    wall-clock limit, reachable by `terminate_all`); the question goes on stdin."""
    if runner._stopping:
        return CallOutcome(INTERRUPTED, "run is stopping")
    flags = runner.launch_flags()
    if not follow_up.cwd.is_dir():  # Popen would say FileNotFoundError, as for a missing CLI
        raise ClaudebuildError(f"the session directory {follow_up.cwd} does not exist: analyze the chunk again (--reanalyze)")
    finished = runner.execute(follow_up.argv(runner.binary) + flags, follow_up.cwd, follow_up.question, follow_up.timeout)
    outcome = classify_answer(finished.exit_code, finished.stdout, finished.stderr, timed_out=finished.timed_out)
    return replace(outcome, duration_ms=finished.duration_ms)

"""The only module that starts `claude`: one isolated `claude -p` call, and what its outcome means.

The CLI's exit code and `subtype` alone do not say whether a call worked (an
API error after retries is `subtype: success` with `is_error: true`; a text-only
answer exits 0 without `structured_output`), so `classify` applies the contract
in ../shared/claude-cli-contract.md and only `kind == "ok"` may ever be cached.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import orjson

from claudebuild import CLAUDE_CODE_VERSION
from claudebuild.claude.credentials import LOGIN, Credentials, user_config_dir
from claudebuild.errors import ClaudebuildError

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504, 529})
AUTH_STATUS = frozenset({401, 403})
CONGESTION_STATUS = frozenset({429, 529})
STDERR_TAIL_CHARS = 2_000

OK = "ok"
RETRY = "retry"  # throttled or transient: back off and try again
AUTH = "auth"  # not logged in / bad key: stop the whole run
TOO_LARGE = "too-large"  # 413 or prompt too long: split the chunk
BAD_REQUEST = "bad-request"  # 400 and friends: this chunk fails
BAD_OUTPUT = "bad-output"  # no or invalid structured output: retry once, then fail
TIMEOUT = "timeout"  # our wall-clock limit: retry once, then fail
BUDGET = "budget"  # --max-budget-usd hit
CLI_ERROR = "cli-error"  # the CLI refused to run (bad flags, reused session id)
INTERRUPTED = "interrupted"  # we were asked to stop


@dataclass(frozen=True)
class ClaudeCall:
    """Everything one call needs. The whole prompt (instructions and content) goes on stdin:
    argv holds only fixed flags, so no text can be taken for an option or overflow argv."""

    stdin: str
    schema_json: str
    system_prompt: str
    model: str
    max_turns: int
    session_id: str
    cwd: Path
    timeout: float
    max_budget_usd: float | None = None
    answer_field: str = "findings"
    """The structured output's required field: `findings` (a list) for a review, `verdict` (a string) for a verification."""

    def argv(self, binary: str) -> list[str]:
        args = [
            binary, "-p",
            "--output-format", "json",
            "--json-schema", self.schema_json,
            "--max-turns", str(self.max_turns),
            "--tools", "",
            "--setting-sources", "",
            "--strict-mcp-config",
            f"--system-prompt={self.system_prompt}",  # "=": a value starting with "-" stays a value
            f"--model={self.model}",
            "--session-id", self.session_id,
        ]  # fmt: skip
        if self.max_budget_usd is not None:
            args += ["--max-budget-usd", f"{self.max_budget_usd:.4f}"]
        return args


@dataclass(frozen=True)
class CallOutcome:
    """What happened, in the terms the retry policy and the report need."""

    kind: str
    message: str = ""
    structured: dict[str, Any] | None = None
    session_id: str = ""
    exit_code: int | None = None
    http_status: int | None = None
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    duration_ms: int = 0
    stderr_tail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def classify(exit_code: int | None, stdout: bytes, stderr: bytes, *, timed_out: bool = False,
             answer_field: str = "findings") -> CallOutcome:
    """Turn a finished CLI process into a `CallOutcome` (pure; see the module doc)."""
    tail = stderr.decode("utf-8", errors="replace")[-STDERR_TAIL_CHARS:]
    if timed_out:
        return CallOutcome(TIMEOUT, "call timed out and was killed", exit_code=exit_code, stderr_tail=tail)
    text = stdout.strip()
    if not text:
        if exit_code in (-signal.SIGTERM, 143, -signal.SIGINT, 130):
            return CallOutcome(INTERRUPTED, "claude was interrupted", exit_code=exit_code, stderr_tail=tail)
        first = tail.strip().splitlines()[-1] if tail.strip() else f"exit code {exit_code}"
        return CallOutcome(CLI_ERROR, f"claude failed: {first}", exit_code=exit_code, stderr_tail=tail)
    try:
        result = orjson.loads(text)
    except orjson.JSONDecodeError:
        return CallOutcome(BAD_OUTPUT, "claude printed output that is not JSON", exit_code=exit_code, stderr_tail=tail)
    if not isinstance(result, dict):
        return CallOutcome(BAD_OUTPUT, "claude printed JSON that is not a result object", exit_code=exit_code, stderr_tail=tail)
    raw_usage = result.get("usage")
    usage: dict[str, Any] = raw_usage if isinstance(raw_usage, dict) else {}
    common: dict[str, Any] = {
        "session_id": str(result.get("session_id") or ""),
        "exit_code": exit_code,
        "cost_usd": float(result.get("total_cost_usd") or 0.0),
        "input_tokens": int(usage.get("input_tokens") or 0)
        + int(usage.get("cache_read_input_tokens") or 0)
        + int(usage.get("cache_creation_input_tokens") or 0),
        "output_tokens": int(usage.get("output_tokens") or 0),
        "duration_ms": int(result.get("duration_ms") or 0),
        "stderr_tail": tail,
    }
    message = str(result.get("result") or "").strip()
    status = result.get("api_error_status")
    subtype = str(result.get("subtype") or "")
    if result.get("is_error") or exit_code not in (0, None) or subtype != "success":
        return _classify_error(message, status if isinstance(status, int) else None, subtype, result, common)
    structured = result.get("structured_output")
    if not isinstance(structured, dict):
        return CallOutcome(BAD_OUTPUT, "the model answered without the structured findings", **common)
    if answer_field != "findings":
        if not isinstance(structured.get(answer_field), str):
            return CallOutcome(BAD_OUTPUT, f"the structured output has no {answer_field}", **common)
        return CallOutcome(OK, "", structured=structured, **common)
    findings = structured.get("findings")
    if not isinstance(findings, list) or not all(isinstance(item, dict) for item in findings):
        return CallOutcome(BAD_OUTPUT, "the structured output has no list of findings", **common)
    return CallOutcome(OK, "", structured=structured, **common)


def _classify_error(message: str, status: int | None, subtype: str, result: dict[str, Any], common: dict[str, Any]) -> CallOutcome:
    lowered = message.lower()
    if subtype == "error_max_budget_usd":
        return CallOutcome(BUDGET, "the per-call budget (--max-budget-usd) was exceeded", **common)
    if subtype in ("error_max_turns", "error_max_structured_output_retries"):
        errors = "; ".join(str(item) for item in result.get("errors") or [])
        return CallOutcome(BAD_OUTPUT, f"{subtype}{': ' + errors if errors else ''}", **common)
    if status in AUTH_STATUS or "not logged in" in lowered or "invalid api key" in lowered:
        return CallOutcome(AUTH, message or "authentication failed", http_status=status, **common)
    if status == 413 or "prompt is too long" in lowered or "too large" in lowered:
        return CallOutcome(TOO_LARGE, message or "request too large", http_status=status, **common)
    if status in RETRYABLE_STATUS or (status is None and _looks_transient(lowered)):
        return CallOutcome(RETRY, message or f"API error {status}", http_status=status, **common)
    if status is not None:
        return CallOutcome(BAD_REQUEST, message or f"API error {status}", http_status=status, **common)
    return CallOutcome(BAD_OUTPUT, message or f"claude reported an error ({subtype or 'unknown'})", **common)


def _looks_transient(message: str) -> bool:
    markers = ("timed out", "timeout", "unable to connect", "connection", "econnreset", "socket", "overloaded", "fetch failed")
    return any(marker in message for marker in markers)


@dataclass(frozen=True)
class FinishedProcess:
    exit_code: int | None
    stdout: bytes
    stderr: bytes
    timed_out: bool
    duration_ms: int


class CallRunner(Protocol):
    """What the retry policy needs from a runner: `ClaudeRunner`, or a test's scripted fake."""

    def run(self, call: ClaudeCall) -> CallOutcome: ...

    def terminate_all(self) -> None: ...

    def launch_facts(self) -> dict[str, Any]: ...


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


# -- follow-up questions on a stored session (`claudebuild ask`) ---------------------------------

NO_SESSION = "no-session"  # the transcript is gone (deleted, expired, other cwd or config dir)
NO_CONVERSATION_MARKER = "no conversation found"
"""What the CLI prints on stderr (exit 1, empty stdout) when `--resume` cannot find the transcript."""


@dataclass(frozen=True)
class FollowUp:
    """A question on an earlier session: `claude -p --resume SESSION`, the question on stdin.

    `session` is the session id (found only from the same `cwd`) or the absolute
    path of its transcript (found from anywhere). The question goes on stdin, not
    in argv: there a question starting with '-' is an "unknown option" to the CLI.
    No tools are offered, so the answer can only come from the stored history.
    `fork` gives the answer its own session id and leaves the stored one as it was.
    """

    question: str
    session: str
    cwd: Path
    model: str
    fork: bool = True
    timeout: float = 600.0
    system_prompt: str | None = None

    def argv(self, binary: str) -> list[str]:
        args = [
            binary, "-p",
            "--resume", self.session,
            "--output-format", "json",
            "--tools", "",
            "--setting-sources", "",
            "--strict-mcp-config",
            f"--model={self.model}",
        ]  # fmt: skip
        if self.fork:
            args.append("--fork-session")
        if self.system_prompt is not None:
            args.append(f"--system-prompt={self.system_prompt}")
        return args


def classify_answer(exit_code: int | None, stdout: bytes, stderr: bytes, *, timed_out: bool = False) -> CallOutcome:
    """`classify` for a follow-up: a non-empty text `result` is the success (no schema here),
    kept in `extra["answer"]`; a missing transcript is `NO_SESSION`, not a CLI error."""
    if not timed_out and not stdout.strip() and NO_CONVERSATION_MARKER in stderr.decode("utf-8", "replace").lower():
        tail = stderr.decode("utf-8", errors="replace")[-STDERR_TAIL_CHARS:]
        return CallOutcome(NO_SESSION, tail.strip().splitlines()[-1], exit_code=exit_code, stderr_tail=tail)
    outcome = classify(exit_code, stdout, stderr, timed_out=timed_out)
    if outcome.kind not in (OK, BAD_OUTPUT) or timed_out:  # errors mean the same as for a review
        return outcome
    try:
        result = orjson.loads(stdout.strip())
    except orjson.JSONDecodeError:
        return outcome
    succeeded = (isinstance(result, dict) and exit_code in (0, None) and not result.get("is_error")
                 and result.get("subtype") == "success")
    if not succeeded:
        return outcome
    answer = str(result.get("result") or "").strip()
    if not answer:
        return replace(outcome, message="claude returned an empty answer")
    return replace(outcome, kind=OK, message="", extra={"answer": answer})


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

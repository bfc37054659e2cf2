"""What a finished `claude -p` process means: the outcome kinds and their classification (pure, no process).

The CLI's exit code and `subtype` alone do not say whether a call worked (an
API error after retries is `subtype: success` with `is_error: true`; a text-only
answer exits 0 without `structured_output`), so `classify` applies the contract
in ../shared/claude-cli-contract.md and only `kind == "ok"` may ever be cached.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from claudebuild.untrusted_text import terminal_text

RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504, 529})
AUTH_STATUS = frozenset({401, 403})
CONGESTION_STATUS = frozenset({429, 529})
STDERR_TAIL_CHARS = 2_000

OK = "ok"
RETRY = "retry"  # throttled or transient: back off and try again
AUTH = "auth"  # not logged in / bad key: stop the whole run
MODEL = "model"  # the model does not exist or this account cannot use it: stop the whole run
TOO_LARGE = "too-large"  # 413 or prompt too long: split the chunk
BAD_REQUEST = "bad-request"  # 400 and friends: this chunk fails
BAD_OUTPUT = "bad-output"  # no or invalid structured output: retry once, then fail
TIMEOUT = "timeout"  # our wall-clock limit: retry once, then fail
BUDGET = "budget"  # --max-budget-usd hit
CLI_ERROR = "cli-error"  # the CLI refused to run (bad flags, reused session id)
INTERRUPTED = "interrupted"  # we were asked to stop

NO_SESSION = "no-session"  # the transcript is gone (deleted, expired, other cwd or config dir)
NO_CONVERSATION_MARKER = "no conversation found"
"""What the CLI prints on stderr (exit 1, empty stdout) when `--resume` cannot find the transcript."""


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
    if status == 404:  # the CLI's only 404 is the messages endpoint's: "There's an issue with the selected model"
        return CallOutcome(MODEL, message or "model not found", http_status=status, **common)
    if status == 413 or "prompt is too long" in lowered or "too large" in lowered:
        return CallOutcome(TOO_LARGE, message or "request too large", http_status=status, **common)
    if status in RETRYABLE_STATUS or (status is None and _looks_transient(lowered)):
        return CallOutcome(RETRY, message or f"API error {status}", http_status=status, **common)
    if status is not None:
        return CallOutcome(BAD_REQUEST, message or f"API error {status}", http_status=status, **common)
    return CallOutcome(BAD_OUTPUT, message or f"claude reported an error ({subtype or 'unknown'})", **common)


AUTH_HINT = "set ANTHROPIC_API_KEY or run `claude` once and log in (`/login`), then rerun"
MODEL_HINT = ("set `model` in claudebuild.toml (or CLAUDEBUILD_MODEL) to a model this account can use, "
              "e.g. the default or an alias such as `sonnet`, then rerun")


def run_stop_reason(outcome: CallOutcome) -> str | None:
    """The one line that ends a whole run when every other call would get the same answer (a bad login, a
    model this account cannot use), or None: better one error than thousands of failed chunks."""
    if outcome.kind == AUTH:
        return f"authentication failed ({terminal_text(outcome.message)}): {AUTH_HINT}"
    if outcome.kind == MODEL:
        return f"the model is not available ({terminal_text(outcome.message)}): {MODEL_HINT}"
    return None


def _looks_transient(message: str) -> bool:
    markers = ("timed out", "timeout", "unable to connect", "connection", "econnreset", "socket", "overloaded", "fetch failed")
    return any(marker in message for marker in markers)


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

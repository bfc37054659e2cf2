"""Analyze one chunk: build the prompt, call claude under the shared retry policy, produce a `ChunkResult`.

Only a real success becomes an "ok" result (and is reused by later runs).
Every other ending is an "error" result that keeps the reason for the report
and is retried next run, except the ones that must stop the whole run (bad
login, Ctrl-C), which raise `RunAborted` so that nothing half-done is stored.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from claudebuild.claude import outcome as outcomes
from claudebuild.run.budget import BYTES_PER_TOKEN, OVERHEAD_INPUT_TOKENS, Budget
from claudebuild.run.calllog import CallLog
from claudebuild.claude.calls import CallRunner, ClaudeCall
from claudebuild.claude.outcome import CallOutcome
from claudebuild.config import Config
from claudebuild.hashing import ContentHasher
from claudebuild.model import Chunk, ChunkPart, ChunkResult, SentFile
from claudebuild.pipeline.locate import locate_findings
from claudebuild.pipeline.prompt import ContentSource, Payload, WorkingTree, build_payload, build_stdin, findings_schema_json, system_prompt
from claudebuild.secrets.scan import DEFAULT_SCANNER, SecretScanner
from claudebuild.run.remote_cache import RemoteCache
from claudebuild.run.remote_entry import hit_result, remote_key
from claudebuild.run.throttle import RunAborted, ThrottleGate, TokenBucket

ONCE_MORE = frozenset({outcomes.BAD_OUTPUT, outcomes.TIMEOUT, outcomes.CLI_ERROR})
"""Outcomes worth exactly one more attempt: models and processes fail spuriously."""


@dataclass
class AnalysisContext:
    """Shared by every worker of one run: the settings and the coordinators between workers."""

    config: Config
    runner: CallRunner
    gate: ThrottleGate
    hasher: ContentHasher
    run_id: str
    call_log: CallLog
    answer_digest: str = ""
    source: ContentSource | None = None
    budget: Budget | None = None
    tokens: TokenBucket | None = None
    estimates: dict[str, float] = field(default_factory=dict)
    scanner: SecretScanner = DEFAULT_SCANNER
    """Finds the secrets to redact (or the whole file to withhold) in every payload; a `Build` passes its own,
    persisted one."""
    remote: RemoteCache | None = None
    """The team's shared cache (`cache_url`), asked before each call and given each fresh result."""
    clock: Callable[[], float] = time.monotonic
    """Seconds, for `retry_patience`; the policy tests pass a fake clock shared with the gate."""

    def __post_init__(self) -> None:
        if self.source is None:
            self.source = WorkingTree(self.config.root, self.hasher)

    @property
    def content_source(self) -> ContentSource:
        assert self.source is not None  # set by __post_init__
        return self.source

    def reserve(self, chunk_id: str) -> float | None:
        """Reserve the chunk's estimate (`estimates`) in the run budget before its call: the amount to settle
        afterwards (0 without a budget), or None when the budget declines it."""
        amount = self.estimates.get(chunk_id, 0.0)
        if self.budget is not None and not self.budget.reserve(chunk_id, amount):
            return None
        return amount

    @property
    def session_cwd(self) -> Path:
        """A fixed, empty directory: sessions are found again from it (`ask`), and the
        CLI never starts inside the repository under review."""
        return self.config.state_path / "session-cwd"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def analyze_chunk(context: AnalysisContext, chunk: Chunk) -> ChunkResult | None:
    """The chunk's result, or None when the run budget declined to start it.

    With a remote cache, a valid entry for exactly the bytes about to be sent is the result (no
    call, no budget); otherwise a successful call's result is offered to the cache afterwards."""
    remote = context.remote
    payload: Payload | None = None
    key = ""
    if remote is not None and not remote.disabled:
        try:
            payload = build_payload(chunk, context.content_source, context.scanner)
        except (OSError, UnicodeError):
            payload = None  # the call path below reports the unreadable file
        else:
            key, hit = remote_lookup(context, chunk, payload)
            if hit is not None:
                return hit
    budget = context.budget
    reserved = context.reserve(chunk.id)
    if reserved is None:
        return None
    spent = 0.0
    try:
        result = analyze_reserved(context, chunk, payload)
        spent = result.cost_usd
    finally:
        if budget is not None:
            budget.settle(reserved, spent)
    if remote is not None and payload is not None:
        remote.offer(key, result, chunk, payload.sent)
    return result


def remote_lookup(context: AnalysisContext, chunk: Chunk, payload: Payload) -> tuple[str, ChunkResult | None]:
    """The chunk's key in the shared cache and, if the cache holds a valid entry for exactly these bytes,
    the result it gives (no call, no budget)."""
    assert context.remote is not None
    key = remote_key(context.config, chunk, payload)
    hit = context.remote.find(key, chunk, payload.sent)
    if hit is None:
        return key, None
    return key, hit_result(hit, chunk, payload.sent, run_id=context.run_id, model=context.config.model,
                           answer_digest=context.answer_digest, bytes_sent=payload.size, at=utc_now())


def analyze_reserved(context: AnalysisContext, chunk: Chunk, payload: Payload | None = None) -> ChunkResult:
    """The chunk analyzed by its own call (halved on "too large"), its budget already reserved."""
    started_at = utc_now()
    try:
        pieces = _analyze_parts(context, chunk, chunk.parts, depth=0, payload=payload)
    except (OSError, UnicodeError) as error:
        return ChunkResult(chunk=chunk.id, status="error", error=f"cannot read files: {error}", error_kind="unreadable",
                           started_at=started_at, finished_at=utc_now(), run_id=context.run_id)
    failed = [piece for piece in pieces if piece.outcome.kind != outcomes.OK]
    first = next((piece.outcome for piece in pieces if piece.outcome.session_id), pieces[0].outcome)
    common: dict[str, Any] = dict(
        chunk=chunk.id,
        session_id=first.session_id,
        cwd=str(context.session_cwd),
        model=context.config.model,
        cli_version=context.runner.launch_facts()["cli_version"],
        cost_usd=round(sum(piece.spent for piece in pieces), 6),
        input_tokens=sum(piece.outcome.input_tokens for piece in pieces),
        output_tokens=sum(piece.outcome.output_tokens for piece in pieces),
        duration_ms=sum(piece.outcome.duration_ms for piece in pieces),
        started_at=started_at,
        finished_at=utc_now(),
        run_id=context.run_id,
        attempts=sum(piece.attempts for piece in pieces),
        answer_digest=context.answer_digest,
        bytes_sent=sum(piece.size for piece in pieces),
        sent=tuple(sent for piece in pieces for sent in piece.sent),
    )
    if not failed:
        findings = tuple(item for piece in pieces for item in (piece.outcome.structured or {}).get("findings", ()))
        return ChunkResult(status="ok", raw_findings=findings, **common)
    worst = failed[0].outcome
    return ChunkResult(status="error", error=worst.message or worst.kind, error_kind=worst.kind, **common)


@dataclass(frozen=True)
class _Piece:
    """The outcome for some of a chunk's parts (all of them unless the API said "too large")."""

    sent: tuple[SentFile, ...]
    size: int
    outcome: CallOutcome
    attempts: int
    spent: float


MAX_SPLIT_DEPTH = 4


def _analyze_parts(context: AnalysisContext, chunk: Chunk, parts: tuple[ChunkPart, ...], depth: int,
                   payload: Payload | None = None) -> list[_Piece]:
    """One call for these parts (`payload`: already read for them); on 413 / prompt-too-long, halves analyzed separately."""
    piece = Chunk(chunk.id, parts)
    if payload is None:
        payload = build_payload(piece, context.content_source, context.scanner)
    outcome, attempts, spent = review_call(context, piece, payload)
    outcome = located(outcome, payload)
    if outcome.kind != outcomes.TOO_LARGE or depth >= MAX_SPLIT_DEPTH:
        return [_Piece(payload.sent, payload.size, outcome, attempts, spent)]
    halves = split_parts(parts)
    if halves is None:
        return [_Piece(payload.sent, payload.size, outcome, attempts, spent)]
    # the refused attempt still counts (its cost and attempts), with no findings of its own
    pieces = [_Piece((), 0, CallOutcome(outcomes.OK, structured={"findings": []}), attempts, spent)]
    for half in halves:
        pieces += _analyze_parts(context, chunk, half, depth + 1)
    return pieces


def located(outcome: CallOutcome, payload: Payload) -> CallOutcome:
    """The outcome with each finding on the exact line its quote stands on (`pipeline/locate.py`)."""
    findings = (outcome.structured or {}).get("findings") if outcome.kind == outcomes.OK else None
    if not isinstance(findings, (list, tuple)):
        return outcome
    located = list(locate_findings(findings, payload.lines_by_path))
    return replace(outcome, structured={**(outcome.structured or {}), "findings": located})


def split_parts(parts: tuple[ChunkPart, ...]) -> tuple[tuple[ChunkPart, ...], tuple[ChunkPart, ...]] | None:
    """Halve a chunk that was too large: by files, or a single file by its line range."""
    if len(parts) > 1:
        middle = len(parts) // 2
        return parts[:middle], parts[middle:]
    (only,) = parts
    if only.parts >= 2**MAX_SPLIT_DEPTH * 8:
        return None
    finer = only.parts * 2
    return (ChunkPart(only.path, 2 * only.part - 1, finer),), (ChunkPart(only.path, 2 * only.part, finer),)


def review_call(context: AnalysisContext, chunk: Chunk, payload: Payload, reserved: float | None = None,
                carried: tuple[str, ...] = ()) -> tuple[CallOutcome, int, float]:
    """The review of `payload` (the files of `chunk`, or of several chunks sharing one call): the last
    outcome, the number of attempts and the dollars spent on all of them."""
    config = context.config
    return call_with_retries(context, chunk, lambda: ClaudeCall(
        stdin=build_stdin(config, chunk, payload),
        schema_json=findings_schema_json(),
        system_prompt=system_prompt(config),
        model=config.model,
        max_turns=config.max_turns,
        session_id=str(uuid.uuid4()),
        cwd=context.session_cwd,
        timeout=config.call_timeout,
        max_budget_usd=_call_guard(context, context.estimates.get(chunk.id, 0.0) if reserved is None else reserved),
    ), carried)


def call_with_retries(context: AnalysisContext, chunk: Chunk, make_call: Callable[[], ClaudeCall],
                      carried: tuple[str, ...] = ()) -> tuple[CallOutcome, int, float]:
    """One call (a fresh `make_call()` per attempt) under the run's retry policy, token bucket and throttle gate:
    the last outcome, the number of attempts and the dollars spent on all of them. Reviews and verifications
    both go through here, so they share every rule about faults, pauses and stopping."""
    config = context.config
    first_started = context.clock()
    attempts = 0
    spent = 0.0
    retried_once: set[str] = set()
    while True:
        attempts += 1
        call = make_call()
        expected_tokens = len(call.stdin) / BYTES_PER_TOKEN + OVERHEAD_INPUT_TOKENS
        if context.tokens is not None:
            context.tokens.take(expected_tokens, abort=lambda: context.gate.abort_reason)
        ticket = context.gate.acquire()
        call_started = utc_now()
        try:
            outcome = context.runner.run(call)
        except BaseException:
            context.gate.release(ticket, throttled=False)
            raise
        context.gate.release(ticket, throttled=outcome.kind == outcomes.RETRY,
                             congested=outcome.http_status in outcomes.CONGESTION_STATUS)
        if context.tokens is not None:
            context.tokens.adjust(outcome.input_tokens + outcome.output_tokens - expected_tokens)
        spent += outcome.cost_usd
        _log_call(context, chunk, call, outcome, attempts, call_started, carried)
        if outcome.kind == outcomes.OK:
            return outcome, attempts, spent
        reason = outcomes.run_stop_reason(outcome)
        if reason is not None:
            context.gate.abort(reason)
            context.runner.terminate_all()
            raise RunAborted(reason)
        if outcome.kind == outcomes.INTERRUPTED:
            raise RunAborted(context.gate.abort_reason or "run interrupted")
        if outcome.kind == outcomes.RETRY and context.clock() - first_started < config.retry_patience:
            continue  # the gate holds this worker (and all others) until the shared pause ends
        if outcome.kind in ONCE_MORE and outcome.kind not in retried_once:
            retried_once.add(outcome.kind)
            continue
        return outcome, attempts, spent


def _call_guard(context: AnalysisContext, reserved: float) -> float | None:
    """Per-call `--max-budget-usd`: what is left of the run budget, this call's reservation included."""
    if context.budget is None:
        return None
    return max(0.01, context.budget.remaining() + reserved)


def _log_call(context: AnalysisContext, chunk: Chunk, call: ClaudeCall, outcome: CallOutcome, attempt: int, started: str,
              carried: tuple[str, ...] = ()) -> None:
    """One line per attempt; a call that carried other chunks (run/batching.py) names them all under `chunks`."""
    context.call_log.write(
        {
            "run_id": context.run_id,
            "chunk": chunk.id,
            **({"chunks": [chunk.id, *carried]} if carried else {}),
            "files": list(chunk.paths),
            "attempt": attempt,
            "start": started,
            "end": utc_now(),
            "session_id": outcome.session_id or call.session_id,
            "exit_code": outcome.exit_code,
            "outcome": outcome.kind,
            "http_status": outcome.http_status,
            "message": outcome.message,
            **context.runner.launch_facts(),
            "cost_usd": outcome.cost_usd,
            "input_tokens": outcome.input_tokens,
            "output_tokens": outcome.output_tokens,
            "duration_ms": outcome.duration_ms,
            "stderr_tail": outcome.stderr_tail[-500:],
        }
    )

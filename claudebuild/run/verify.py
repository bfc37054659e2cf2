"""The verification pass: a second, independent `claude -p` call per finding, cached per finding.

Each finding at or above `verify_min_severity` is judged by a call that sees only the finding and
the flagged file as the reviewer saw it (its line range, secrets redacted). A verdict is stored
under a key made of the finding, the file's content hash and the verification settings
(`pipeline/verify_prompt.verdict_key`), so a rerun re-verifies nothing unchanged, and a verdict
survives a re-analysis that reports the same finding again. Verification calls go through the same
runner, retry policy, throttle, token bucket and `--max-cost` budget as reviews
(`analyze.call_with_retries`), and Ctrl-C or a bad login stops them the same way (`RunAborted`).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from claudebuild.checks import Check
from claudebuild.claude import outcome as outcomes
from claudebuild.claude.calls import ClaudeCall
from claudebuild.config import Config
from claudebuild.hashing import digest_json
from claudebuild.model import Chunk, ChunkResult, Finding
from claudebuild.pipeline.prompt import build_payload, system_prompt
from claudebuild.pipeline.report import Report, validate_finding
from claudebuild.pipeline.verify_prompt import (REFUTED, VERDICTS, Verdict, build_verify_stdin, finding_fields,
                                                needs_verification, verdict_key, verdict_schema_json, verify_answer_key)
from claudebuild.run.analyze import AnalysisContext, call_with_retries
from claudebuild.run.budget import PendingChunk, price_estimate

if TYPE_CHECKING:
    from claudebuild.run.jobs import Job

VERIFY_PREFIX = "verify:"
VERIFY_MAX_TURNS = 3


@dataclass(frozen=True)
class VerifySettings:
    """Whether and how one check's findings are verified."""

    min_severity: str
    model: str
    answer_digest: str


def verify_settings(config: Config, check: Check | None, job_model: str) -> VerifySettings | None:
    """The check's verification settings (its own, else the global ones); None when it does not verify."""
    enabled = check.verify if check is not None and check.verify is not None else config.verify
    if not enabled:
        return None
    min_severity = (check.verify_min_severity if check is not None and check.verify_min_severity
                    else config.verify_min_severity)
    model = (check.verify_model if check is not None and check.verify_model else "") or config.verify_model or job_model
    return VerifySettings(min_severity, model, digest_json(verify_answer_key(model, system_prompt(config))))


def verify_task_name(chunk_id: str) -> str:
    return VERIFY_PREFIX + chunk_id


def candidates(chunk: Chunk, result: ChunkResult, settings: VerifySettings) -> Iterator[tuple[Finding, str]]:
    """The result's findings that need a verdict, each with its verdict's cache key."""
    if result.status != "ok":
        return
    hashes = {sent.path: sent.hash for sent in result.sent}
    for raw in result.raw_findings:
        finding, _ = validate_finding(raw, chunk, result.sent)
        if finding is not None and needs_verification(finding, settings.min_severity):
            yield finding, verdict_key(finding, hashes.get(finding.file, ""), settings.answer_digest)


def missing_keys(chunk: Chunk, result: ChunkResult, settings: VerifySettings, values: Mapping[str, Any] | None) -> list[str]:
    """Keys of the verdicts this result still needs (none stored under them)."""
    stored = stored_verdicts(values)
    return [key for _, key in candidates(chunk, result, settings) if key not in stored]


def stored_verdicts(values: Mapping[str, Any] | None) -> dict[str, Verdict]:
    """The verdicts a verify task stored, skipping anything malformed (it is then simply verified again)."""
    raw = (values or {}).get("verdicts")
    verdicts: dict[str, Verdict] = {}
    if not isinstance(raw, dict):
        return verdicts
    for key, item in raw.items():
        if isinstance(item, dict) and item.get("verdict") in VERDICTS:
            try:
                verdicts[key] = Verdict(verdict=str(item["verdict"]), reason=str(item.get("reason") or ""),
                                        cost_usd=float(item.get("cost_usd") or 0.0), run_id=str(item.get("run_id") or ""),
                                        model=str(item.get("model") or ""))
            except (TypeError, ValueError):
                continue
    return verdicts


@dataclass(frozen=True)
class VerifyRun:
    """What one verify task did: the values to store, and how many verdicts the budget declined."""

    values: dict[str, Any]
    declined: int = 0
    failed: int = 0


def verify_chunk(context: AnalysisContext, chunk: Chunk, result: ChunkResult, settings: VerifySettings,
                 previous: Mapping[str, Any] | None) -> VerifyRun:
    """Verdicts for every candidate finding of `result`: stored ones reused, the rest asked for now.

    Raises `RunAborted` (Ctrl-C, bad login) like a review; a failed or declined verification leaves
    its finding without a verdict, so it is verified on the next run."""
    stored = stored_verdicts(previous)
    verdicts: dict[str, Verdict] = {}
    declined = failed = 0
    for finding, key in candidates(chunk, result, settings):
        if key in verdicts:
            continue
        if key in stored:
            verdicts[key] = stored[key]
            continue
        verdict = _verify_one(context, chunk, finding, settings)
        if verdict is None:
            declined += 1
        elif verdict.verdict == "":
            failed += 1
        else:
            verdicts[key] = verdict
    values = {"status": "ok", "verdicts": {key: asdict(verdict) for key, verdict in verdicts.items()},
              "answer_digest": settings.answer_digest, "sent": [asdict(sent) for sent in result.sent]}
    return VerifyRun(values, declined, failed)


def _verify_one(context: AnalysisContext, chunk: Chunk, finding: Finding, settings: VerifySettings) -> Verdict | None:
    """One verification: the verdict, an empty one when the call failed, None when the budget declined it."""
    part = next((part for part in chunk.parts if part.path == finding.file), None)
    if part is None:
        return Verdict("")
    label = Chunk(f"{VERIFY_PREFIX}{chunk.id}", (part,))
    payload = build_payload(label, context.content_source, context.scanner)
    budget = context.budget
    reserved = price_estimate(settings.model, payload.size) if budget is not None else 0.0
    if budget is not None and not budget.reserve(label.id, reserved):
        return None
    config = context.config
    spent = 0.0
    try:
        outcome, _, spent = call_with_retries(context, label, lambda: ClaudeCall(
            stdin=build_verify_stdin(finding, payload),
            schema_json=verdict_schema_json(),
            system_prompt=system_prompt(config),
            model=settings.model,
            max_turns=VERIFY_MAX_TURNS,
            session_id=str(uuid.uuid4()),
            cwd=context.session_cwd,
            timeout=config.call_timeout,
            max_budget_usd=None if budget is None else max(0.01, budget.remaining() + reserved),
            answer_field="verdict",
        ))
    finally:
        if budget is not None:
            budget.settle(reserved, spent)
    if outcome.kind != outcomes.OK or outcome.structured is None:
        return Verdict("", cost_usd=spent)
    verdict = str(outcome.structured.get("verdict") or "")
    if verdict not in VERDICTS:
        return Verdict("", cost_usd=spent)
    return Verdict(verdict, str(outcome.structured.get("reason") or "").strip()[:2_000], round(spent, 6),
                   context.run_id, settings.model)


def with_verdict(finding: Finding, verdict: Verdict | None) -> Finding:
    return finding if verdict is None else replace(finding, verdict=verdict.verdict, verdict_reason=verdict.reason)


def apply_verdicts(report: Report, verdicts: Mapping[tuple[str, tuple[Any, ...]], Verdict], *, run_id: str,
                   calls: Mapping[str, Verdict], pending: int) -> Report:
    """The report with refuted findings moved out of `findings` (and the gate), the rest marked with their
    verdict, and the pass's figures. `verdicts` maps (chunk id, finding fields) to the verdict; `calls` are
    every current verdict by key (for cost and counts); `pending` counts findings still without one."""
    kept: list[Finding] = []
    refuted: list[Finding] = []
    for finding in report.findings:
        verdict = verdicts.get(finding_identity(finding))
        marked = with_verdict(finding, verdict)
        (refuted if marked.verdict == REFUTED else kept).append(marked)
    this_run = [verdict for verdict in calls.values() if verdict.run_id == run_id]
    counts = {name: sum(1 for verdict in calls.values() if verdict.verdict == name) for name in VERDICTS}
    figures = {
        "calls_this_run": len(this_run),
        "cost_usd_this_run": round(sum(verdict.cost_usd for verdict in this_run), 6),
        "cost_usd_total": round(sum(verdict.cost_usd for verdict in calls.values()), 6),
        "verdicts": counts,
        "refuted_findings": len(refuted),
        "pending": pending,
    }
    return replace(report, findings=tuple(kept), refuted=tuple(refuted), verification=figures)


def finding_identity(finding: Finding) -> tuple[str, tuple[Any, ...]]:
    return finding.chunk, tuple(finding_fields(finding).values())


def verified_report(report: Report, jobs: Sequence[Job], results: Mapping[str, ChunkResult],
                    verify_values: Mapping[str, Mapping[str, Any]], *, run_id: str) -> Report:
    """`report` after the verification pass: verdicts applied to the findings of every verifying job."""
    verdicts: dict[tuple[str, tuple[Any, ...]], Verdict] = {}
    current: dict[str, Verdict] = {}
    pending = 0
    for job in jobs:
        result = results.get(job.chunk.id)
        if job.verify is None or result is None:
            continue
        stored = stored_verdicts(verify_values.get(job.verify_task))
        for finding, key in candidates(job.chunk, result, job.verify):
            verdict = stored.get(key)
            if verdict is None:
                pending += 1
                continue
            verdicts[finding_identity(finding)] = verdict
            current[key] = verdict
    return apply_verdicts(report, verdicts, run_id=run_id, calls=current, pending=pending)


def verification_estimates(jobs: Sequence[Job], results: Mapping[str, ChunkResult],
                           verify_values: Mapping[str, Mapping[str, Any]], sizes: Mapping[str, int],
                           current: Collection[str]) -> tuple[dict[str, float], list[PendingChunk]]:
    """What verification will probably cost (`--max-cost` counts it): per chunk still to analyze, its
    expected findings' verifications (this repository's findings per chunk so far, at least one); and the
    verify tasks of `current` (analyzed, up to date) chunks whose findings still lack verdicts, as their
    own pending items."""
    analyzed = [(job, result) for job in jobs if job.verify is not None
                and (result := results.get(job.chunk.id)) is not None and result.status == "ok"]
    found = [sum(1 for _ in candidates(job.chunk, result, job.verify)) for job, result in analyzed if job.verify]
    expected = max(1.0, sum(found) / len(found)) if found else 1.0
    extra: dict[str, float] = {}
    verify_only: list[PendingChunk] = []
    for job in jobs:
        if job.verify is None:
            continue
        size = sum(sizes.get(part.path, 0) // part.parts for part in job.chunk.parts)
        per_call = price_estimate(job.verify.model, size)
        extra[job.chunk.id] = expected * per_call
        result = results.get(job.chunk.id)
        if result is not None and result.status == "ok" and job.chunk.id in current:
            missing = missing_keys(job.chunk, result, job.verify, verify_values.get(job.verify_task))
            if missing:
                verify_only.append(PendingChunk(job.verify_task, "verify", size, len(missing) * per_call))
    return extra, verify_only

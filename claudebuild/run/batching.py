"""One call for several stale chunks: the chunk stays the unit of the cache, the call grows.

Every call pays a fixed overhead (our instructions and fences, and ~1 KB of the CLI's own: ~2.2 KB in
all) and one CLI start (0.7-1 CPU-second). Chunks are small on purpose, because a one-line fix re-sends
its whole chunk (bench/README.md, "Chunk size"), and the chunker fills a chunk to about half of
`max_chunk_bytes` on average. So a cold run paid that overhead on ~14 KB of files per call.

When a chunk's task is about to call, it takes stale chunks that no task has started into the same
call, from the end of the queue (which doit reaches last), up to `max_call_bytes` in all. Each chunk's
result is stored under its own task the moment the call ends; that chunk's own task then finds it
stored and current (the same test that reuses any stored result) and makes no call. A crash loses
nothing more than an unbatched run would: what is stored stays, what is not is analyzed next run.

The rules that keep it as safe as one call per chunk:
- only chunks with the same settings (answer digest) share a call, and never two parts of one file
  (a finding belongs to the chunk that holds its file);
- calls carry other chunks only in a run that starts with at least `share_calls_from` stale chunks (32),
  and a task takes no more than its fair share of those waiting (`workers`): a run with few stale chunks
  (the usual edit, a small repository) keeps one call per chunk, all in parallel, since there the wall
  time is what carrying would cost; a long queue keeps every worker busy anyway, so there carrying only
  saves overhead;
- a call that fails sends every chunk it carried back to be analyzed alone, never to be carried again,
  and the task's own chunk goes alone too (unless the API stayed rate limited past `retry_patience`,
  where alone would only wait again), so one bad file never costs another chunk its result.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from claudebuild.claude import outcome as outcomes
from claudebuild.model import Chunk, ChunkResult
from claudebuild.pipeline.prompt import Payload, build_payload
from claudebuild.pipeline.report import normalize_path
from claudebuild.run.analyze import (AnalysisContext, analyze_chunk, analyze_reserved, located, remote_lookup,
                                     review_call, utc_now)

SCAN_LIMIT = 64
"""Waiting chunks a task looks at when it claims (from the end of the queue): claiming stays cheap at
100,000 chunks, and the end of the queue is where the fitting ones are."""


@dataclass(frozen=True)
class Candidate:
    """A stale chunk as the batcher sees it: its size (bytes of file content), settings and files."""

    chunk: str
    size: int
    digest: str
    paths: frozenset[str]


class CallBatcher:
    """Which chunk's call carries which other chunks, shared by the worker threads of one run."""

    def __init__(self, candidates: Sequence[Candidate], *, max_bytes: int, workers: int,
                 share_from: int = 0) -> None:
        self.max_bytes = max_bytes
        self.workers = max(1, workers)
        self.active = len(candidates) >= share_from
        """A run with fewer stale chunks than `share_from` carries none: one call per chunk."""
        self._all = {candidate.chunk: candidate for candidate in candidates}
        self._order = [candidate.chunk for candidate in candidates]
        self._waiting = dict(self._all)  # neither started by its own task nor carried by another's call
        self._carrier: dict[str, str] = {}  # chunk -> the chunk whose call carries it right now
        self._alone: set[str] = set()  # sent back by a failed call: analyzed by its own call only
        self._tail = len(self._order)  # no chunk from here on is waiting
        self._cond = threading.Condition()

    def start(self, chunk: str) -> bool:
        """Called by a chunk's own task before it calls: waits while another task's call carries the chunk.
        True when it did wait (the stored result is then read again: it is there unless the call failed)."""
        with self._cond:
            waited = False
            while chunk in self._carrier:
                waited = True
                self._cond.wait()
            self._waiting.pop(chunk, None)
            return waited

    def claim(self, leader: str, reserve: Callable[[str], bool] = lambda chunk: True) -> tuple[str, ...]:
        """The waiting chunks `leader`'s call is to carry, now marked as carried (`done` ends that).
        `reserve` is asked for each before it is taken (the run budget); the first refusal ends the claim."""
        with self._cond:
            own = self._all.get(leader)
            if not self.active or own is None or leader in self._alone:
                return ()
            share = -(-(len(self._waiting) + 1) // self.workers) - 1
            room = self.max_bytes - own.size
            paths = set(own.paths)
            taken: list[str] = []
            while self._tail and self._order[self._tail - 1] not in self._waiting:
                self._tail -= 1
            index, looked = self._tail - 1, 0
            while index >= 0 and len(taken) < share and looked < SCAN_LIMIT and room > 0:
                candidate = self._waiting.get(self._order[index])
                index -= 1
                if candidate is None:
                    continue
                looked += 1
                if candidate.digest != own.digest or candidate.size > room or not paths.isdisjoint(candidate.paths):
                    continue
                if not reserve(candidate.chunk):
                    break
                del self._waiting[candidate.chunk]
                self._carrier[candidate.chunk] = leader
                taken.append(candidate.chunk)
                room -= candidate.size
                paths |= candidate.paths
            return tuple(taken)

    def done(self, carried: Iterable[str], sent_back: Iterable[str]) -> None:
        """The call has ended: `carried` chunks have their results stored, `sent_back` ones go alone."""
        with self._cond:
            for chunk in carried:
                self._carrier.pop(chunk, None)
            for chunk in sent_back:
                self._carrier.pop(chunk, None)
                self._alone.add(chunk)
            self._cond.notify_all()


def planned_calls(candidates: Sequence[Candidate], *, max_bytes: int, workers: int,
                  share_from: int) -> list[tuple[str, ...]]:
    """The calls a run would make for these stale chunks, each its chunks in order, by the same rules, with
    the tasks claiming in turn (in a run they claim side by side, so the count is close, not exact): for
    `claudebuild estimate`."""
    if max_bytes <= 0:
        return [(candidate.chunk,) for candidate in candidates]
    batcher = CallBatcher(candidates, max_bytes=max_bytes, workers=workers, share_from=share_from)
    calls: list[tuple[str, ...]] = []
    carried: set[str] = set()
    for candidate in candidates:
        if candidate.chunk in carried:
            continue
        batcher.start(candidate.chunk)
        taken = batcher.claim(candidate.chunk)
        batcher.done(taken, ())
        carried.update(taken)
        calls.append((candidate.chunk, *taken))
    return calls


@dataclass(frozen=True)
class SharedCall:
    """What one task's analysis gave: a result for its own chunk (None: the run budget declined it) and for
    each carried chunk that is done, and the carried chunks sent back to be analyzed alone."""

    results: dict[str, ChunkResult | None]
    sent_back: tuple[str, ...]


@dataclass(frozen=True)
class _Member:
    chunk: Chunk
    payload: Payload
    key: str  # its key in the shared cache ("" without one)


def analyze_together(context: AnalysisContext, leader: Chunk, companions: Sequence[Chunk],
                     reserved: Mapping[str, float]) -> SharedCall:
    """`leader` and `companions` in one call where possible. `reserved`: the budget each companion holds
    (taken when it was claimed); every reservation made for this call is settled here."""
    budget = context.budget
    holds = dict(reserved)
    spent_by: dict[str, float] = {}
    results: dict[str, ChunkResult | None] = {}
    sent_back: list[str] = []
    calling: list[_Member] = []
    leader_alone = False
    try:
        for chunk in (leader, *companions):
            try:
                payload = build_payload(chunk, context.content_source, context.scanner)
            except (OSError, UnicodeError):  # its own call reports the unreadable file
                leader_alone = leader_alone or chunk is leader
                sent_back += [] if chunk is leader else [chunk.id]
                continue
            key = ""
            if context.remote is not None and not context.remote.disabled:
                key, hit = remote_lookup(context, chunk, payload)
                if hit is not None:
                    results[chunk.id] = hit
                    continue
            calling.append(_Member(chunk, payload, key))
        own = next((member for member in calling if member.chunk is leader), None)
        if own is not None:
            amount = context.reserve(leader.id)
            if amount is not None:
                holds[leader.id] = amount
            else:
                results[leader.id] = None
                calling.remove(own)
                own = None
        if own is None:  # nothing to share a call with: the others go alone
            sent_back += [member.chunk.id for member in calling]
        elif len(calling) == 1:
            alone = analyze_reserved(context, leader, own.payload)
            results[leader.id], spent_by[leader.id] = alone, alone.cost_usd
        else:
            shared, back, failed_cost = _one_call(context, calling, sum(holds.get(m.chunk.id, 0.0) for m in calling))
            results.update(shared)
            sent_back += [chunk_id for chunk_id in back if chunk_id != leader.id]
            spent_by.update({chunk_id: result.cost_usd for chunk_id, result in shared.items()})
            if leader.id in back:  # its own call, as if it had never shared one; it pays for the failed one
                alone = analyze_reserved(context, leader, own.payload)
                alone = replace(alone, cost_usd=round(alone.cost_usd + failed_cost, 6))
                results[leader.id], spent_by[leader.id] = alone, alone.cost_usd
    finally:
        if budget is not None:
            for chunk_id, amount in holds.items():
                budget.settle(amount, spent_by.get(chunk_id, 0.0))
    if leader_alone:
        results[leader.id] = analyze_chunk(context, leader)
    if context.remote is not None:
        for member in calling:
            result = results.get(member.chunk.id)
            if result is not None and member.key:
                context.remote.offer(member.key, result, member.chunk, member.payload.sent)
    return SharedCall(results, tuple(sent_back))


def _one_call(context: AnalysisContext, members: Sequence[_Member],
              reserved: float) -> tuple[dict[str, ChunkResult], list[str], float]:
    """One call for the members: every member's result, or when the call fails, the members sent back and what
    the failed call cost. Rate limited past patience, the leader keeps that failure as its result (alone
    would only wait again) and the others are sent back; any other failure sends every member back."""
    leader = members[0].chunk
    combined = Chunk(leader.id, tuple(part for member in members for part in member.chunk.parts))
    payload = Payload(tuple(s for m in members for s in m.payload.sections), tuple(s for m in members for s in m.payload.sent))
    started_at = utc_now()
    outcome, attempts, spent = review_call(context, combined, payload, reserved,
                                           tuple(member.chunk.id for member in members[1:]))
    outcome = located(outcome, payload)
    sizes = [member.payload.size for member in members]
    shares = [size / sum(sizes) for size in sizes] if sum(sizes) else [1 / len(members)] * len(members)
    common = dict(session_id=outcome.session_id, cwd=str(context.session_cwd), model=context.config.model,
                  cli_version=context.runner.launch_facts()["cli_version"], started_at=started_at,
                  finished_at=utc_now(), run_id=context.run_id, attempts=attempts,
                  answer_digest=context.answer_digest)
    if outcome.kind != outcomes.OK:
        if outcome.kind == outcomes.RETRY:
            error = ChunkResult(leader.id, "error", error=outcome.message or outcome.kind, error_kind=outcome.kind,
                                cost_usd=round(spent, 6), input_tokens=outcome.input_tokens,
                                output_tokens=outcome.output_tokens, duration_ms=outcome.duration_ms,
                                bytes_sent=payload.size, sent=members[0].payload.sent, **common)
            return {leader.id: error}, [member.chunk.id for member in members[1:]], 0.0
        return {}, [member.chunk.id for member in members], spent
    owner = {path: member.chunk.id for member in members for path in member.chunk.paths}
    found: dict[str, list[dict[str, object]]] = {member.chunk.id: [] for member in members}
    for raw in (outcome.structured or {}).get("findings", ()):
        named = raw.get("file") if isinstance(raw, dict) else None
        normal = normalize_path(named) if isinstance(named, str) else None
        found[owner.get(normal or "", leader.id)].append(raw)
    results: dict[str, ChunkResult] = {}
    input_left, output_left, duration_left = outcome.input_tokens, outcome.output_tokens, outcome.duration_ms
    for index, (member, share) in enumerate(zip(members, shares)):
        last = index == len(members) - 1  # takes what rounding left, so the parts add up to the call
        input_tokens = input_left if last else round(outcome.input_tokens * share)
        output_tokens = output_left if last else round(outcome.output_tokens * share)
        duration = duration_left if last else round(outcome.duration_ms * share)
        input_left, output_left, duration_left = input_left - input_tokens, output_left - output_tokens, duration_left - duration
        results[member.chunk.id] = ChunkResult(
            member.chunk.id, "ok", raw_findings=tuple(found[member.chunk.id]), cost_usd=round(spent * share, 6),
            input_tokens=input_tokens, output_tokens=output_tokens, duration_ms=duration,
            bytes_sent=member.payload.size, sent=member.payload.sent, **common)
    return results, [], 0.0

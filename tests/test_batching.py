"""Calls that carry several stale chunks (run/batching.py): which chunks share a call, and what each gets.

The claims are plain data under a lock; the shared call runs on the scripted runner (`FakeRunner`), so
every rule is proved in milliseconds. tests/test_e2e_batching.py proves the same with the real CLI.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fake_runner import FakeRunner, failed, ok, throttled

from claudebuild.claude import outcome as outcomes
from claudebuild.claude.calls import ClaudeCall
from claudebuild.claude.outcome import CallOutcome
from claudebuild.config_sources import load_config
from claudebuild.hashing import DEFAULT_HASHER
from claudebuild.model import Chunk, ChunkPart
from claudebuild.run.analyze import AnalysisContext
from claudebuild.run.batching import CallBatcher, Candidate, analyze_together
from claudebuild.run.budget import Budget
from claudebuild.run.calllog import CallLog
from claudebuild.run.throttle import ThrottleGate


def candidates(*sizes: int, digest: str = "d") -> list[Candidate]:
    return [Candidate(f"c{n}", size, digest, frozenset({f"f{n}.py"})) for n, size in enumerate(sizes)]


def started(batcher: CallBatcher, *chunks: str) -> None:
    for chunk in chunks:
        assert batcher.start(chunk) is False


def test_a_call_carries_waiting_chunks_from_the_end_of_the_queue() -> None:
    batcher = CallBatcher(candidates(10, 10, 10, 10, 10), max_bytes=100, workers=1)
    started(batcher, "c0")
    assert batcher.claim("c0") == ("c4", "c3", "c2", "c1")


def test_a_call_carries_no_more_bytes_than_max_call_bytes() -> None:
    batcher = CallBatcher(candidates(40, 30, 30, 20), max_bytes=100, workers=1)
    started(batcher, "c0")
    assert batcher.claim("c0") == ("c3", "c2")  # 40 + 20 + 30; c1's 30 more would pass 100


def test_a_chunk_larger_than_the_room_left_is_passed_over_for_a_smaller_one() -> None:
    batcher = CallBatcher(candidates(50, 10, 60), max_bytes=100, workers=1)
    started(batcher, "c0")
    assert batcher.claim("c0") == ("c1",)


def test_a_call_takes_no_more_than_its_share_of_the_waiting_chunks() -> None:
    batcher = CallBatcher(candidates(*[1] * 20), max_bytes=1000, workers=5)
    started(batcher, "c0")
    assert batcher.claim("c0") == ("c19", "c18", "c17")  # 20 chunks for 5 workers: four per call


def test_with_as_many_workers_as_chunks_every_chunk_has_its_own_call() -> None:
    batcher = CallBatcher(candidates(*[1] * 5), max_bytes=1000, workers=5)
    started(batcher, "c0")
    assert batcher.claim("c0") == ()


def test_a_run_with_fewer_stale_chunks_than_share_calls_from_has_a_call_per_chunk() -> None:
    batcher = CallBatcher(candidates(*[1] * 31), max_bytes=1000, workers=1, share_from=32)
    started(batcher, "c0")
    assert batcher.claim("c0") == ()


def test_chunks_with_other_settings_never_share_a_call() -> None:
    batcher = CallBatcher([*candidates(1, 1), Candidate("x", 1, "other", frozenset({"x.py"}))], max_bytes=100, workers=1)
    started(batcher, "c0")
    assert batcher.claim("c0") == ("c1",)


def test_two_parts_of_one_file_never_share_a_call() -> None:
    parts = [Candidate("a#1", 1, "d", frozenset({"a.py"})), Candidate("a#2", 1, "d", frozenset({"a.py"}))]
    batcher = CallBatcher(parts, max_bytes=100, workers=1)
    started(batcher, "a#1")
    assert batcher.claim("a#1") == ()


def test_a_started_or_carried_chunk_is_never_claimed_again() -> None:
    batcher = CallBatcher(candidates(1, 1, 1, 1), max_bytes=100, workers=1)
    started(batcher, "c0", "c3")
    assert batcher.claim("c0") == ("c2", "c1")
    assert batcher.claim("c3") == ()


def test_a_refused_reservation_ends_the_claim() -> None:
    batcher = CallBatcher(candidates(1, 1, 1, 1), max_bytes=100, workers=1)
    started(batcher, "c0")
    assert batcher.claim("c0", lambda chunk: chunk != "c2") == ("c3",)


def test_a_chunk_sent_back_by_a_failed_call_is_never_carried_and_carries_nothing() -> None:
    batcher = CallBatcher(candidates(1, 1, 1, 1), max_bytes=100, workers=1)
    started(batcher, "c0")
    assert batcher.claim("c0") == ("c3", "c2", "c1")
    batcher.done(carried=("c3",), sent_back=("c2", "c1"))
    started(batcher, "c1")
    assert batcher.claim("c1") == ()


def test_a_carried_chunks_own_task_waits_until_the_call_that_carries_it_is_done() -> None:
    batcher = CallBatcher(candidates(1, 1), max_bytes=100, workers=1)
    started(batcher, "c0")
    assert batcher.claim("c0") == ("c1",)
    waited: list[bool] = []
    task = threading.Thread(target=lambda: waited.append(batcher.start("c1")))
    task.start()
    try:
        while not batcher._cond._waiters:  # type: ignore[attr-defined]  # blocked in start(), not a race
            task.join(0.01)
        assert not waited
    finally:
        batcher.done(carried=("c1",), sent_back=())
        task.join(10)
    assert waited == [True]


def test_a_chunk_whose_carrying_call_is_done_starts_without_waiting() -> None:
    batcher = CallBatcher(candidates(1, 1), max_bytes=100, workers=1)
    started(batcher, "c0")
    batcher.claim("c0")
    batcher.done(carried=("c1",), sent_back=())
    assert batcher.start("c1") is False


# -- the shared call ------------------------------------------------------

FILES = {"a.py": "a = 1\n", "b.py": "b = 2\n", "c.py": "c = 3\n"}


def finding(path: str, quote: str) -> dict[str, Any]:
    return {"file": path, "line": 1, "quote": quote, "severity": "low", "category": "style", "title": "t", "message": "m"}


@pytest.fixture
def repo(make_repo: Callable[..., Path]) -> Path:
    return make_repo(FILES, config="retry_patience = 10\nbackoff_base = 2\nbackoff_max = 4\n")


def context_for(repo: Path, runner: FakeRunner, **options: Any) -> AnalysisContext:
    config = load_config(repo)
    gate = ThrottleGate(base_delay=config.backoff_base, max_delay=config.backoff_max, clock=runner.clock,
                        rng=lambda: 1.0, wait=runner.clock.wait)
    return AnalysisContext(config=config, runner=runner, gate=gate, hasher=DEFAULT_HASHER, run_id="batching",
                           call_log=CallLog(config.state_path / "calls.ndjson"), clock=runner.clock, **options)


def chunk(path: str) -> Chunk:
    return Chunk(path, (ChunkPart(path),))


def files_in(call: ClaudeCall) -> list[str]:
    return [path for path in FILES if f'"{path}"' in call.stdin]


def test_one_call_reviews_three_chunks_and_each_gets_the_findings_in_its_own_files(repo: Path) -> None:
    runner = FakeRunner([ok(finding("b.py", "b = 2"), finding("./c.py", "c = 3"), finding("a.py", "a = 1"), cost=0.03)])
    shared = analyze_together(context_for(repo, runner), chunk("a.py"), [chunk("b.py"), chunk("c.py")], {})

    assert len(runner.calls) == 1 and files_in(runner.calls[0]) == ["a.py", "b.py", "c.py"]
    assert shared.sent_back == ()
    for path in FILES:
        result = shared.results[path]
        assert result is not None and result.status == "ok"
        assert [raw["quote"] for raw in result.raw_findings] == [FILES[path].strip()]
        assert [sent.path for sent in result.sent] == [path] and result.bytes_sent == len(FILES[path])
    assert sum(result.cost_usd for result in shared.results.values() if result) == pytest.approx(0.03)
    assert sum(result.input_tokens for result in shared.results.values() if result) == 100


def test_a_failed_shared_call_sends_the_carried_chunks_back_and_the_leader_calls_alone(repo: Path) -> None:
    def answer(call: ClaudeCall) -> CallOutcome:
        return failed(outcomes.BAD_OUTPUT) if "b.py" in files_in(call) else ok(finding("a.py", "a = 1"))

    runner = FakeRunner(answer)
    shared = analyze_together(context_for(repo, runner), chunk("a.py"), [chunk("b.py"), chunk("c.py")], {})

    assert shared.sent_back == ("b.py", "c.py")
    result = shared.results["a.py"]
    assert result is not None and result.status == "ok" and len(result.raw_findings) == 1
    assert [files_in(call) for call in runner.calls] == [["a.py", "b.py", "c.py"]] * 2 + [["a.py"]]


def test_a_shared_call_rate_limited_past_patience_fails_the_leader_without_a_second_wait(repo: Path) -> None:
    runner = FakeRunner([throttled(429)])
    shared = analyze_together(context_for(repo, runner), chunk("a.py"), [chunk("b.py")], {})

    result = shared.results["a.py"]
    assert result is not None and (result.status, result.error_kind) == ("error", outcomes.RETRY)
    assert shared.sent_back == ("b.py",)
    assert all(files_in(call) == ["a.py", "b.py"] for call in runner.calls)


def test_a_shared_call_settles_every_reservation_it_was_given(repo: Path) -> None:
    budget = Budget(1.0)
    assert budget.reserve("b.py", 0.2)
    runner = FakeRunner([ok(cost=0.05)])
    context = context_for(repo, runner, budget=budget, estimates={"a.py": 0.2, "b.py": 0.2})
    analyze_together(context, chunk("a.py"), [chunk("b.py")], {"b.py": 0.2})

    assert budget.spent == pytest.approx(0.05)
    assert budget.remaining() == pytest.approx(0.95)


def test_the_call_log_names_every_chunk_a_call_carried(repo: Path) -> None:
    runner = FakeRunner([ok()])
    context = context_for(repo, runner)
    analyze_together(context, chunk("a.py"), [chunk("b.py")], {})

    (line,) = (context.config.state_path / "calls.ndjson").read_text().splitlines()
    assert '"chunks":["a.py","b.py"]' in line.replace(" ", "")


def test_the_leader_of_a_failed_shared_call_pays_for_it_in_its_own_result(repo: Path) -> None:
    def answer(call: ClaudeCall) -> CallOutcome:
        return failed(outcomes.BAD_OUTPUT, cost=0.02) if "b.py" in files_in(call) else ok(cost=0.01)

    shared = analyze_together(context_for(repo, FakeRunner(answer)), chunk("a.py"), [chunk("b.py")], {})

    result = shared.results["a.py"]
    assert result is not None and result.cost_usd == pytest.approx(0.02 * 2 + 0.01)  # two tries, then alone

"""The retry policy of one chunk (run/analyze.py), driven by a scripted runner and a fake clock.

No process starts and no test really sleeps: `FakeRunner` answers calls, `FakeClock` is both the
context's clock and the gate's `wait`. The end-to-end tests (test_e2e_faults.py) prove the same
behaviours with the real CLI against the fake API; these say exactly which rule does what.
"""

from __future__ import annotations

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
from claudebuild.model import Chunk, ChunkPart, ChunkResult
from claudebuild.run.analyze import AnalysisContext, analyze_chunk
from claudebuild.run.budget import Budget
from claudebuild.run.calllog import CallLog
from claudebuild.run.throttle import RunAborted, ThrottleGate

FINDING = {"file": "a.py", "line": 1, "severity": "low", "category": "style/naming", "title": "t", "message": "m",
           "quote": "x = 1"}


@pytest.fixture
def repo(make_repo: Callable[..., Path]) -> Path:
    return make_repo({"a.py": "x = 1\n", "b.py": "y = 2\n", "big.py": "".join(f"v{n} = {n}\n" for n in range(40))},
                     config="retry_patience = 100\nbackoff_base = 2\nbackoff_max = 8\n")


def context_for(repo: Path, runner: FakeRunner, **options: Any) -> AnalysisContext:
    clock = runner.clock
    config = load_config(repo)
    gate = ThrottleGate(base_delay=config.backoff_base, max_delay=config.backoff_max, clock=clock, rng=lambda: 1.0,
                        wait=clock.wait)
    return AnalysisContext(config=config, runner=runner, gate=gate, hasher=DEFAULT_HASHER, run_id="policy",
                           call_log=CallLog(config.state_path / "calls.ndjson"), clock=clock, **options)


def chunk(*paths: str) -> Chunk:
    return Chunk("+".join(paths), tuple(ChunkPart(path) for path in paths))


def analyze(context: AnalysisContext, target: Chunk) -> ChunkResult:
    result = analyze_chunk(context, target)
    assert result is not None
    return result


def test_a_success_is_one_call_and_an_ok_result(repo: Path) -> None:
    runner = FakeRunner([ok(FINDING)])
    result = analyze(context_for(repo, runner), chunk("a.py"))

    assert (result.status, result.attempts, len(runner.calls)) == ("ok", 1, 1)
    assert result.raw_findings == (FINDING,)


def test_a_throttled_call_is_retried_after_the_backoff_pause(repo: Path) -> None:
    runner = FakeRunner([throttled(429), ok()])
    result = analyze(context_for(repo, runner), chunk("a.py"))

    assert (result.status, result.attempts) == ("ok", 2)
    assert runner.started_at[1] - runner.started_at[0] >= 2.0  # backoff_base, full jitter at its ceiling


def test_the_backoff_doubles_per_throttled_call_up_to_backoff_max(repo: Path) -> None:
    runner = FakeRunner([throttled(), throttled(), throttled(), throttled(), ok()])
    analyze(context_for(repo, runner), chunk("a.py"))

    gaps = [later - earlier for earlier, later in zip(runner.started_at, runner.started_at[1:])]
    assert gaps == pytest.approx([2.0, 4.0, 8.0, 8.0], abs=0.06)  # the gate re-checks at least every 50 ms


def test_one_workers_throttled_call_pauses_the_next_call_of_every_other_worker(repo: Path) -> None:
    runner = FakeRunner([ok()])
    context = context_for(repo, runner)
    other_worker = context.gate.acquire()
    context.gate.release(other_worker, throttled=True)  # another chunk's call was throttled just now
    paused_until = runner.clock() + 2.0

    analyze(context, chunk("a.py"))

    assert runner.started_at[0] >= paused_until


def test_throttling_stops_being_retried_after_retry_patience(repo: Path) -> None:
    runner = FakeRunner([throttled(529)])
    result = analyze(context_for(repo, runner), chunk("a.py"))

    assert (result.status, result.error_kind) == ("error", outcomes.RETRY)
    assert runner.clock() - runner.started_at[0] >= 100  # retry_patience
    assert len(runner.calls) < 20  # paced by the backoff, not a busy loop


def test_a_congested_429_cuts_the_concurrency_limit(repo: Path) -> None:
    runner = FakeRunner([throttled(429), ok()])
    context = context_for(repo, runner)
    before = context.gate.limit
    analyze(context, chunk("a.py"))

    assert context.gate.limit < before


def test_a_transient_5xx_backs_off_without_cutting_the_limit(repo: Path) -> None:
    runner = FakeRunner([throttled(503), ok()])
    context = context_for(repo, runner)
    before = context.gate.limit
    result = analyze(context, chunk("a.py"))

    assert result.status == "ok" and context.gate.limit >= before
    assert runner.started_at[1] - runner.started_at[0] >= 2.0


def test_the_limit_grows_back_after_a_run_of_successes(repo: Path) -> None:
    runner = FakeRunner([ok()])
    context = context_for(repo, runner)
    before = context.gate.limit
    for _ in range(before):
        analyze(context, chunk("a.py"))

    assert context.gate.limit == before * 2  # slow start doubles until the first throttling


def test_a_login_failure_stops_the_whole_run_and_stores_nothing(repo: Path) -> None:
    runner = FakeRunner([failed(outcomes.AUTH, "Invalid API key", status=401), ok()])
    context = context_for(repo, runner)

    with pytest.raises(RunAborted, match="authentication failed"):
        analyze_chunk(context, chunk("a.py"))
    assert len(runner.calls) == 1 and runner.terminated == 1
    assert context.gate.abort_reason and "log in" in context.gate.abort_reason
    with pytest.raises(RunAborted):  # every other worker stops at the gate
        analyze_chunk(context, chunk("b.py"))
    assert len(runner.calls) == 1


def test_a_model_this_account_cannot_use_stops_the_whole_run_with_the_fix(repo: Path) -> None:
    runner = FakeRunner([failed(outcomes.MODEL, "There's an issue with the selected model (x).", status=404), ok()])
    context = context_for(repo, runner)

    with pytest.raises(RunAborted, match=r"the model is not available.*set `model` in claudebuild\.toml"):
        analyze_chunk(context, chunk("a.py"))
    with pytest.raises(RunAborted):
        analyze_chunk(context, chunk("b.py"))
    assert len(runner.calls) == 1


def test_an_interrupted_call_aborts_the_chunk(repo: Path) -> None:
    runner = FakeRunner([failed(outcomes.INTERRUPTED)])
    with pytest.raises(RunAborted):
        analyze_chunk(context_for(repo, runner), chunk("a.py"))


def sent_paths(call: ClaudeCall) -> set[str]:
    return {name for name in ("a.py", "b.py") if f'"{name}"' in call.stdin}


def test_a_prompt_too_long_splits_the_chunk_by_files_and_analyzes_each_half(repo: Path) -> None:
    def answer(call: ClaudeCall) -> CallOutcome:
        return failed(outcomes.TOO_LARGE, status=413) if len(sent_paths(call)) > 1 else ok(cost=0.02)

    runner = FakeRunner(answer)
    result = analyze(context_for(repo, runner), chunk("a.py", "b.py"))

    assert [sent_paths(call) for call in runner.calls] == [{"a.py", "b.py"}, {"a.py"}, {"b.py"}]
    assert result.status == "ok" and {item.path for item in result.sent} == {"a.py", "b.py"}
    assert (result.attempts, result.cost_usd) == (3, pytest.approx(0.04))


def test_a_single_file_too_long_is_split_by_line_ranges(repo: Path) -> None:
    def answer(call: ClaudeCall) -> CallOutcome:
        whole = "\n10|" in call.stdin and "\n40|" in call.stdin
        return failed(outcomes.TOO_LARGE, "prompt is too long") if whole else ok()

    runner = FakeRunner(answer)
    result = analyze(context_for(repo, runner), chunk("big.py"))

    assert result.status == "ok" and len(runner.calls) == 3
    first, second = sorted((item.start_line, item.end_line) for item in result.sent)
    assert first[0] == 1 and second[0] == first[1] + 1 and second[1] == 40  # two halves, every line once


def test_bad_output_is_retried_once_then_succeeds(repo: Path) -> None:
    runner = FakeRunner([failed(outcomes.BAD_OUTPUT, "no structured_output"), ok()])
    result = analyze(context_for(repo, runner), chunk("a.py"))

    assert (result.status, result.attempts) == ("ok", 2)


def test_bad_output_twice_fails_the_chunk_and_is_never_an_ok_result(repo: Path) -> None:
    runner = FakeRunner([failed(outcomes.BAD_OUTPUT, "no structured_output")])
    result = analyze(context_for(repo, runner), chunk("a.py"))

    assert (result.status, result.error_kind, result.attempts) == ("error", outcomes.BAD_OUTPUT, 2)


def test_a_bad_request_fails_the_chunk_at_once(repo: Path) -> None:
    runner = FakeRunner([failed(outcomes.BAD_REQUEST, "API Error: 400 invalid", status=400)])
    result = analyze(context_for(repo, runner), chunk("a.py"))

    assert (result.status, result.error_kind, len(runner.calls)) == ("error", outcomes.BAD_REQUEST, 1)


def test_a_timeout_is_retried_once_then_fails_the_chunk(repo: Path) -> None:
    runner = FakeRunner([failed(outcomes.TIMEOUT)])
    result = analyze(context_for(repo, runner), chunk("a.py"))

    assert (result.status, result.error_kind, len(runner.calls)) == ("error", outcomes.TIMEOUT, 2)


def test_a_chunk_that_would_pass_the_run_budget_is_not_started(repo: Path) -> None:
    runner = FakeRunner([ok(cost=0.03)])
    context = context_for(repo, runner, budget=Budget(0.05), estimates={"a.py": 0.03, "b.py": 0.03})

    assert analyze(context, chunk("a.py")).status == "ok"
    assert analyze_chunk(context, chunk("b.py")) is None
    assert len(runner.calls) == 1 and context.budget is not None and context.budget.declined == ["b.py"]


def test_the_budget_counts_what_was_really_spent(repo: Path) -> None:
    runner = FakeRunner([ok(cost=0.01)])
    context = context_for(repo, runner, budget=Budget(0.05), estimates={"a.py": 0.03, "b.py": 0.03})
    analyze(context, chunk("a.py"))

    assert context.budget is not None and context.budget.spent == pytest.approx(0.01)
    assert analyze(context, chunk("b.py")).status == "ok"  # the estimate was high: the second chunk fits now


def test_each_call_is_guarded_by_what_is_left_of_the_run_budget(repo: Path) -> None:
    runner = FakeRunner([ok(cost=0.02)])
    context = context_for(repo, runner, budget=Budget(0.10), estimates={"a.py": 0.03})
    analyze(context, chunk("a.py"))

    assert runner.calls[0].max_budget_usd == pytest.approx(0.10)  # remaining 0.07 plus its own reservation

"""`claudebuild estimate`: tokens and cost of a cold run, of what is stale and of the last N commits, with no call."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from claudebuild.commands.estimate import PerCall, PlannedJob, Tally, per_call_figures, rerun_jobs, run_estimate
from claudebuild.config_sources import load_config
from claudebuild.errors import ClaudebuildError
from claudebuild.model import ChunkResult
from claudebuild.prices import price_of

from conftest import git

FILES = {f"pkg{i}/mod{j}.py": f"def f{i}_{j}():\n    return {i * 10 + j}\n" for i in range(3) for j in range(2)}


def estimate(root: Path, history: int = 0, workers: int = 5) -> dict[str, object]:
    out = io.StringIO()
    assert run_estimate(load_config(root), history=history, as_json=True, out=out, workers=workers) == 0
    document: dict[str, object] = json.loads(out.getvalue())
    return document


@pytest.fixture
def history_repo(make_repo: Callable[..., Path]) -> Path:
    root = make_repo(FILES, config="max_files_per_chunk = 2\n")
    git(root, "init", "-q")
    git(root, "add", ".")
    git(root, "commit", "-qm", "first")
    (root / "pkg0/mod0.py").write_text("def f0_0():\n    return -1\n")
    git(root, "commit", "-qam", "one file")
    (root / "pkg1/mod0.py").write_text("def f1_0():\n    return -1\n")
    (root / "pkg2/mod1.py").write_text("def f2_1():\n    return -1\n")
    git(root, "commit", "-qam", "two files in two chunks")
    return root


def test_a_cold_run_is_one_call_per_chunk_with_the_per_call_overhead_priced_at_list_price(history_repo: Path) -> None:
    document = estimate(history_repo)
    cold = document["cold"]
    assert isinstance(cold, dict) and cold["calls"] == 3
    assert cold["content_bytes"] == sum(path.stat().st_size for path in history_repo.glob("pkg*/*.py"))
    per_call = document["per_call"]
    assert isinstance(per_call, dict) and per_call["source"] == "defaults"
    assert cold["input_tokens"] >= 3 * per_call["overhead_input_tokens"]
    price = price_of(load_config(history_repo).model)
    assert cold["cost_usd"] == pytest.approx(price.cost(cold["input_tokens"], cold["output_tokens"]))


def test_with_nothing_analyzed_everything_is_stale(history_repo: Path) -> None:
    document = estimate(history_repo)
    assert document["stale"] == document["cold"]


def test_history_prices_a_run_on_each_commit_from_the_state_before_it(history_repo: Path) -> None:
    document = estimate(history_repo, history=2)
    history = document["history"]
    assert isinstance(history, dict)
    assert [(item["subject"], item["changed_files"], item["calls"]) for item in history["commits"]] == [
        ("one file", 1, 1), ("two files in two chunks", 2, 2)]
    assert history["total"]["calls"] == 3


def test_a_history_longer_than_the_repository_starts_with_a_cold_run(history_repo: Path) -> None:
    commits = estimate(history_repo, history=10)["history"]["commits"]  # type: ignore[index]
    assert [item["calls"] for item in commits] == [3, 1, 2]


def test_estimating_never_starts_claude_or_writes_the_call_log(history_repo: Path) -> None:
    estimate(history_repo, history=1)
    assert not (history_repo / ".claudebuild" / "calls.ndjson").exists()


def test_history_outside_git_is_a_one_line_error(make_repo: Callable[..., Path]) -> None:
    root = make_repo(FILES)
    with pytest.raises(ClaudebuildError, match="--history needs a git repository"):
        estimate(root, history=1)


def test_only_new_or_changed_chunks_rerun() -> None:
    a, b = PlannedJob("analyze:a", "m", 10, (("a.py", 1, 1, "h1"),)), PlannedJob("analyze:b", "m", 10, (("b.py", 1, 1, "h2"),))
    b2 = PlannedJob("analyze:b", "m", 10, (("b.py", 1, 1, "h3"),))
    c = PlannedJob("analyze:c", "m", 10, (("c.py", 1, 1, "h4"),))
    assert rerun_jobs([a, b], [a, b2, c]) == [b2, c]


def test_per_call_overhead_and_answer_length_come_from_stored_results_when_there_are_any() -> None:
    results = [ChunkResult(chunk=str(i), status="ok", input_tokens=1000 + i, output_tokens=300, bytes_sent=350)
               for i in range(3)]
    figures = per_call_figures(results)
    assert (figures.overhead_input_tokens, figures.output_tokens) == (901, 300)
    assert figures.source == "history (3 results)"


def test_a_tally_adds_the_overhead_to_every_call() -> None:
    tally = Tally()
    tally.add("claude-sonnet-5-5", 3500, PerCall(500, 100, "defaults"))
    assert (tally.calls, tally.input_tokens, tally.output_tokens) == (1, 1500, 100)


def test_with_many_stale_chunks_a_cold_run_counts_the_calls_that_carry_several(make_repo: Callable[..., Path]) -> None:
    root = make_repo(FILES, config="max_files_per_chunk = 1\nshare_calls_from = 6\n")
    one_each = estimate(root, workers=6)["cold"]  # 6 chunks for 6 workers: a call each
    carried = estimate(root, workers=1)["cold"]  # 6 chunks for 1 worker: one call carries all
    assert (one_each["calls"], carried["calls"]) == (6, 1)  # type: ignore[index]
    assert carried["content_bytes"] == one_each["content_bytes"]  # type: ignore[index]
    assert carried["output_tokens"] == one_each["output_tokens"]  # type: ignore[index]  # answers are per chunk
    assert carried["cost_usd"] < one_each["cost_usd"]  # type: ignore[index]


def test_results_that_shared_a_call_count_its_overhead_once() -> None:
    shared = [ChunkResult(chunk=str(i), status="ok", session_id="s", input_tokens=500, output_tokens=100, bytes_sent=1400)
              for i in range(3)]
    figures = per_call_figures(shared)  # 1,500 input tokens for 4,200 bytes (1,200 tokens): 300 of overhead
    assert (figures.overhead_input_tokens, figures.output_tokens) == (300, 100)

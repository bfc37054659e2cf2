"""The progress reporter: plain lines for logs and CI, a live view on terminals, exact counts under threads."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from doit.exceptions import TaskError, TaskFailed
from doit.task import Task
from rich.console import Console

from claudebuild.engine.reporter import ProgressReporter, count_chunks, echo, use_live
from claudebuild.engine.progress_state import Finished, Tally

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
CHUNKS = ("app/db.py+3", "app/x.py", "app/y.py")


class FakeClock:
    """Time that moves only when a test says so, so durations and ETAs are exact."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def make_tasks(*chunk_ids: str) -> dict[str, Task]:
    """What doit hands `initialize`: one task per chunk, the `analyze` group and `report`."""
    tasks = {f"analyze:{cid}": Task(f"analyze:{cid}", actions=None) for cid in chunk_ids}
    tasks["analyze"] = Task("analyze", actions=None, task_dep=list(tasks))
    tasks["report"] = Task("report", actions=[lambda: None], task_dep=["analyze"])
    return tasks


def ok(findings: int = 0, cost: float = 0.0, ms: int = 0) -> dict[str, Any]:
    return {"status": "ok", "raw_findings": [{"line": n} for n in range(findings)], "cost_usd": cost,
            "duration_ms": ms, "error": ""}


def run_chunk(reporter: ProgressReporter, task: Task, values: dict[str, Any]) -> None:
    reporter.execute_task(task)
    task.values = values
    reporter.add_success(task)


def plain(clock: FakeClock | None = None) -> tuple[ProgressReporter, io.StringIO, dict[str, Task]]:
    out = io.StringIO()
    reporter = ProgressReporter(out, {}, live=False, clock=clock or FakeClock())
    tasks = make_tasks(*CHUNKS)
    reporter.initialize(tasks, ["analyze", "report"])
    return reporter, out, tasks


@pytest.fixture
def live() -> Iterator[tuple[ProgressReporter, io.StringIO, dict[str, Task], FakeClock]]:
    """A live reporter drawing into a string, stopped afterwards so rich's refresh thread ends."""
    out, clock = io.StringIO(), FakeClock()
    console = Console(file=out, force_terminal=True, width=120)
    reporter = ProgressReporter(out, {}, live=True, console=console, clock=clock)
    tasks = make_tasks(*CHUNKS)
    reporter.initialize(tasks, ["analyze", "report"])
    yield reporter, out, tasks, clock
    reporter.complete_run()


def text_of(out: io.StringIO) -> str:
    return ANSI.sub("", out.getvalue())


def test_plain_mode_prints_one_line_per_finished_chunk_with_findings_spend_and_time() -> None:
    reporter, out, tasks = plain()
    run_chunk(reporter, tasks["analyze:app/db.py+3"], ok(findings=2, cost=0.0042, ms=3100))
    assert out.getvalue() == "[1/3] ok     app/db.py+3  2 findings  $0.0042  3.1s\n"


def test_plain_mode_prints_cached_chunks_and_counts_them() -> None:
    reporter, out, tasks = plain()
    reporter.skip_uptodate(tasks["analyze:app/x.py"])
    reporter.complete_run()
    lines = out.getvalue().splitlines()
    assert lines[0] == "[1/3] cached app/x.py"
    assert "1 cached, 0 fresh, 0 failed" in lines[-1]


def test_error_values_count_as_failed_with_their_reason_on_one_line() -> None:
    reporter, out, tasks = plain()
    run_chunk(reporter, tasks["analyze:app/y.py"], {"status": "error", "error": "rate limited\nfor 900s", "cost_usd": 0.001})
    reporter.complete_run()
    lines = out.getvalue().splitlines()
    assert lines[0] == "[1/3] FAILED app/y.py  rate limited for 900s"
    assert "0 fresh, 1 failed" in lines[-1] and "spent $0.0010" in lines[-1]


def test_group_and_report_tasks_are_not_counted_as_chunks() -> None:
    reporter, out, tasks = plain()
    reporter.execute_task(tasks["report"])
    reporter.add_success(tasks["analyze"])
    reporter.add_success(tasks["report"])
    reporter.skip_uptodate(tasks["analyze"])
    assert out.getvalue() == ""
    reporter.complete_run()
    assert "0/3 chunks: 0 cached, 0 fresh, 0 failed" in out.getvalue()


def test_total_counts_only_the_analyze_tasks_the_selection_reaches() -> None:
    tasks = make_tasks(*CHUNKS)
    assert count_chunks(tasks, ["report"]) == 3
    assert count_chunks(tasks, ["analyze:app/x.py"]) == 1
    assert count_chunks(tasks, ["nonexistent"]) == 0


def test_summary_line_totals_cached_fresh_failed_findings_and_spend() -> None:
    clock = FakeClock()
    reporter, out, tasks = plain(clock)
    cached = tasks["analyze:app/x.py"]
    reporter.skip_uptodate(cached)
    cached.values = ok(findings=3, cost=0.05)  # doit loads stored values right after skip_uptodate
    run_chunk(reporter, tasks["analyze:app/db.py+3"], ok(findings=2, cost=0.0042))
    run_chunk(reporter, tasks["analyze:app/y.py"], {"status": "error", "error": "boom", "cost_usd": 0.001})
    clock.now += 72
    reporter.complete_run()
    assert out.getvalue().splitlines()[-1] == (
        "claudebuild: 3/3 chunks: 1 cached, 1 fresh, 1 failed; 5 findings (2 from chunks analyzed now); "
        "spent $0.0052 (cache saved $0.0500); 1m12s")


def test_plain_output_has_no_ansi_codes() -> None:
    reporter, out, tasks = plain()
    run_chunk(reporter, tasks["analyze:app/db.py+3"], ok(findings=1, cost=0.01, ms=500))
    reporter.add_failure(tasks["analyze:app/y.py"], TaskFailed("claude is missing"))
    reporter.complete_run()
    assert "\x1b" not in out.getvalue()
    assert "[1/3] ok     app/db.py+3  1 finding  $0.0100  0.5s" in out.getvalue()


def test_a_doit_failure_is_one_line_and_its_traceback_is_left_out() -> None:
    reporter, out, tasks = plain()
    try:
        raise ValueError("bad chunk")
    except ValueError as error:
        fail = TaskError("PythonAction Error", error)
    reporter.add_failure(tasks["analyze:app/x.py"], fail)
    reporter.complete_run()
    text = out.getvalue()
    assert "[1/3] FAILED app/x.py  PythonAction Error: ValueError: bad chunk\n" in text
    assert "Traceback" not in text and "--failure-verbosity 1" in text


def test_failure_verbosity_brings_the_traceback_back_at_the_end() -> None:
    out = io.StringIO()
    reporter = ProgressReporter(out, {"failure_verbosity": 1}, live=False)
    reporter.initialize(make_tasks(*CHUNKS), ["analyze"])
    try:
        raise ValueError("bad chunk")
    except ValueError as error:
        reporter.add_failure(Task("report", actions=None), TaskError("PythonAction Error", error))
    reporter.complete_run()
    assert "FAILED report: TaskError: PythonAction Error: ValueError: bad chunk" in out.getvalue()
    assert "Traceback (most recent call last)" in out.getvalue()


def test_a_result_from_an_earlier_run_counts_as_skipped_not_as_spend() -> None:
    reporter, out, tasks = plain()
    old = ok(findings=4, cost=0.5) | {"finished_at": "2001-01-01T00:00:00.000+00:00"}
    run_chunk(reporter, tasks["analyze:app/x.py"], old)
    reporter.complete_run()
    assert out.getvalue().startswith("[1/3] skip   app/x.py")
    assert "spent $0.0000" in out.getvalue() and "1 skipped" in out.getvalue()


def test_ci_selects_plain_mode_even_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    assert ProgressReporter(Tty(), {}).live is False


def test_a_stream_that_is_not_a_terminal_selects_plain_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    assert ProgressReporter(io.StringIO(), {}).live is False


def test_a_terminal_outside_ci_selects_live_mode() -> None:
    assert use_live(Tty(), {"TERM": "xterm-256color"}) is True
    assert use_live(Tty(), {"CI": "false"}) is True
    assert use_live(Tty(), {"TERM": "dumb"}) is False


def test_live_view_shows_each_worker_and_the_chunk_it_is_analyzing(live: Any) -> None:
    reporter, out, tasks, clock = live
    release = threading.Event()

    def work(name: str, picked_up: threading.Event) -> None:  # doit's worker threads live for the whole run
        reporter.execute_task(tasks[name])
        picked_up.set()
        release.wait()

    workers = []
    for name in ("analyze:app/db.py+3", "analyze:app/y.py"):  # worker numbers follow the order of first use
        picked_up = threading.Event()
        workers.append(threading.Thread(target=work, args=(name, picked_up)))
        workers[-1].start()
        picked_up.wait()
    clock.now += 12.4
    reporter.refresh()
    release.set()
    for worker in workers:
        worker.join()
    frame = text_of(out)
    assert re.search(r"worker 1\s+app/db\.py\+3\s+12\.4s", frame)
    assert re.search(r"worker 2\s+app/y\.py\s+12\.4s", frame)
    assert "0/3" in frame and "ETA --" in frame


def test_live_view_shows_counters_findings_and_spend(live: Any) -> None:
    reporter, out, tasks, clock = live
    reporter.skip_uptodate(tasks["analyze:app/x.py"])
    task = tasks["analyze:app/db.py+3"]
    reporter.execute_task(task)
    clock.now += 10
    task.values = ok(findings=2, cost=0.0042)
    reporter.add_success(task)
    reporter.refresh()
    frame = text_of(out)
    assert "2/3" in frame and "ETA 10.0s" in frame  # one chunk left, one call took 10 s
    assert "cached 1  fresh 1  failed 0" in frame
    assert "findings 2 (2 fresh)" in frame and "spent $0.0042" in frame


def test_live_view_keeps_failed_chunks_above_the_view_and_ends_with_the_summary(live: Any) -> None:
    reporter, out, tasks, _ = live
    run_chunk(reporter, tasks["analyze:app/y.py"], {"status": "error", "error": "overloaded", "cost_usd": 0.0})
    reporter.complete_run()
    text = text_of(out)
    assert "[1/3] FAILED app/y.py  overloaded" in text
    assert text.rstrip().splitlines()[-1].startswith("claudebuild: 1/3 chunks: 0 cached, 0 fresh, 1 failed")


def test_echo_writes_a_plain_line_when_no_live_view_is_showing() -> None:
    out = io.StringIO()
    echo("claudebuild: 3 findings\n  cost: $0.01", out)
    assert out.getvalue() == "claudebuild: 3 findings\n  cost: $0.01\n"


def test_echo_prints_above_a_live_view_on_the_same_stream(live: Any) -> None:
    _, out, _, _ = live
    echo("   SKIP  app/x.py  (run budget reached)", out)
    assert "   SKIP  app/x.py  (run budget reached)\n" in text_of(out)


def test_eta_is_the_remaining_chunks_at_the_rate_of_chunks_that_really_ran() -> None:
    clock = FakeClock()
    tally = Tally(total=10, clock=clock)
    for n in range(4):
        tally.cached(Task(f"analyze:c{n}", actions=None))
    assert tally.snapshot().eta is None  # cached chunks say nothing about how long a call takes
    tally.start("analyze:a", 1)
    clock.now += 30
    tally.finish(Finished("analyze:a", "ok"))
    assert tally.snapshot().eta == pytest.approx(5 * 30)


@pytest.mark.parametrize("mode", ["plain", "live"])
def test_concurrent_calls_from_many_threads_keep_the_counts_exact(mode: str) -> None:
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)
    reporter = ProgressReporter(out, {}, live=mode == "live", console=console)
    chunk_ids = [f"dir{n}/file{i}.py" for n in range(8) for i in range(50)]
    tasks = make_tasks(*chunk_ids)
    reporter.initialize(tasks, ["analyze"])

    def worker(n: int) -> None:
        for i in range(50):
            task = tasks[f"analyze:dir{n}/file{i}.py"]
            if i % 5 == 0:
                reporter.skip_uptodate(task)
            elif i % 7 == 0:
                run_chunk(reporter, task, {"status": "error", "error": "x", "cost_usd": 0.001})
            else:
                run_chunk(reporter, task, ok(findings=1, cost=0.001))
            if i % 10 == 0:
                reporter.refresh()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    reporter.complete_run()
    summary = text_of(out).rstrip().splitlines()[-1]
    assert summary.startswith("claudebuild: 400/400 chunks: 80 cached, 272 fresh, 48 failed; 272 findings (272 from chunks analyzed now);")
    assert "spent $0.3200" in summary
    if mode == "plain":
        positions = sorted(int(line[1:line.index("/")]) for line in out.getvalue().splitlines()[:-1])
        assert positions == list(range(1, 401))


def test_the_live_view_stops_when_report_starts_so_the_report_prints_below_its_final_frame(live: Any) -> None:
    reporter, out, tasks, _ = live
    for name in CHUNKS:
        run_chunk(reporter, tasks[f"analyze:{name}"], ok(findings=1, cost=0.001))
    reporter.execute_task(tasks["report"])
    echo("claudebuild: 3 findings (1 high)", out)
    text = text_of(out)
    assert text.rstrip().endswith("3/3 100% in 0.0s\n  cached 0  fresh 3  failed 0   findings 3 (3 fresh)   "
                                  "spent $0.0030\nclaudebuild: 3 findings (1 high)")

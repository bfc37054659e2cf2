"""Progress of a build as a doit reporter: a live view on a terminal, one plain line per chunk elsewhere.

Selected with `DOIT_CONFIG["reporter"] = ProgressReporter`. doit (par_type
"thread") calls `execute_task` from its worker threads and every other method
from the main thread, so all shared state sits behind one lock. The rendering
is chosen once, at construction: **live** when the stream is a terminal and
`CI` is not set, **plain** otherwise (CI logs and pipes get whole lines, no
ANSI codes, nothing redrawn). The reporter writes only to the stream doit
gives it; other code prints through `echo` so it never tears the live view.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

from doit.exceptions import BaseFail, UnmetDependency
from doit.reporter import ConsoleReporter
from doit.task import Task
from rich.console import Console

from claudebuild.engine.progress_live import LiveView, echo
from claudebuild.engine.progress_state import (REPORT_TASK, Finished, Snapshot, Tally, classify, format_seconds, is_chunk,
                                        one_line, summary_line)
from claudebuild.untrusted_text import terminal_block

__all__ = ["ProgressReporter", "echo", "use_live"]

_FALSE = {"", "0", "false", "no", "off"}


def use_live(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """Live only on an interactive terminal: CI, pipes, files and TERM=dumb get plain lines."""
    env = os.environ if environ is None else environ
    if env.get("CI", "").strip().lower() not in _FALSE or env.get("TERM") == "dumb":
        return False
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty())


def count_chunks(tasks: Mapping[str, Task], selected: Sequence[str]) -> int:
    """The `analyze:` tasks this run can reach from the selected ones (groups and `report` expand to them)."""
    seen: set[str] = set()
    todo = list(selected)
    while todo:
        name = todo.pop()
        if name in seen or name not in tasks:
            continue
        seen.add(name)
        task = tasks[name]
        todo.extend(task.task_dep)
        todo.extend(task.setup_tasks)
    return sum(1 for name in seen if is_chunk(name))


class ProgressReporter(ConsoleReporter):  # type: ignore[misc]  # doit is untyped: the base is Any
    """doit reporter for claudebuild runs; see the module docstring for the two renderings."""

    desc = "claudebuild progress: live view on a terminal, one line per chunk otherwise"

    def __init__(self, outstream: TextIO, options: Mapping[str, Any], *, live: bool | None = None,
                 console: Console | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(outstream, options)
        self.live = use_live(outstream, None) if live is None else live
        self._lock = threading.Lock()
        self._tally = Tally(clock=clock)
        self._run_started = datetime.now(UTC)
        self._doit_failures: list[tuple[str, BaseFail]] = []
        self._view: LiveView | None = None
        if self.live:
            self._view = LiveView(console or Console(file=outstream), self._snapshot, outstream)

    # -- doit's reporter API ----------------------------------------------
    def initialize(self, tasks: Mapping[str, Task], selected_tasks: Sequence[str]) -> None:
        with self._lock:
            self._tally.total = count_chunks(tasks, selected_tasks)
            self._run_started = datetime.now(UTC)
            total = self._tally.total
        if self._view is not None and total:
            self._view.start()

    def get_status(self, task: Task) -> None:
        """Nothing to show while doit checks whether a task is up to date."""

    def execute_task(self, task: Task) -> None:
        """Called on the worker thread that runs the task, so the thread identifies the worker."""
        if is_chunk(task.name):
            with self._lock:
                self._tally.start(task.name, threading.get_ident())
        elif task.name == REPORT_TASK and self._view is not None:
            # `report` runs after every chunk and prints its summary: leave it the screen, final frame drawn
            with self._lock:
                self._tally.finished = True
            self._view.stop()

    def add_success(self, task: Task) -> None:
        if not is_chunk(task.name):
            return  # the `analyze` group and `report` are not chunks
        with self._lock:
            result = self._classify(task)
            position = self._tally.finish(result)
            line = self._chunk_line(position, result)
            if not self.live:
                self._write_line(line)
        if self.live and result.outcome == "failed":
            self._print(line)  # failures stay in the scrollback; ok and cached lines would flood it

    def add_failure(self, task: Task, fail: BaseFail) -> None:
        """A real doit failure (an exception, a dependency error): one line now, details at the end if asked."""
        if not fail.report or (isinstance(fail, UnmetDependency) and not task.actions):
            return  # a group waiting on a failed chunk adds nothing: the chunk's own line said it
        message = _fail_message(fail)
        with self._lock:
            self._doit_failures.append((task.name, fail))
            if is_chunk(task.name):
                result = Finished(task.name, "failed", reason=message)
                line = self._chunk_line(self._tally.finish(result), result)
            elif isinstance(fail, UnmetDependency):
                line = f"not run: {task.name} (it depends on {message}, which failed)"
            else:
                line = f"FAILED {task.name}: {fail.get_name()}: {message}"
            if not self.live:
                self._write_line(line)
        if self.live:
            self._print(line)

    def skip_uptodate(self, task: Task) -> None:
        if not is_chunk(task.name):
            return
        with self._lock:
            position = self._tally.cached(task)
            if not self.live:
                self._write_line(self._chunk_line(position, Finished(task.name, "cached")))

    def skip_ignore(self, task: Task) -> None:
        if not is_chunk(task.name):
            return
        with self._lock:
            position = self._tally.finish(Finished(task.name, "ignored"))
            if not self.live:
                self._write_line(self._chunk_line(position, Finished(task.name, "ignored")))

    def cleanup_error(self, exception: BaseFail) -> None:
        """doit's default writes to sys.stderr; keep it on our stream, on one line."""
        self._print(f"claudebuild: teardown error: {_fail_message(exception)}")

    def teardown_task(self, task: Task) -> None:
        """claudebuild tasks have no teardown worth announcing."""

    def complete_run(self) -> None:
        """Stop the view, then a short ending: the summary, tracebacks only with --failure-verbosity, doit errors."""
        with self._lock:
            self._tally.finished = True
        if self._view is not None:
            self._view.stop()
        with self._lock:
            snap = self._tally.snapshot()
            failures = list(self._doit_failures)
            runtime_errors = list(self.runtime_errors)
        lines: list[str] = []
        if snap.total or snap.done:
            lines.append(summary_line(snap))
        if failures and self.failure_verbosity:
            for name, fail in failures:
                lines.append(f"{name}: {fail.get_name()}")
                lines.extend(terminal_block(fail.get_msg().rstrip("\n")).split("\n"))
        elif any(fail.traceback for _, fail in failures):
            lines.append("claudebuild: rerun with --failure-verbosity 1 to see the tracebacks")
        if runtime_errors:
            lines.append("claudebuild: execution aborted: " + one_line(" ".join(runtime_errors), 400))
        for line in lines:
            self._print(line)

    def refresh(self) -> None:
        """Draw the live view now rather than at rich's next tick (no-op in plain mode); call without the lock."""
        if self._view is not None:
            self._view.refresh()

    # -- helpers ------------------------------------------------------------
    def _snapshot(self) -> Snapshot:
        with self._lock:
            return self._tally.snapshot()

    def _classify(self, task: Task) -> Finished:
        values = task.values if isinstance(task.values, dict) else {}
        return classify(task.name, values, self._run_started)

    def _chunk_line(self, position: int, result: Finished) -> str:
        """`[ 12/140] ok     app/db.py+3  2 findings  $0.0042  3.1s`: fixed columns so a log scans well."""
        total = max(self._tally.total, position)
        head = f"[{position:>{len(str(total))}}/{total}]"
        if result.outcome == "ok":
            noun = "finding" if result.findings == 1 else "findings"
            return (f"{head} ok     {result.label}  {result.findings} {noun}  "
                    f"${result.cost_usd:.4f}  {format_seconds(result.seconds)}")
        if result.outcome == "remote":
            noun = "finding" if result.findings == 1 else "findings"
            return f"{head} remote {result.label}  {result.findings} {noun}  (saved ${result.cost_usd:.4f})"
        if result.outcome == "failed":
            return f"{head} FAILED {result.label}  {result.reason}"
        if result.outcome == "skipped":
            return f"{head} skip   {result.label}  {result.reason}"
        if result.outcome == "ignored":
            return f"{head} ignore {result.label}"
        return f"{head} cached {result.label}"

    def _write_line(self, line: str) -> None:
        """Plain mode: one whole line per write, flushed, so threads and CI log collectors never split it."""
        self.outstream.write(line + "\n")
        self.outstream.flush()

    def _print(self, line: str) -> None:
        """A whole line: through rich in live mode (above the view while it shows), else a plain write.

        Never called with the lock held: a rich refresh takes its own lock, then ours (see progress_live)."""
        if self._view is not None:
            self._view.console.print(line, markup=False, highlight=False, soft_wrap=True)
            return
        with self._lock:
            self._write_line(line)


def _fail_message(fail: BaseFail) -> str:
    """The message and, for an exception, its last traceback line (`ValueError: boom`), on one line."""
    message = str(fail.message or fail.get_name())
    last = [line for line in "".join(fail.traceback).splitlines() if line.strip()]
    if last and last[-1].strip() not in message:
        message = f"{message}: {last[-1].strip()}"
    return one_line(message, 400)

"""The numbers behind the progress view: which chunk each worker holds, what finished how, and what it cost.

Kept free of any output so both renderings (the live view and the plain
lines) read the same tally, and so it can be tested without a terminal. It is
not thread-safe on its own: `ProgressReporter` holds one lock around every
call, because doit calls the reporter from its worker threads and from the
main thread at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from doit.task import Task

from claudebuild.engine.tasks import ANALYZE, REPORT
from claudebuild.untrusted_text import terminal_text

CHUNK_PREFIX = ANALYZE + ":"
"""Only these tasks are chunks; the `analyze` group and `report` are bookkeeping and never counted."""
REPORT_TASK = REPORT

REASON_CHARS = 160
"""A failure reason is cut here so one bad chunk cannot flood the terminal or a CI log."""


def is_chunk(task_name: str) -> bool:
    return task_name.startswith(CHUNK_PREFIX)


def chunk_label(task_name: str) -> str:
    """The chunk id users know (`app/db.py+3`), without the doit task prefix, as terminal-safe text:
    chunk ids are made of repository paths, and a file name may hold escape sequences too."""
    return terminal_text(task_name[len(CHUNK_PREFIX):] if is_chunk(task_name) else task_name)


def one_line(text: str, limit: int = REASON_CHARS) -> str:
    """Whole-line output only: a multi-line reason would break both the plain log and the live layout.
    Reasons quote the CLI, the API and the model, so they are `untrusted_text.terminal_text` too."""
    flat = terminal_text(text)
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def format_seconds(seconds: float) -> str:
    """Short and stable width: `3.1s`, `1m12s`, `2h05m`."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


@dataclass(frozen=True)
class Finished:
    """One chunk's outcome as the reporter shows it: ok, remote (from the shared cache), cached, failed,
    skipped or ignored."""

    task: str
    outcome: str
    findings: int = 0
    cost_usd: float = 0.0
    seconds: float = 0.0
    reason: str = ""

    @property
    def label(self) -> str:
        return chunk_label(self.task)


def classify(task: str, values: Mapping[str, Any], run_started: datetime) -> Finished:
    """Read a chunk's outcome from the values its action returned.

    A chunk's own failure is not a doit failure: the action returns values with
    status "error". When the run budget stops a chunk, the action hands back the
    result stored by an earlier run (or nothing); that is neither fresh work nor
    spend of this run, so it counts as "skipped".
    """
    status = values.get("status")
    if status not in ("ok", "error") or _finished_before(values.get("finished_at"), run_started):
        return Finished(task, "skipped", reason="no new result (run budget reached?)")
    findings = values.get("raw_findings") or []
    cost = float(values.get("cost_usd") or 0.0)
    seconds = float(values.get("duration_ms") or 0) / 1000
    if status == "error":
        return Finished(task, "failed", 0, cost, seconds, one_line(str(values.get("error") or "failed")))
    if values.get("origin") == "remote":
        return Finished(task, "remote", len(findings) if isinstance(findings, list) else 0, cost, 0.0)
    return Finished(task, "ok", len(findings) if isinstance(findings, list) else 0, cost, seconds)


def _finished_before(stamp: Any, run_started: datetime) -> bool:
    """True only for a parseable timestamp older than this run: unknown stamps are taken as fresh."""
    if not isinstance(stamp, str) or not stamp:
        return False
    try:
        finished = datetime.fromisoformat(stamp)
    except ValueError:
        return False
    if finished.tzinfo is None or run_started.tzinfo is None:
        return False
    return finished < run_started


@dataclass(frozen=True)
class WorkerLine:
    number: int
    chunk: str | None  # None: idle
    seconds: float


@dataclass(frozen=True)
class Snapshot:
    """Everything one frame or one summary line needs, copied out under the lock."""

    total: int
    done: int
    cached: int
    fresh: int
    failed: int
    skipped: int
    findings: int
    new_findings: int
    spent_usd: float
    saved_usd: float
    elapsed: float
    eta: float | None
    workers: tuple[WorkerLine, ...]
    finished: bool
    remote: int = 0


@dataclass
class Tally:
    """Counts and in-flight chunks for one run."""

    total: int = 0
    clock: Callable[[], float] = time.monotonic
    started: float = field(default=0.0)
    first_run: float | None = None
    counts: dict[str, int] = field(default_factory=dict)
    findings: int = 0
    new_findings: int = 0
    spent_usd: float = 0.0
    saved_usd: float = 0.0
    finished: bool = False
    _workers: dict[int, int] = field(default_factory=dict)  # thread id -> worker number
    _running: dict[str, tuple[int, float]] = field(default_factory=dict)  # task -> (worker, start)
    _cached_unread: list[Task] = field(default_factory=list)  # cached Tasks whose values doit sets later

    def __post_init__(self) -> None:
        self.started = self.clock()

    @property
    def done(self) -> int:
        return sum(self.counts.values())

    def start(self, task: str, thread_id: int) -> int:
        """A worker picked up a chunk; returns the worker's number (1, 2, ... in order of first use)."""
        worker = self._workers.setdefault(thread_id, len(self._workers) + 1)
        now = self.clock()
        if self.first_run is None:
            self.first_run = now
        self._running[task] = (worker, now)
        return worker

    def finish(self, result: Finished) -> int:
        """Record an outcome; returns the chunk's position (1-based) in the finishing order."""
        self._running.pop(result.task, None)
        self.counts[result.outcome] = self.counts.get(result.outcome, 0) + 1
        if result.outcome in ("ok", "failed"):
            self.spent_usd += result.cost_usd
        if result.outcome == "ok":
            self.findings += result.findings
            self.new_findings += result.findings
        if result.outcome == "remote":  # paid for elsewhere, new to this machine
            self.findings += result.findings
            self.new_findings += result.findings
            self.saved_usd += result.cost_usd
        return self.done

    def cached(self, task: Task) -> int:
        """An up-to-date chunk: doit sets its stored values only after telling us, so they are read later."""
        self._cached_unread.append(task)
        return self.finish(Finished(task.name, "cached"))

    def harvest(self) -> None:
        """Add the findings and cost of cached chunks whose stored values doit has loaded since."""
        unread: list[Task] = []
        for task in self._cached_unread:
            values = task.values
            if not values:
                unread.append(task)
                continue
            findings = values.get("raw_findings") or []
            self.findings += len(findings) if isinstance(findings, list) else 0
            self.saved_usd += float(values.get("cost_usd") or 0.0)
        self._cached_unread = unread

    def snapshot(self) -> Snapshot:
        self.harvest()
        now = self.clock()
        total = max(self.total, self.done)
        workers = {number: WorkerLine(number, None, 0.0) for number in self._workers.values()}
        for task, (number, begun) in self._running.items():
            workers[number] = WorkerLine(number, chunk_label(task), now - begun)
        return Snapshot(
            total=total, done=self.done, cached=self.counts.get("cached", 0), fresh=self.counts.get("ok", 0),
            failed=self.counts.get("failed", 0), skipped=self.counts.get("skipped", 0) + self.counts.get("ignored", 0),
            findings=self.findings, new_findings=self.new_findings, spent_usd=self.spent_usd, saved_usd=self.saved_usd,
            elapsed=now - self.started, eta=self._eta(now, total), workers=tuple(workers[n] for n in sorted(workers)),
            finished=self.finished, remote=self.counts.get("remote", 0),
        )

    def _eta(self, now: float, total: int) -> float | None:
        """Remaining chunks at the rate chunks that really ran have finished; cached ones would skew it to zero."""
        ran = self.counts.get("ok", 0) + self.counts.get("failed", 0) + self.counts.get("skipped", 0)
        remaining = total - self.done
        if remaining <= 0:
            return 0.0
        if self.first_run is None or ran == 0 or now <= self.first_run:
            return None
        return remaining * (now - self.first_run) / ran


def summary_line(snap: Snapshot) -> str:
    """The last line of a run, identical in both renderings so logs and terminals agree."""
    parts = [f"{snap.cached} cached", f"{snap.fresh} fresh", f"{snap.failed} failed"]
    if snap.remote:
        parts.insert(1, f"{snap.remote} from the remote cache")
    if snap.skipped:
        parts.append(f"{snap.skipped} skipped")
    saved = f" (cache saved ${snap.saved_usd:.4f})" if snap.saved_usd else ""
    return (f"claudebuild: {snap.done}/{snap.total} chunks: {', '.join(parts)}; "
            f"{snap.findings} findings ({snap.new_findings} from chunks analyzed now); spent ${snap.spent_usd:.4f}{saved}; "
            f"{format_seconds(snap.elapsed)}")

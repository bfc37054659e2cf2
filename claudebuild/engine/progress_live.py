"""The live terminal view: an overall bar with ETA, one line per worker, counters and spend, drawn by rich.

rich redraws from its own thread at ~4 Hz and asks `snapshot()` for the
numbers each time, so workers never draw anything themselves. Nothing here
replaces `sys.stdout`: other output reaches the terminal through `echo`, which
prints above the view while one is showing and is a plain line write otherwise.

Lock order: rich's Live lock is taken before the reporter's lock (a refresh
calls `snapshot()`), so callers must never print or stop a view while holding
the reporter's lock.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TextIO

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from claudebuild.engine.echo import echo, views as _views, views_lock as _views_lock
from claudebuild.engine.progress_state import Snapshot, format_seconds

__all__ = ["LiveView", "echo", "render"]

REFRESH_PER_SECOND = 4
BAR_WIDTH = 40
CHUNK_COLUMN = 60
"""Chunk ids are cut to this width so a long path never wraps a worker line."""



def render(snap: Snapshot) -> RenderableType:
    """One frame: bar line, counters line, then the workers (left out once the run is finished)."""
    head = Table.grid(padding=(0, 1))
    head.add_row(
        Text(_title(snap), style="bold"),
        ProgressBar(total=max(snap.total, 1), completed=snap.done, width=BAR_WIDTH),
        Text.assemble((f"{snap.done}/{snap.total}", "bold"), f" {_percent(snap)}% ", (_eta_text(snap), "cyan")),
    )
    counters = Text("  ")
    counters.append(f"cached {snap.cached}", style="dim")
    counters.append("  ")
    if snap.remote:
        counters.append(f"remote {snap.remote}", style="cyan")
        counters.append("  ")
    counters.append(f"fresh {snap.fresh}", style="green")
    counters.append("  ")
    counters.append(f"failed {snap.failed}", style="bold red" if snap.failed else "")
    if snap.skipped:
        counters.append(f"  skipped {snap.skipped}", style="yellow")
    counters.append(f"   findings {snap.findings} ({snap.new_findings} fresh)")
    counters.append(f"   spent ${snap.spent_usd:.4f}", style="bold")
    if snap.saved_usd:
        counters.append(f"  saved ${snap.saved_usd:.4f}", style="dim")
    if snap.finished or not snap.workers:
        return Group(head, counters)
    return Group(head, counters, _worker_lines(snap))


def _worker_lines(snap: Snapshot) -> Text:
    """One Text with a line per worker (columns padded by hand: a rich Table costs far more per frame)."""
    width = max((len(_cut(w.chunk)) for w in snap.workers if w.chunk), default=4)
    lines = Text()
    for index, worker in enumerate(snap.workers):
        if index:
            lines.append("\n")
        name = f"  worker {worker.number:<{len(str(len(snap.workers)))}}  "
        if worker.chunk is None:
            lines.append(name + "idle", style="dim")
            continue
        lines.append(name)
        lines.append(_cut(worker.chunk).ljust(width), style="magenta")
        lines.append("  " + format_seconds(worker.seconds), style="cyan")
    return lines


def _title(snap: Snapshot) -> str:
    if not snap.finished:
        return "analyzing"
    return "analyzed " if snap.done >= snap.total else "stopped  "  # interrupted, or doit stopped on a failure


def _percent(snap: Snapshot) -> int:
    return int(100 * snap.done / snap.total) if snap.total else 100


def _eta_text(snap: Snapshot) -> str:
    if snap.finished or snap.done >= snap.total:
        return f"in {format_seconds(snap.elapsed)}"
    return "ETA " + (format_seconds(snap.eta) if snap.eta is not None else "--")


def _cut(label: str) -> str:
    return label if len(label) <= CHUNK_COLUMN else "…" + label[-(CHUNK_COLUMN - 1):]


class LiveView:
    """A rich `Live` bound to one stream; started once, stopped once (stopping twice is harmless)."""

    def __init__(self, console: Console, snapshot: Callable[[], Snapshot], stream: TextIO) -> None:
        self.console = console
        self.stream = stream
        self._live = Live(console=console, get_renderable=lambda: render(snapshot()),
                          refresh_per_second=REFRESH_PER_SECOND, transient=False,
                          redirect_stdout=False, redirect_stderr=False)
        self._state_lock = threading.Lock()
        self._showing = False

    @property
    def showing(self) -> bool:
        return self._showing

    def start(self) -> None:
        with self._state_lock:
            if self._showing:
                return
            self._live.start(refresh=True)  # the frame rich built in __init__ predates the task count
            self._showing = True
        with _views_lock:
            _views[id(self.stream)] = self

    def stop(self) -> None:
        """Draw the last frame and leave it on screen, so the terminal keeps the final counts."""
        with _views_lock:
            if _views.get(id(self.stream)) is self:
                del _views[id(self.stream)]
        with self._state_lock:
            if not self._showing:
                return
            self._showing = False
            self._live.stop()

    def refresh(self) -> None:
        """Draw a frame now instead of at the next tick."""
        if self._showing:
            self._live.refresh()

    def print(self, line: str) -> None:
        """A whole line above the view (rich moves the view down), never into the middle of a frame."""
        self.console.print(Text(line), soft_wrap=True)

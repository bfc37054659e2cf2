"""Whole lines to the command's stream, above a live progress view when one shows on it.

Kept apart from the view itself (progress_live.py, which needs rich) so that a run that
only prints, a no-op say, never imports rich.
"""

from __future__ import annotations

import sys
import threading
from typing import Protocol, TextIO


class ShownView(Protocol):
    @property
    def showing(self) -> bool: ...

    def print(self, line: str) -> None: ...


views: dict[int, ShownView] = {}
"""id(stream) -> the live view showing on it (progress_live registers and removes them)."""
views_lock = threading.Lock()


def echo(text: str, file: TextIO | None = None) -> None:
    """Print whole lines without tearing a live view on the same stream; a plain write + flush otherwise.

    This is how code outside the reporter (e.g. `Build.say`) should write while
    a build runs: rich only keeps its frame intact for output that goes through it.
    """
    stream = file if file is not None else sys.stdout
    with views_lock:
        view = views.get(id(stream))
    if view is not None and view.showing:
        for line in text.splitlines() or [""]:
            view.print(line)
        return
    stream.write(text + "\n")
    stream.flush()

"""A closed stdout or stderr ends output, never the run.

`claudebuild analyze | head -1` closes the pipe after one line; every later
write then raises `BrokenPipeError`, which used to stop the run with two
tracebacks and throw away the chunks still in flight. The user only stopped
*reading*: the run goes on quietly, finished work is stored, and the exit code
is the run's own. After the first broken write the stream's descriptor is
pointed at /dev/null, so later writes (ours, doit's, rich's, and the final
flush at interpreter exit) succeed without a sound.
"""

from __future__ import annotations

import os
import sys
from typing import Any, TextIO


class QuietWhenClosed:
    """Wraps a text stream; on a broken pipe it silences the stream instead of raising."""

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self.closed_by_reader = False

    def write(self, text: str) -> int:
        if not self.closed_by_reader:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._silence()
        return len(text)

    def flush(self) -> None:
        if not self.closed_by_reader:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._silence()

    def _silence(self) -> None:
        self.closed_by_reader = True
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, self._stream.fileno())
            os.close(devnull)
        except (OSError, ValueError, AttributeError):
            pass  # not backed by a descriptor: dropping our own writes is enough

    def __getattr__(self, name: str) -> Any:  # isatty, fileno, encoding, ... of the real stream
        return getattr(self._stream, name)


def guard_standard_streams() -> None:
    """Install the guard on sys.stdout and sys.stderr (once; for the CLI process only)."""
    if not isinstance(sys.stdout, QuietWhenClosed):
        sys.stdout = QuietWhenClosed(sys.stdout)
    if not isinstance(sys.stderr, QuietWhenClosed):
        sys.stderr = QuietWhenClosed(sys.stderr)

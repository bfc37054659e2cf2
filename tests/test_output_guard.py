"""A reader that goes away (`| head -1`) silences output; it does not stop the run."""

from __future__ import annotations

import os

from claudebuild.output_guard import QuietWhenClosed


def test_writes_after_the_reader_closed_the_pipe_are_dropped_without_an_error() -> None:
    read_end, write_end = os.pipe()
    stream = QuietWhenClosed(os.fdopen(write_end, "w", buffering=1))
    stream.write("first\n")
    os.close(read_end)

    stream.write("second\n")
    stream.flush()
    stream.write("third\n")

    assert stream.closed_by_reader


def test_the_guard_passes_writes_through_while_the_reader_is_there() -> None:
    read_end, write_end = os.pipe()
    stream = QuietWhenClosed(os.fdopen(write_end, "w"))
    stream.write("hello\n")
    stream.flush()

    assert os.read(read_end, 100) == b"hello\n" and not stream.closed_by_reader
    os.close(read_end)

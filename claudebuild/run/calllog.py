"""Append-only NDJSON log of every `claude` call, for operators of long runs.

One line per attempt (chunk, files, timing, session, exit code, outcome class,
HTTP status, cost, tokens, stderr tail), written with a lock and flushed at
once so the log is complete up to the last finished call even after kill -9.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import orjson


class CallLog:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def write(self, record: dict[str, Any]) -> None:
        line = orjson.dumps(record) + b"\n"
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "ab") as handle:
                handle.write(line)


def read_call_log(path: Path) -> list[dict[str, Any]]:
    """All complete records; a torn last line (kill -9 mid-write) is skipped."""
    records: list[dict[str, Any]] = []
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return records
    for line in data.splitlines():
        try:
            records.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            continue  # only a torn final line can be malformed; it describes no finished call
    return records

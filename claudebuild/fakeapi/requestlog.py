"""The server's record of every request, for tests to assert on.

Tests ask questions like "how many calls reached the API", "which session
ids were used", "did this secret ever leave the machine", "which request got
the 429". Entries are recorded when a request arrives (so a hung request is
visible while it hangs) and completed with the answered status and fault.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from typing import Any

LOGGED_HEADERS: tuple[str, ...] = (
    "user-agent",
    "content-type",
    "anthropic-version",
    "anthropic-beta",
    "x-app",
    "x-claude-code-session-id",
    "x-stainless-retry-count",
    "x-stainless-timeout",
    "x-api-key",
    "authorization",
)
"""Header names (lower case) kept in the log; credentials are kept only as "<redacted>"."""

REDACTED_HEADERS = frozenset({"x-api-key", "authorization"})


def select_headers(headers: list[tuple[str, str]]) -> dict[str, str]:
    """Keep the interesting headers under lower-case names; never store credentials."""
    selected: dict[str, str] = {}
    for name, value in headers:
        key = name.lower()
        if key in LOGGED_HEADERS:
            selected[key] = "<redacted>" if key in REDACTED_HEADERS else value
    return selected


@dataclass(frozen=True)
class LoggedRequest:
    """One request as the server saw it; `status` is None until answered (or if never answered)."""

    seq: int
    monotonic: float
    wall_time: float
    method: str
    path: str
    headers: dict[str, str]
    body: Any = None
    user_text: str = ""
    status: int | None = None
    fault: str | None = None
    body_bytes: int = 0
    """Bytes of the request body as received: what a call costs on the wire (bench: bytes per reviewed byte)."""

    @property
    def session_id(self) -> str | None:
        return self.headers.get("x-claude-code-session-id")

    @property
    def is_messages(self) -> bool:
        return self.method == "POST" and self.path.split("?", 1)[0] == "/v1/messages"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self) | {"session_id": self.session_id}


class RequestLog:
    """Thread-safe, ordered by arrival (`seq`)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[int, LoggedRequest] = {}
        self._next_seq = 1

    def record(self, method: str, path: str, headers: dict[str, str], body: Any = None,
               user_text: str = "", body_bytes: int = 0) -> LoggedRequest:
        """Log an arriving request and return its entry (with its `seq`)."""
        with self._lock:
            entry = LoggedRequest(self._next_seq, time.monotonic(), time.time(), method, path, headers, body,
                                  user_text, body_bytes=body_bytes)
            self._entries[entry.seq] = entry
            self._next_seq += 1
            return entry

    def note_fault(self, seq: int, fault: str) -> None:
        """Record the chosen fault before answering, so a request hanging on it already shows it."""
        with self._lock:
            if seq in self._entries:
                self._entries[seq] = dataclasses.replace(self._entries[seq], fault=fault)

    def complete(self, seq: int, status: int | None, fault: str | None = None) -> None:
        """Store the answer; a no-op if the log was reset while the request was in flight."""
        with self._lock:
            if seq in self._entries:
                self._entries[seq] = dataclasses.replace(self._entries[seq], status=status, fault=fault)

    def snapshot(self) -> list[LoggedRequest]:
        with self._lock:
            return [self._entries[seq] for seq in sorted(self._entries)]

    def clear(self) -> None:
        """Forget all entries; sequence numbers keep increasing so ids stay unique."""
        with self._lock:
            self._entries.clear()

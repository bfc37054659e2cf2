"""Fault plans: which messages requests get a broken answer, and which one.

claudebuild must survive rate limits, outages, hung connections, garbage
streams and models that ignore the schema. Each of those is one `Fault` row:
a matcher (substring of the request's user text, skip the first `after`
matches, then apply `times` times) plus one effect. Faults are plain data so
they can come from Python, a JSON file (`--faults`) or `POST /_fake/faults`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import asdict, dataclass, fields
from typing import Any

ERROR_TYPES: dict[int, str] = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    504: "api_error",
    529: "overloaded_error",
}
"""The Anthropic error `type` for each status, used when a fault names only a status."""

ERROR_MESSAGES: dict[str, str] = {
    "invalid_request_error": "Invalid request (fake).",
    "authentication_error": "invalid x-api-key (fake)",
    "permission_error": "Your API key does not have permission to use the specified resource (fake).",
    "not_found_error": "Not found (fake).",
    "request_too_large": "Request exceeds the maximum allowed number of bytes (fake).",
    "rate_limit_error": "Number of concurrent connections has exceeded your rate limit (fake).",
    "api_error": "Internal server error (fake).",
    "overloaded_error": "Overloaded (fake).",
}

RETRY_AFTER_STATUSES = frozenset({429, 529})
"""Statuses that carry `retry-after` (the server default) unless a fault sets one."""


def error_type_for(status: int) -> str:
    """Default error type for an HTTP status (any other 5xx is an `api_error`)."""
    return ERROR_TYPES.get(status, "api_error" if status >= 500 else "invalid_request_error")


@dataclass(frozen=True)
class HttpError:
    """A resolved error answer: status, Anthropic error body fields, extra headers."""

    status: int
    error_type: str
    message: str
    retry_after: float | None = None
    should_retry: bool | None = None


@dataclass(frozen=True)
class Fault:
    """One injected misbehaviour of the API; at most one effect besides `hang`.

    Matcher: `match` must occur in the request's user text (None = any
    request); the first `after` matching requests are let through; then the
    fault applies to the next `times` matching requests (None = forever).

    Effects: `status` (+ `error_type`, `message`, `retry_after`,
    `should_retry` -> `x-should-retry` header) answers an HTTP error;
    `text_only` answers text instead of the StructuredOutput call;
    `invalid_tool_input` calls the tool with schema-violating input;
    `malformed` sends a truncated SSE stream and drops the connection;
    `findings` replaces the reviewer's findings. `hang` (seconds) delays the
    answer and combines with any effect (or none): with a large value the
    client times out first.
    """

    name: str = ""
    match: str | None = None
    times: int | None = None
    after: int = 0
    status: int | None = None
    error_type: str | None = None
    message: str | None = None
    retry_after: float | None = None
    should_retry: bool | None = None
    hang: float | None = None
    text_only: bool = False
    invalid_tool_input: bool = False
    malformed: bool = False
    findings: tuple[dict[str, Any], ...] | None = None

    def __post_init__(self) -> None:
        effects = [self.status is not None, self.text_only, self.invalid_tool_input, self.malformed,
                   self.findings is not None]
        if sum(effects) > 1:
            raise ValueError(f"fault {self.label!r}: choose one of status, text_only, invalid_tool_input, "
                             "malformed, findings")
        if self.status is not None and not 400 <= self.status <= 599:
            raise ValueError(f"fault {self.label!r}: status must be 400-599, got {self.status}")
        if (self.times is not None and self.times < 0) or self.after < 0:
            raise ValueError(f"fault {self.label!r}: times and after must not be negative")
        if self.hang is not None and self.hang < 0:
            raise ValueError(f"fault {self.label!r}: hang must not be negative")
        if self.findings is not None and not isinstance(self.findings, tuple):
            object.__setattr__(self, "findings", tuple(self.findings))

    @property
    def label(self) -> str:
        """How the request log names this fault."""
        if self.name:
            return self.name
        effect = next((f for f in ("text_only", "invalid_tool_input", "malformed") if getattr(self, f)), None)
        if self.status is not None:
            effect = f"status {self.status}"
        elif self.findings is not None:
            effect = "findings"
        elif effect is None:
            effect = "hang" if self.hang is not None else "no-op"
        return effect if self.match is None else f"{effect} on {self.match!r}"

    def http_error(self, default_retry_after: float) -> HttpError | None:
        """The error answer this fault prescribes, or None if it is not an error fault."""
        if self.status is None:
            return None
        error_type = self.error_type or error_type_for(self.status)
        retry_after = self.retry_after
        if retry_after is None and self.status in RETRY_AFTER_STATUSES:
            retry_after = default_retry_after
        return HttpError(self.status, error_type, self.message or ERROR_MESSAGES.get(error_type, "Error (fake)."),
                         retry_after, self.should_retry)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        """Build from JSON; unknown keys are an error so typos do not silently disable a fault."""
        if not isinstance(data, dict):
            raise ValueError(f"a fault must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault field(s) {unknown}; known: {sorted(known)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        if self.findings is not None:
            data["findings"] = list(self.findings)
        return data


def faults_from_json(data: Any) -> list[Fault]:
    """Accept `[fault, …]` or `{"faults": [fault, …]}` (the file and HTTP formats)."""
    if isinstance(data, dict) and set(data) == {"faults"}:
        data = data["faults"]
    if not isinstance(data, list):
        raise ValueError('faults must be a JSON list or {"faults": [...]}')
    return [Fault.from_dict(item) for item in data]


@dataclass(frozen=True)
class Outage:
    """Every messages request arriving before `until` (time.monotonic) gets `error`."""

    until: float
    error: HttpError

    def active(self, now: float | None = None) -> bool:
        return (time.monotonic() if now is None else now) < self.until


class FaultPlan:
    """The server's ordered fault list plus how often each fault has matched.

    Faults are tried in order and the first one that applies wins; later
    faults do not see (count) that request. So `[A(times=1), B(times=1)]`
    means "first request A, second request B", which is how tests script a
    sequence. Thread-safe: handler threads call `select` concurrently.
    """

    def __init__(self, faults: list[Fault] | tuple[Fault, ...] = ()) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = list(faults)
        self._seen: list[int] = [0] * len(self._faults)

    @property
    def faults(self) -> list[Fault]:
        with self._lock:
            return list(self._faults)

    def set(self, faults: list[Fault] | tuple[Fault, ...]) -> None:
        """Replace the plan; match counters restart from zero."""
        with self._lock:
            self._faults = list(faults)
            self._seen = [0] * len(self._faults)

    def add(self, fault: Fault) -> None:
        with self._lock:
            self._faults.append(fault)
            self._seen.append(0)

    def select(self, user_text: str) -> Fault | None:
        """The fault to apply to a request with this user text (counting the match), or None."""
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.match is not None and fault.match not in user_text:
                    continue
                if fault.times is not None and self._seen[index] >= fault.after + fault.times:
                    continue
                self._seen[index] += 1
                if self._seen[index] > fault.after:
                    return fault
            return None

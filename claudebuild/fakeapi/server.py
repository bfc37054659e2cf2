"""`FakeAnthropicServer`: a local Anthropic Messages API for the real `claude` CLI.

Tests and the demo run the genuine CLI against this server, so claudebuild's
subprocess handling, JSON parsing, retries and caching are exercised for
real while the "model" is a deterministic regex reviewer. The server holds
all state (config, fault plan, outage, request log, in-flight count); the
HTTP handler threads only read and update it through the methods below.

Order of decisions for a messages request: concurrency cap (429 at once) ->
outage window -> fault plan -> latency -> fault hang -> answer. Outage and
capped requests do not consume faults.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from claudebuild.fakeapi.conversation import request_chars, tokens_for
from claudebuild.fakeapi.faults import ERROR_MESSAGES, Fault, FaultPlan, HttpError, Outage, error_type_for
from claudebuild.fakeapi.handler import FakeHandler, FakeHTTPServer
from claudebuild.fakeapi.replies import build_reply
from claudebuild.fakeapi.requestlog import LoggedRequest, RequestLog
from claudebuild.fakeapi.sse import Reply

LOOPBACK = "127.0.0.1"


@dataclass(frozen=True)
class Answer:
    """What to send for one messages request: an error, a reply (streamed or not, maybe broken) or nothing."""

    error: HttpError | None = None
    reply: Reply | None = None
    stream: bool = True
    malformed: bool = False
    fault: str | None = None

    @property
    def status(self) -> int | None:
        """The HTTP status sent (None when the request was dropped unanswered)."""
        if self.error is not None:
            return self.error.status
        return None if self.reply is None else 200


class FakeAnthropicServer:
    """A threaded local Messages API with latency, a concurrency cap, faults, outages and a request log.

    Use as a context manager (`with FakeAnthropicServer() as api: …api.url…`)
    or call `start()` / `stop()`. `port=0` picks a free port. It binds to
    127.0.0.1 only, so nothing outside the machine can reach it.
    """

    def __init__(
        self,
        port: int = 0,
        *,
        latency: float = 0.0,
        max_concurrent: int | None = None,
        retry_after: float = 1.0,
        faults: list[Fault] | tuple[Fault, ...] = (),
    ) -> None:
        self._requested_port = port
        self.log = RequestLog()
        self._plan = FaultPlan(faults)
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._outage: Outage | None = None
        self._in_flight = 0
        self._peak_in_flight = 0
        self._httpd: FakeHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._latency = self._retry_after = 0.0
        self._max_concurrent: int | None = None
        self.tokens_per_minute: int | None = None  # input tokens per minute; None = unlimited
        self._bucket: tuple[float, float] | None = None  # (tokens left, when)
        self.latency = latency
        self.max_concurrent = max_concurrent
        self.retry_after = retry_after

    # -- lifecycle ---------------------------------------------------------------------------------------

    def start(self) -> FakeAnthropicServer:
        """Bind and serve in a daemon thread; returns self so `api = FakeAnthropicServer().start()` works."""
        if self._httpd is not None:
            raise RuntimeError("FakeAnthropicServer already started")
        self._stopping.clear()
        httpd = FakeHTTPServer((LOOPBACK, self._requested_port), FakeHandler)
        httpd.fake = self
        self._httpd = httpd
        self._thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name=f"fakeapi:{self.port}", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; requests that are sleeping (latency, hang) wake up and are dropped unanswered."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeAnthropicServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("FakeAnthropicServer is not running; call start() first")
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The value for ANTHROPIC_BASE_URL."""
        return f"http://{LOOPBACK}:{self.port}"

    # -- configuration -----------------------------------------------------------------------------------

    @property
    def latency(self) -> float:
        """Seconds every messages request waits before it is answered."""
        return self._latency

    @latency.setter
    def latency(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("latency must not be negative")
        self._latency = float(seconds)

    @property
    def max_concurrent(self) -> int | None:
        """Messages requests allowed in flight at once; one more gets 429 (None = no cap)."""
        return self._max_concurrent

    @max_concurrent.setter
    def max_concurrent(self, limit: int | None) -> None:
        if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
            raise ValueError("max_concurrent must be a positive integer or None")
        self._max_concurrent = limit

    @property
    def retry_after(self) -> float:
        """Seconds sent as `retry-after` on 429/529 answers that do not name their own value."""
        return self._retry_after

    @retry_after.setter
    def retry_after(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("retry_after must not be negative")
        self._retry_after = float(seconds)

    def configure(self, **settings: Any) -> None:
        """Set any of latency / max_concurrent / retry_after at once (used by `POST /_fake/config`)."""
        unknown = sorted(set(settings) - {"latency", "max_concurrent", "retry_after"})
        if unknown:
            raise ValueError(f"unknown setting(s) {unknown}")
        for name, value in settings.items():
            setattr(self, name, value)

    @property
    def faults(self) -> list[Fault]:
        return self._plan.faults

    @faults.setter
    def faults(self, faults: list[Fault] | tuple[Fault, ...]) -> None:
        self._plan.set(faults)

    def add_fault(self, fault: Fault) -> None:
        self._plan.add(fault)

    def start_outage(self, seconds: float, status: int = 529, *, error_type: str | None = None,
                     message: str | None = None, retry_after: float | None = None) -> None:
        """For the next `seconds`, every arriving messages request gets this error."""
        error_type = error_type or error_type_for(status)
        if retry_after is None and status in (429, 529):
            retry_after = self.retry_after
        error = HttpError(int(status), error_type, message or ERROR_MESSAGES.get(error_type, "Outage (fake)."),
                          retry_after)
        with self._lock:
            self._outage = Outage(time.monotonic() + float(seconds), error)

    def end_outage(self) -> None:
        with self._lock:
            self._outage = None

    def reset(self) -> None:
        """Forget requests, faults, any outage and spent tokens (latency and the limits stay as configured)."""
        self.log.clear()
        self._plan.set(())
        with self._lock:
            self._outage = None
            self._bucket = None
            self._peak_in_flight = self._in_flight

    # -- request log accessors ---------------------------------------------------------------------------

    @property
    def requests(self) -> list[LoggedRequest]:
        """Snapshot of every logged request, in arrival order (control endpoints excluded)."""
        return self.log.snapshot()

    def message_requests(self) -> list[LoggedRequest]:
        """Only `POST /v1/messages` requests (with or without `?beta=true`)."""
        return [entry for entry in self.requests if entry.is_messages]

    def received_text(self) -> str:
        """All user text of all messages requests, to assert what did (or never did) leave the machine."""
        return "\n".join(entry.user_text for entry in self.message_requests())

    def session_ids(self) -> list[str]:
        """Distinct `X-Claude-Code-Session-Id` values of messages requests, in first-seen order."""
        return list(dict.fromkeys(e.session_id for e in self.message_requests() if e.session_id))

    @property
    def in_flight(self) -> int:
        with self._lock:
            return self._in_flight

    @property
    def peak_in_flight(self) -> int:
        """Most messages requests ever handled at once (since start or the last reset)."""
        with self._lock:
            return self._peak_in_flight

    # -- used by the handler -----------------------------------------------------------------------------

    def acquire_slot(self) -> bool:
        """Count a messages request in flight, or refuse it if the cap is reached."""
        with self._lock:
            if self.max_concurrent is not None and self._in_flight >= self.max_concurrent:
                return False
            self._in_flight += 1
            self._peak_in_flight = max(self._peak_in_flight, self._in_flight)
            return True

    def release_slot(self) -> None:
        with self._lock:
            self._in_flight -= 1

    def concurrency_error(self) -> HttpError:
        return HttpError(429, "rate_limit_error",
                         f"Number of concurrent requests exceeded the fake limit of {self.max_concurrent}.",
                         self.retry_after)

    def take_tokens(self, body: dict[str, Any]) -> bool:
        """An organisation's input-tokens-per-minute limit, as a token bucket like Anthropic's
        (full at start, refilled continuously): False (answer 429) when the request does not fit."""
        if self.tokens_per_minute is None:
            return True
        tokens = tokens_for(request_chars(body))
        now = time.monotonic()
        with self._lock:
            if self._bucket is None:
                self._bucket = (float(self.tokens_per_minute), now)
            level, updated = self._bucket
            level = min(float(self.tokens_per_minute), level + (now - updated) * self.tokens_per_minute / 60)
            if tokens > level:
                self._bucket = (level, now)
                return False
            self._bucket = (level - tokens, now)
            return True

    def answer_messages(self, request: LoggedRequest) -> Answer:
        """Decide (and wait for) the answer to one logged messages request; called with a slot held."""
        body, seq = request.body, request.seq
        if not self.take_tokens(body):
            return Answer(error=HttpError(429, "rate_limit_error",
                                          f"This request would exceed the fake limit of {self.tokens_per_minute} "
                                          "input tokens per minute.", self.retry_after), fault="tokens-per-minute")
        stream = body.get("stream") is True
        with self._lock:
            outage = self._outage if self._outage is not None and self._outage.active() else None
        fault = None if outage is not None else self._plan.select(request.user_text)
        label = "outage" if outage is not None else (fault.label if fault is not None else None)
        if label is not None:
            self.log.note_fault(seq, label)
        if not self._sleep(self.latency) or (fault is not None and fault.hang and not self._sleep(fault.hang)):
            return Answer(fault=f"{label or 'none'}; dropped: server stopping")
        if outage is not None:
            return Answer(error=outage.error, fault=label)
        error = fault.http_error(self.retry_after) if fault is not None else None
        if error is not None:
            return Answer(error=error, fault=label)
        return Answer(reply=build_reply(body, seq, fault), stream=stream,
                      malformed=fault is not None and fault.malformed, fault=label)

    def _sleep(self, seconds: float) -> bool:
        """Sleep unless the server stops meanwhile; False means 'stopping, give up'."""
        return not self._stopping.wait(seconds) if seconds > 0 else not self._stopping.is_set()


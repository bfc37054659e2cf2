"""One backoff shared by every worker, and a concurrency limit that adapts to throttling.

Independent per-worker retries turn a rate limit into a storm: eight workers
each back off, wake together and get throttled again. Here a throttled call
pauses *all* workers until a common time (honouring `retry-after` when known,
else exponential backoff with full jitter), cuts the number of calls allowed
in flight, and grows it back slowly after a run of successes.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable


class RunAborted(Exception):
    """Raised in a worker when the whole run must stop (auth failure, Ctrl-C, SIGTERM)."""


class ThrottleGate:
    """Shared pause plus an adaptive limit on calls in flight (slow start, then AIMD-like).

    The limit starts at `initial_limit` and doubles after each `limit` successes
    until the first throttling; after that it grows by one after a long run of
    successes. A throttling episode (calls already in flight when the limit was
    cut belong to it) cuts the limit once: to one below the concurrency that was
    throttled, or by half when the previous cut did not help."""

    def __init__(
        self,
        *,
        base_delay: float = 2.0,
        max_delay: float = 60.0,
        max_limit: int = 64,
        initial_limit: int = 2,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
        wait: Callable[[float], object] | None = None,
    ) -> None:
        """`clock`, `rng` and `wait` are seams for tests: `wait(seconds)` replaces blocking on the
        condition (a test's fake advances its fake clock; no thread ever notifies it then)."""
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.max_limit = max_limit
        self._clock = clock
        self._rng = rng
        self._cond = threading.Condition()
        self._wait: Callable[[float], object] = wait or (lambda seconds: self._cond.wait(timeout=seconds))
        self._pause_until = 0.0
        self._active = 0
        self._limit = min(initial_limit, max_limit)
        self._slow_start = True
        self._successes = 0
        self._successes_since_cut = 0
        self._throttle_streak = 0
        self._last_cut = float("-inf")
        self.abort_reason: str | None = None
        self.throttle_events = 0

    @property
    def limit(self) -> int:
        return self._limit

    def acquire(self) -> float:
        """Block until the shared pause is over and a slot is free, or the run is aborted.

        Returns a ticket (the start time) to hand back to `release`."""
        with self._cond:
            while True:
                if self.abort_reason:
                    raise RunAborted(self.abort_reason)
                wait = self._pause_until - self._clock()
                if wait <= 0 and self._active < self._limit:
                    self._active += 1
                    return self._clock()
                self._wait(min(max(wait, 0.05), 1.0) if wait > 0 else 1.0)

    def release(self, ticket: float, *, throttled: bool, congested: bool = True, retry_after: float | None = None) -> float:
        """Return a slot; on throttling, pause everyone and return the pause (seconds).

        `congested` (429/529, as opposed to a transient 5xx or network error)
        also cuts the number of calls allowed in flight."""
        with self._cond:
            active_before = self._active
            self._active -= 1
            delay = 0.0
            if throttled:
                self.throttle_events += 1
                self._throttle_streak += 1
                ceiling = min(self.max_delay, self.base_delay * 2 ** min(self._throttle_streak - 1, 16))
                delay = self._rng() * ceiling
                if retry_after is not None:
                    delay = max(delay, retry_after)
                self._pause_until = max(self._pause_until, self._clock() + delay)
                if congested and ticket > self._last_cut:
                    self._cut(active_before)
            else:
                self._throttle_streak = 0
                self._grow()
            self._cond.notify_all()
            return delay

    def _cut(self, active_before: int) -> None:
        helped = self._successes_since_cut > 0 or self._last_cut == float("-inf")
        target = active_before - 1 if helped else self._limit // 2
        self._limit = max(1, min(self._limit, target))
        self._slow_start = False
        self._successes = 0
        self._successes_since_cut = 0
        self._last_cut = self._clock()

    def _grow(self) -> None:
        self._successes += 1
        self._successes_since_cut += 1
        needed = self._limit if self._slow_start else max(8, 4 * self._limit)
        if self._successes >= needed and self._limit < self.max_limit:
            self._limit = min(self.max_limit, self._limit * 2 if self._slow_start else self._limit + 1)
            self._successes = 0

    def abort(self, reason: str) -> None:
        with self._cond:
            if not self.abort_reason:
                self.abort_reason = reason
            self._cond.notify_all()


class TokenBucket:
    """An organisation's tokens-per-minute limit, shared by every worker (`--tpm`).

    A call takes its estimated tokens before it starts (waiting for the bucket
    to refill if needed) and the difference to its real usage afterwards, so
    the run stays under the limit instead of discovering it through 429s."""

    def __init__(
        self,
        tokens_per_minute: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.capacity = float(tokens_per_minute)
        self.rate = tokens_per_minute / 60.0
        self._clock = clock
        self._sleep = sleep
        self._level = self.capacity
        self._updated = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        self._level = min(self.capacity, self._level + (now - self._updated) * self.rate)
        self._updated = now

    def take(self, tokens: float, abort: Callable[[], str | None] = lambda: None) -> None:
        """Wait until `tokens` (at most a full bucket) are available, then take them."""
        wanted = min(float(tokens), self.capacity)
        while True:
            with self._lock:
                self._refill()
                if self._level >= wanted:
                    self._level -= wanted
                    return
                wait = (wanted - self._level) / self.rate
            reason = abort()
            if reason:
                raise RunAborted(reason)
            self._sleep(min(wait, 1.0))

    def adjust(self, difference: float) -> None:
        """Charge (or refund) the difference between real and estimated usage."""
        with self._lock:
            self._refill()
            self._level = min(self.capacity, self._level - difference)

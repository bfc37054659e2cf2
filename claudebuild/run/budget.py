"""Run budgets (`--max-cost`): estimate before spending, spend on what matters most, never pass the ceiling.

Estimates come from history where there is any (the same chunk's last cost,
scaled by its size now) and otherwise from bytes and the model's list price.
Chunks are taken in order of value — ones with an earlier result that is now
out of date (changed files, failed, new settings), then never analyzed, then
largest first — and the selection stops at the first chunk that would pass
the ceiling. During the run `Budget` re-checks with real costs, because
estimates are only estimates.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from claudebuild.prices import price_of

BYTES_PER_TOKEN = 3.5
OVERHEAD_INPUT_TOKENS = 594
"""Input tokens a call pays besides its content (the CLI's own part, system prompt, schema, instructions, fences),
before a repository has results to take the median from: `bench/bench_start.py` after prompt version 5 measured
297 (2.1.332 `--bare`), 372 / 405 (2.1.197 bare / normal) and 594 (2.1.332 normal start, what a logged-in user
of the newest CLI pays). The largest: the budget reserves it before each call, and `--max-cost` must not be
overrun by a guess that was too low."""
EXPECTED_OUTPUT_TOKENS = 800


@dataclass(frozen=True)
class PendingChunk:
    """A chunk that needs analysis, with why and what it will probably cost."""

    chunk: str
    reason: str  # "changed" (earlier result out of date or failed) or "new"
    size: int
    estimate_usd: float


def price_per_byte(model: str) -> float:
    return price_of(model).input / 1_000_000 / BYTES_PER_TOKEN


def price_estimate(model: str, size: int) -> float:
    """List-price cost of one call sending `size` content bytes (per-call overhead and a typical answer included)."""
    return price_of(model).cost(size / BYTES_PER_TOKEN + OVERHEAD_INPUT_TOKENS, EXPECTED_OUTPUT_TOKENS)


@dataclass(frozen=True)
class CostHistory:
    """Past (cost, bytes sent) of successful calls, to estimate the fixed part of a call."""

    samples: tuple[tuple[float, int], ...] = ()

    def fixed_cost(self, model: str) -> float | None:
        """Median cost of a call beyond its content's input tokens (prompt, schema, output)."""
        per_byte = price_per_byte(model)
        fixed = sorted(max(0.0, cost - size * per_byte) for cost, size in self.samples if cost > 0)
        return fixed[len(fixed) // 2] if fixed else None


def estimate(model: str, size: int, past_cost: float | None, past_size: int | None,
             history: CostHistory = CostHistory()) -> float:
    """The same chunk's last cost adjusted for its size change; else this repo's typical
    fixed cost plus the content; else list prices."""
    per_byte = price_per_byte(model)
    if past_cost and past_size:
        return max(past_cost * 0.5, past_cost + (size - past_size) * per_byte)
    fixed = history.fixed_cost(model)
    if fixed is not None:
        return fixed + size * per_byte
    return price_estimate(model, size)


def prioritise(pending: Iterable[PendingChunk]) -> list[PendingChunk]:
    rank = {"changed": 0, "new": 1}
    return sorted(pending, key=lambda item: (rank.get(item.reason, 2), -item.size, item.chunk))


def select_within(pending: Sequence[PendingChunk], max_cost: float) -> tuple[list[PendingChunk], list[PendingChunk]]:
    """Split prioritised chunks into those to analyze now and those that remain."""
    chosen: list[PendingChunk] = []
    total = 0.0
    for index, item in enumerate(pending):
        if total + item.estimate_usd > max_cost:
            return chosen, list(pending[index:])
        chosen.append(item)
        total += item.estimate_usd
    return chosen, []


class Budget:
    """Thread-safe spending guard shared by the workers of one run."""

    def __init__(self, max_cost: float) -> None:
        self.max_cost = max_cost
        self._spent = 0.0
        self._reserved = 0.0
        self._lock = threading.Lock()
        self.declined: list[str] = []

    def reserve(self, chunk: str, amount: float) -> bool:
        """Claim `amount` before a chunk starts; False (and noted) if it would pass the ceiling."""
        with self._lock:
            if self._spent + self._reserved + amount > self.max_cost:
                self.declined.append(chunk)
                return False
            self._reserved += amount
            return True

    def settle(self, reserved: float, actual: float) -> None:
        with self._lock:
            self._reserved -= reserved
            self._spent += actual

    def remaining(self) -> float:
        with self._lock:
            return max(0.0, self.max_cost - self._spent - self._reserved)

    @property
    def spent(self) -> float:
        with self._lock:
            return self._spent

"""The shared backoff pauses every worker, the concurrency limit adapts, the token bucket paces."""

from __future__ import annotations

import threading

import pytest

from claudebuild.run.throttle import RunAborted, ThrottleGate, TokenBucket


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_a_throttled_call_pauses_every_worker() -> None:
    clock = FakeClock()
    gate = ThrottleGate(base_delay=2.0, clock=clock, rng=lambda: 1.0)
    ticket = gate.acquire()
    assert gate.release(ticket, throttled=True) == pytest.approx(2.0)
    acquired = threading.Event()
    worker = threading.Thread(target=lambda: (gate.acquire(), acquired.set()), daemon=True)
    worker.start()
    assert not acquired.wait(0.2)
    clock.now += 2.5
    assert acquired.wait(3)


def test_retry_after_is_honoured_as_a_minimum_pause() -> None:
    gate = ThrottleGate(base_delay=1.0, clock=FakeClock(), rng=lambda: 0.0)
    assert gate.release(gate.acquire(), throttled=True, retry_after=7.0) == pytest.approx(7.0)


def test_backoff_grows_exponentially_and_is_capped() -> None:
    clock = FakeClock()
    gate = ThrottleGate(base_delay=1.0, max_delay=5.0, clock=clock, rng=lambda: 1.0)
    pauses = []
    for _ in range(5):
        clock.now += 100
        pauses.append(gate.release(gate.acquire(), throttled=True))
    assert pauses == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_slow_start_doubles_the_limit_until_the_first_throttling() -> None:
    gate = ThrottleGate(initial_limit=2, clock=FakeClock())
    for _ in range(2 + 4):
        gate.release(gate.acquire(), throttled=False)
    assert gate.limit == 8


def test_one_throttling_episode_cuts_the_limit_once() -> None:
    clock = FakeClock()
    gate = ThrottleGate(initial_limit=8, clock=clock, rng=lambda: 0.0)
    tickets = [gate.acquire() for _ in range(8)]
    clock.now += 1
    for ticket in tickets[:6]:
        gate.release(ticket, throttled=True)
    assert gate.limit == 7


def test_a_cut_that_did_not_help_halves_the_limit() -> None:
    clock = FakeClock()
    gate = ThrottleGate(initial_limit=8, clock=clock, rng=lambda: 0.0)
    gate.release(gate.acquire(), throttled=True)
    limit = gate.limit
    clock.now += 10
    gate.release(gate.acquire(), throttled=True)
    assert gate.limit == max(1, limit // 2)


def test_after_throttling_the_limit_grows_back_by_one_slowly() -> None:
    clock = FakeClock()
    gate = ThrottleGate(initial_limit=4, clock=clock, rng=lambda: 0.0)
    tickets = [gate.acquire() for _ in range(4)]
    clock.now += 1
    gate.release(tickets[0], throttled=True)
    for ticket in tickets[1:]:
        gate.release(ticket, throttled=False)
    assert gate.limit == 3
    for _ in range(8):  # 3 + 8 = 11 successes: not yet the 4 x limit = 12 needed
        clock.now += 1
        gate.release(gate.acquire(), throttled=False)
    assert gate.limit == 3
    gate.release(gate.acquire(), throttled=False)
    assert gate.limit == 4


def test_an_aborted_gate_refuses_new_calls() -> None:
    gate = ThrottleGate()
    gate.abort("authentication failed")
    with pytest.raises(RunAborted, match="authentication failed"):
        gate.acquire()


def test_the_token_bucket_waits_for_refill_beyond_its_capacity() -> None:
    clock = FakeClock()
    bucket = TokenBucket(600, clock=clock, sleep=clock.sleep)
    bucket.take(600)
    start = clock.now
    bucket.take(60)
    assert clock.now - start == pytest.approx(6.0, abs=1.01)


def test_the_token_bucket_charges_real_usage_above_the_estimate() -> None:
    clock = FakeClock()
    bucket = TokenBucket(600, clock=clock, sleep=clock.sleep)
    bucket.take(100)
    bucket.adjust(500)
    start = clock.now
    bucket.take(100)
    assert clock.now - start >= 9.0


def test_a_waiting_token_bucket_gives_up_when_the_run_is_aborted() -> None:
    clock = FakeClock()
    bucket = TokenBucket(60, clock=clock, sleep=clock.sleep)
    bucket.take(60)
    with pytest.raises(RunAborted):
        bucket.take(60, abort=lambda: "stopped")

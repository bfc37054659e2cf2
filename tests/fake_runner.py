"""A scripted stand-in for `ClaudeRunner` and a fake clock: the retry policy runs in milliseconds, no process.

`FakeRunner` answers each call with the next scripted `CallOutcome` (the last one repeats), or with what
a responder function makes of the call (to answer by what was sent, e.g. "too large" for two files).
It records every call and the fake time it started, so a test can read what the policy did.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from claudebuild.claude import outcome as outcomes
from claudebuild.claude.calls import ClaudeCall
from claudebuild.claude.outcome import CallOutcome


class FakeClock:
    """Seconds that pass only when someone waits: the gate's `wait` and the context's `clock`."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.waited = 0.0

    def __call__(self) -> float:
        return self.now

    def wait(self, seconds: float) -> None:
        self.now += seconds
        self.waited += seconds


@dataclass
class FakeRunner:
    script: Sequence[CallOutcome] | Callable[[ClaudeCall], CallOutcome]
    clock: FakeClock = field(default_factory=FakeClock)
    calls: list[ClaudeCall] = field(default_factory=list)
    started_at: list[float] = field(default_factory=list)
    terminated: int = 0

    def run(self, call: ClaudeCall) -> CallOutcome:
        self.calls.append(call)
        self.started_at.append(self.clock())
        if callable(self.script):
            return self.script(call)
        return self.script[min(len(self.calls), len(self.script)) - 1]

    def terminate_all(self) -> None:
        self.terminated += 1

    def launch_facts(self) -> dict[str, object]:
        return {"cli_version": "2.1.332", "bare": False}


def ok(*findings: dict[str, object], cost: float = 0.01) -> CallOutcome:
    return CallOutcome(outcomes.OK, structured={"findings": list(findings)}, session_id="s-ok", exit_code=0,
                       cost_usd=cost, input_tokens=100, output_tokens=10)


def throttled(status: int = 429) -> CallOutcome:
    return CallOutcome(outcomes.RETRY, f"API Error: {status}", exit_code=1, http_status=status)


def failed(kind: str, message: str = "", status: int | None = None, cost: float = 0.0) -> CallOutcome:
    return CallOutcome(kind, message or kind, exit_code=1, http_status=status, cost_usd=cost)

"""What one `claude -p` call is (a review or verification, or a follow-up on a stored session) as argv and
stdin, and what the retry policy needs of whoever runs it (`CallRunner`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from claudebuild.claude.outcome import CallOutcome


@dataclass(frozen=True)
class ClaudeCall:
    """Everything one call needs. The whole prompt (instructions and content) goes on stdin:
    argv holds only fixed flags, so no text can be taken for an option or overflow argv."""

    stdin: str
    schema_json: str
    system_prompt: str
    model: str
    max_turns: int
    session_id: str
    cwd: Path
    timeout: float
    max_budget_usd: float | None = None
    answer_field: str = "findings"
    """The structured output's required field: `findings` (a list) for a review, `verdict` (a string) for a verification."""

    def argv(self, binary: str) -> list[str]:
        args = [
            binary, "-p",
            "--output-format", "json",
            "--json-schema", self.schema_json,
            "--max-turns", str(self.max_turns),
            "--tools", "",
            "--setting-sources", "",
            "--strict-mcp-config",
            f"--system-prompt={self.system_prompt}",  # "=": a value starting with "-" stays a value
            f"--model={self.model}",
            "--session-id", self.session_id,
        ]  # fmt: skip
        if self.max_budget_usd is not None:
            args += ["--max-budget-usd", f"{self.max_budget_usd:.4f}"]
        return args


@dataclass(frozen=True)
class FollowUp:
    """A question on an earlier session: `claude -p --resume SESSION`, the question on stdin.

    `session` is the session id (found only from the same `cwd`) or the absolute
    path of its transcript (found from anywhere). The question goes on stdin, not
    in argv: there a question starting with '-' is an "unknown option" to the CLI.
    No tools are offered, so the answer can only come from the stored history.
    `fork` gives the answer its own session id and leaves the stored one as it was.
    """

    question: str
    session: str
    cwd: Path
    model: str
    fork: bool = True
    timeout: float = 600.0
    system_prompt: str | None = None

    def argv(self, binary: str) -> list[str]:
        args = [
            binary, "-p",
            "--resume", self.session,
            "--output-format", "json",
            "--tools", "",
            "--setting-sources", "",
            "--strict-mcp-config",
            f"--model={self.model}",
        ]  # fmt: skip
        if self.fork:
            args.append("--fork-session")
        if self.system_prompt is not None:
            args.append(f"--system-prompt={self.system_prompt}")
        return args


class CallRunner(Protocol):
    """What the retry policy needs from a runner: `ClaudeRunner`, or a test's scripted fake."""

    def run(self, call: ClaudeCall) -> CallOutcome: ...

    def terminate_all(self) -> None: ...

    def launch_facts(self) -> dict[str, Any]: ...

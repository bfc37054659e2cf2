"""Plain data passed between the pipeline stages.

discover -> chunk -> tasks -> run claude -> store -> aggregate -> render.
Every stage takes and returns these frozen values, so stages can be tested
without subprocesses and no stage needs to know how another one works.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

SEVERITIES: tuple[str, ...] = ("critical", "high", "medium", "low", "info")
"""Most severe first; the index is the sort rank."""
ANALYZE_PREFIX = "analyze:"
"""A chunk's doit task is this plus its id (`analyze:app/api.py+1`); a named check's is `<check>:<id>`."""


@dataclass(frozen=True)
class SourceFile:
    """A file that may be sent to Claude: repo-relative POSIX path and size."""

    path: str
    size: int


@dataclass(frozen=True)
class SkippedFile:
    """A file discovery refused to send, with the reason shown in the report."""

    path: str
    reason: str


@dataclass(frozen=True)
class Discovery:
    """What discovery found: files to analyze (sorted by path) and files skipped."""

    files: tuple[SourceFile, ...]
    skipped: tuple[SkippedFile, ...] = ()

    def skipped_by_reason(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for item in self.skipped:
            counts[item.reason] = counts.get(item.reason, 0) + 1
        return dict(sorted(counts.items()))


@dataclass(frozen=True)
class ChunkPart:
    """One file of a chunk, or one part of a file too large for a single chunk.

    `part`/`parts` are 1-based; a whole file has part == parts == 1. The line
    range of a part is derived from the content when it is sent (see
    `chunk.part_line_ranges`), so it always matches what Claude saw.
    """

    path: str
    part: int = 1
    parts: int = 1

    @property
    def is_whole_file(self) -> bool:
        return self.parts == 1


@dataclass(frozen=True)
class Chunk:
    """A group of files analyzed by one `claude -p` call; `id` is stable across runs."""

    id: str
    parts: tuple[ChunkPart, ...]

    @property
    def paths(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(p.path for p in self.parts))


@dataclass(frozen=True)
class Finding:
    """One validated problem, located by repo-relative path and 1-based lines."""

    file: str
    line: int
    end_line: int
    severity: str
    category: str
    title: str
    message: str
    quote: str = ""
    chunk: str = ""
    fingerprint: str = ""
    status: str = ""  # "new" or "persisting" against the previous report; "" when there is none
    verified: bool = True  # False when `quote` does not occur in the file: the model may have invented it
    suppression_ignored: str = ""  # why a suppression next to it was not honoured (added by the change under review)
    check: str = ""  # the named check (`[[checks]]`) that found it; "" for the default review
    verdict: str = ""  # the verification pass's verdict: "confirmed", "uncertain" ("refuted" ones leave the findings)
    verdict_reason: str = ""

    @property
    def rule_id(self) -> str:
        """The category, prefixed with the check's name (`security/security/eval`) when a named check found it:
        what reports show as the rule, so one category found by two checks stays two rules."""
        return f"{self.check}/{self.category}" if self.check else self.category


@dataclass(frozen=True)
class SentFile:
    """What was actually sent for one file of a chunk: content hash and line range."""

    path: str
    hash: str
    start_line: int
    end_line: int
    total_lines: int


@dataclass(frozen=True)
class ChunkResult:
    """The stored outcome of analyzing one chunk (a doit task's values).

    status is "ok" (cached and reused) or "error" (reported, retried next run).
    `raw_findings` are the model's findings as returned; aggregation validates them.
    """

    chunk: str
    status: str
    raw_findings: tuple[dict[str, Any], ...] = ()
    error: str = ""
    error_kind: str = ""
    session_id: str = ""
    cwd: str = ""
    model: str = ""
    cli_version: str = ""  # recorded, never part of the cache key: a CLI update must not re-bill every chunk
    cost_usd: float = 0.0
    input_tokens: int = 0
    output_tokens: int = 0
    duration_ms: int = 0
    started_at: str = ""
    finished_at: str = ""
    run_id: str = ""
    attempts: int = 1
    answer_digest: str = ""
    bytes_sent: int = 0
    sent: tuple[SentFile, ...] = field(default=())
    check: str = ""
    """The named check this result belongs to ("" for the default review): its findings carry it."""
    origin: str = ""
    """"" for a result made by a `claude` call on this machine; "remote" when it came from the shared
    remote cache (no session here to ask: `ask --reanalyze` makes one)."""

"""Which chunks each check reviews: its files, grouped by the house rules that apply to them.

Without `[[checks]]` and `[[rules]]` this is exactly `make_chunks` over every file, so chunk ids,
task names and existing caches stay what they were. With rules, files are first split by the set
of rules that match them, then chunked: a chunk never mixes files with different rules, so its
prompt holds exactly its files' rules, and editing one rule changes the answer key of exactly the
chunks it matches. With checks, each check chunks only the files its `paths` select, with its own
`max_files_per_chunk`; its chunk ids are prefixed with its name, which is also its doit task name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from claudebuild.checks import DEFAULT_CHECK, Check, PathRule
from claudebuild.model import ANALYZE_PREFIX, Chunk, SourceFile
from claudebuild.pipeline.chunk import make_chunks, sort_key


@dataclass(frozen=True)
class CheckChunk:
    """One chunk of one check. `chunk.id` is its id in reports: the plain chunk id for the default
    check, `<check>:<chunk id>` for a named one (which is also its task name)."""

    check: str
    chunk: Chunk
    rules: tuple[int, ...] = ()
    """Indices into the configured rules that match every file of the chunk (and no other rule does)."""

    @property
    def task(self) -> str:
        return self.chunk.id if self.check else ANALYZE_PREFIX + self.chunk.id


def plan_checks(files: Sequence[SourceFile], *, checks: Sequence[Check], rules: Sequence[PathRule],
                max_files: int, max_bytes: int) -> tuple[CheckChunk, ...]:
    """Every (check, chunk) to analyze; checks in config order, chunks in directory-first order."""
    if not checks:
        return _chunks_of(DEFAULT_CHECK, files, rules, max_files=max_files, max_bytes=max_bytes)
    planned: list[CheckChunk] = []
    for check in checks:
        selected = [file for file in files if check.matches(file.path)]
        planned += _chunks_of(check.name, selected, rules, max_files=check.max_files_per_chunk or max_files,
                              max_bytes=max_bytes)
    return tuple(planned)


def _chunks_of(check: str, files: Sequence[SourceFile], rules: Sequence[PathRule], *, max_files: int,
               max_bytes: int) -> tuple[CheckChunk, ...]:
    groups: dict[tuple[int, ...], list[SourceFile]] = {}
    for file in files:
        matching = tuple(index for index, rule in enumerate(rules) if rule.matches(file.path))
        groups.setdefault(matching, []).append(file)
    planned: list[CheckChunk] = []
    for matching, group in groups.items():
        for chunk in make_chunks(group, max_files=max_files, max_bytes=max_bytes):
            shown = Chunk(f"{check}:{chunk.id}", chunk.parts) if check else chunk
            planned.append(CheckChunk(check, shown, matching))
    if len(groups) > 1:
        planned.sort(key=lambda item: (sort_key(item.chunk.parts[0].path), item.chunk.parts[0].part))
    return tuple(planned)


RULES_HEADING = "House rules for these files (from the repository's configuration; report a violation as a finding):"


def instructions_with_rules(instructions: str, rules: Sequence[PathRule]) -> str:
    """The check's instructions, then the house rules of the chunk's files; unchanged without rules."""
    if not rules:
        return instructions
    listed = "\n".join(f"- {' '.join(rule.instructions.split())}" for rule in rules)
    return f"{instructions}\n\n{RULES_HEADING}\n{listed}"

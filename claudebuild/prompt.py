"""What one `claude -p` call is asked: instructions, the findings schema, and the numbered content.

File content goes on stdin (argv is limited to ~128 KiB), each file under a
header naming its repo-relative path and line range, each line prefixed with
its true 1-based number so findings can be located and checked exactly.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import orjson

from claudebuild.chunk import part_line_ranges, split_lines
from claudebuild.config import Config
from claudebuild.hashing import ContentHasher, digest_json, hash_bytes, stat_signature
from claudebuild.model import SEVERITIES, Chunk, SentFile

PROMPT_VERSION = "1"
"""Bump when the prompt format or schema changes meaning: every chunk is re-analyzed."""

FINDINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["findings"],
    "properties": {
        "findings": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["file", "line", "end_line", "severity", "category", "title", "message", "quote"],
                "properties": {
                    "file": {"type": "string", "description": "repo-relative path exactly as in the FILE header"},
                    "line": {"type": "integer", "minimum": 1},
                    "end_line": {"type": "integer", "minimum": 1},
                    "severity": {"type": "string", "enum": list(SEVERITIES)},
                    "category": {"type": "string", "description": "short rule id, e.g. security/sql-injection"},
                    "title": {"type": "string"},
                    "message": {"type": "string"},
                    "quote": {"type": "string", "description": "the flagged code, verbatim"},
                },
            },
        }
    },
}


def findings_schema_json() -> str:
    return orjson.dumps(FINDINGS_SCHEMA).decode()


def answer_key(config: Config) -> dict[str, Any]:
    """Everything that changes what Claude answers; a change re-analyzes every chunk."""
    return {
        "prompt_version": PROMPT_VERSION,
        "model": config.model,
        "instructions_digest": hash_bytes(config.instructions.encode()),
        "system_prompt_digest": hash_bytes(config.system_prompt.encode()),
        "schema_digest": digest_json(FINDINGS_SCHEMA),
        "max_turns": config.max_turns,
    }


@dataclass(frozen=True)
class Payload:
    """The stdin text for one chunk plus a record of exactly what it contains."""

    text: str
    sent: tuple[SentFile, ...]


def file_header(path: str, start: int, end: int, total: int) -> str:
    return f"### FILE {path} (lines {start}-{end} of {total})"


def number_lines(lines: list[str], start: int) -> str:
    return "".join(f"{number:>6}\t{line}\n" for number, line in enumerate(lines, start))


class ContentSource(Protocol):
    """Where a chunk's bytes come from: the working tree, or the git index for pre-commit."""

    def read(self, path: str) -> bytes: ...


class WorkingTree:
    """Files as they are on disk; each read also primes the hasher, so the up-to-date
    check after the call does not read the file again."""

    def __init__(self, root: Path, hasher: ContentHasher) -> None:
        self.root = root
        self.hasher = hasher

    def read(self, path: str) -> bytes:
        absolute = self.root / path
        signature = stat_signature(os.stat(absolute))
        data = absolute.read_bytes()
        self.hasher.remember(os.fspath(absolute), signature, hash_bytes(data))
        return data


def build_payload(chunk: Chunk, source: ContentSource) -> Payload:
    """Read the chunk's files once and render them; the hashes describe these very bytes."""
    sections: list[str] = []
    sent: list[SentFile] = []
    for part in chunk.parts:
        data = source.read(part.path)
        text = data.decode("utf-8", errors="replace")
        lines = split_lines(text)
        total = len(lines)
        if part.is_whole_file:
            start, end = 1, total
        else:
            ranges = part_line_ranges(text, part.parts)
            if part.part > len(ranges):
                start, end = total + 1, total  # this part vanished with an edit: send nothing
            else:
                start, end = ranges[part.part - 1]
        sections.append(file_header(part.path, start, end, total) + "\n" + number_lines(lines[start - 1 : end], start))
        sent.append(SentFile(path=part.path, hash=hash_bytes(data), start_line=start, end_line=end, total_lines=total))
    return Payload(text="".join(sections), sent=tuple(sent))


def build_instructions(config: Config, chunk: Chunk) -> str:
    names = ", ".join(chunk.paths)
    return f"{config.instructions}\n\nFiles in this review: {names}"

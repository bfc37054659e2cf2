"""What a shared remote cache holds for one chunk: its key and its value, and the strict check on read.

The key is the sha256 of everything that makes a result valid: the answer key (prompt version,
model, schema, turns), the full instructions and system prompt, the chunk id, and per file the
sha256 of exactly the numbered (and redacted) text sent with its line range. sha256, not the
local cache's xxhash: a team shares this cache, and a fast 64-bit hash is not built to stop
someone from crafting a colliding file.

The value is the chunk's result without anything machine-local (no session id, no working
directory, no run id, no timestamps) and without a secret: the model only ever saw redacted
lines, and the entry is scanned once more before it leaves. Anyone who can write to the cache
could write anything, so an entry is used only when every field has the expected type and
range, it names the key it was asked for, it is for this chunk and these settings, and every
finding points at a file and a line that were sent; otherwise it is ignored as if absent.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from claudebuild.model import SEVERITIES, Chunk, ChunkResult, SentFile
from claudebuild.config import Config
from claudebuild.pipeline.prompt import Payload, answer_key, system_prompt
from claudebuild.pipeline.report import MAX_TEXT, validate_finding

SCHEMA = "claudebuild-remote-result/1"
REMOTE = "remote"
"""`ChunkResult.origin` of a result taken from the remote cache."""
MAX_ENTRY_BYTES = 4 * 1024 * 1024
"""A chunk's findings are kilobytes; anything larger is not an entry we wrote."""
MAX_FINDINGS = 2_000
MAX_COST_USD = 1_000.0
MAX_VERSION = 64
ENTRY_KEYS = frozenset({"schema", "key", "chunk", "findings", "cost_usd", "input_tokens", "output_tokens", "duration_ms",
                        "cli_version"})
FINDING_KEYS = ("file", "line", "end_line", "severity", "category", "title", "message", "quote")


@dataclass(frozen=True)
class RemoteHit:
    """The shareable part of a cached result: the model's findings and what they cost to get."""

    raw_findings: tuple[dict[str, Any], ...]
    cost_usd: float
    input_tokens: int
    output_tokens: int
    duration_ms: int
    cli_version: str = ""


def sha256_text(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def entry_key(answer: Mapping[str, Any], instructions: str, system_prompt: str, chunk: Chunk, payload: Payload) -> str:
    """The hex sha256 naming this chunk's result in the cache (`<url>/ac/<key>`)."""
    material = {
        "schema": SCHEMA,
        "answer_key": dict(answer),
        "instructions_sha256": sha256_text(instructions),
        "system_prompt_sha256": sha256_text(system_prompt),
        "chunk": chunk.id,
        "sent": [[s.path, s.start, s.end, s.total, sha256_text(s.body)] for s in payload.sections],
    }
    return hashlib.sha256(orjson.dumps(material, option=orjson.OPT_SORT_KEYS)).hexdigest()


def remote_key(config: Config, chunk: Chunk, payload: Payload) -> str:
    """`entry_key` for a run with these settings."""
    return entry_key(answer_key(config), config.instructions, system_prompt(config), chunk, payload)


def encode_entry(key: str, result: ChunkResult, chunk: Chunk, sent: tuple[SentFile, ...]) -> bytes:
    """The value to upload: only findings that point into what was sent (an entry with any other is
    refused on read), and no machine-local field."""
    findings = [_clean_finding(_trimmed(raw)) for raw in result.raw_findings]
    kept = [raw for raw in findings if raw is not None and validate_finding(raw, chunk, sent)[0] is not None]
    entry = {
        "schema": SCHEMA,
        "key": key,
        "chunk": chunk.id,
        "findings": kept,
        "cost_usd": round(float(result.cost_usd), 6),
        "input_tokens": int(result.input_tokens),
        "output_tokens": int(result.output_tokens),
        "duration_ms": int(result.duration_ms),
        "cli_version": result.cli_version[:MAX_VERSION],
    }
    return orjson.dumps(entry, option=orjson.OPT_SORT_KEYS)


def decode_entry(data: bytes, key: str, chunk: Chunk, sent: tuple[SentFile, ...]) -> RemoteHit | None:
    """The hit an entry holds, or None when anything about it is not what this chunk's entry must be."""
    if len(data) > MAX_ENTRY_BYTES:
        return None
    try:
        entry = orjson.loads(data)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(entry, dict) or set(entry) != ENTRY_KEYS:
        return None
    if entry["schema"] != SCHEMA or entry["key"] != key or entry["chunk"] != chunk.id:
        return None
    numbers = [entry["input_tokens"], entry["output_tokens"], entry["duration_ms"]]
    if not all(_whole(number) for number in numbers) or not _cost(entry["cost_usd"]):
        return None
    version = entry["cli_version"]
    if not isinstance(version, str) or len(version) > MAX_VERSION or not version.isprintable():
        return None
    findings = entry["findings"]
    if not isinstance(findings, list) or len(findings) > MAX_FINDINGS:
        return None
    cleaned: list[dict[str, Any]] = []
    for raw in findings:
        item = _clean_finding(raw)
        if item is None or item != raw or validate_finding(item, chunk, sent)[0] is None:
            return None  # one finding out of place, and nothing else in the entry can be trusted either
        cleaned.append(item)
    return RemoteHit(tuple(cleaned), float(entry["cost_usd"]), entry["input_tokens"], entry["output_tokens"],
                     entry["duration_ms"], version)


def hit_result(hit: RemoteHit, chunk: Chunk, sent: tuple[SentFile, ...], *, run_id: str, model: str,
               answer_digest: str, bytes_sent: int, at: str) -> ChunkResult:
    """The local result for a remote hit: stored like a fresh one (keyed to the bytes here), with no session."""
    return ChunkResult(chunk=chunk.id, status="ok", raw_findings=hit.raw_findings, model=model, cost_usd=hit.cost_usd,
                       input_tokens=hit.input_tokens, output_tokens=hit.output_tokens, duration_ms=hit.duration_ms,
                       started_at=at, finished_at=at, run_id=run_id, attempts=0, answer_digest=answer_digest,
                       bytes_sent=bytes_sent, sent=sent, origin=REMOTE, cli_version=hit.cli_version)


def _clean_finding(raw: Any) -> dict[str, Any] | None:
    """A finding with exactly the schema's keys and types, or None."""
    if not isinstance(raw, dict):
        return None
    item: dict[str, Any] = {key: raw.get(key) for key in FINDING_KEYS}
    if not all(_whole(item[key]) and item[key] >= 1 for key in ("line", "end_line")):
        return None
    if item["severity"] not in SEVERITIES:
        return None
    texts = [item[key] for key in FINDING_KEYS[4:]]
    if not all(isinstance(text, str) and len(text) <= MAX_TEXT for text in texts):
        return None
    return item


def _trimmed(raw: Any) -> Any:
    """Texts as the report keeps them (stripped, at most `MAX_TEXT`), so a long message is not a reason to refuse,
    and a missing `end_line` as the report reads it, the finding's `line`: the findings schema stopped asking for
    it (prompt version 5), so most findings come without one, and an entry always carries it."""
    if not isinstance(raw, dict):
        return raw
    trimmed = {key: value.strip()[:MAX_TEXT] if key in FINDING_KEYS[4:] and isinstance(value, str) else value
               for key, value in raw.items()}
    if "end_line" not in trimmed:
        trimmed["end_line"] = trimmed.get("line")
    return trimmed


def _whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53


def _cost(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
            and 0 <= value <= MAX_COST_USD)

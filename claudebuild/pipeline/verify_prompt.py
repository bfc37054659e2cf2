"""What a verification call is asked: one finding, the flagged file as the reviewer saw it, a verdict schema.

A second, independent call (no shared session) judges each finding: models report plausible-looking
problems that the code does not have, and a reviewer that must defend one finding against the code
refutes many of them. The finding is the first call's output, so it is untrusted text too: it is
fenced like the file, with the same per-call boundary, and the system prompt's rule about fenced
content applies to both.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson

from claudebuild.hashing import digest_json, hash_bytes
from claudebuild.model import SEVERITIES, Finding
from claudebuild.pipeline.prompt import Payload, new_boundary

VERIFY_PROMPT_VERSION = "2"
"""Bump when the verification prompt or schema changes meaning: every finding is verified again."""

CONFIRMED, REFUTED, UNCERTAIN = "confirmed", "refuted", "uncertain"
VERDICTS = (CONFIRMED, REFUTED, UNCERTAIN)

VERDICT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["verdict", "reason"],
    "properties": {
        "verdict": {"type": "string", "enum": list(VERDICTS)},
        "reason": {"type": "string", "description": "one or two sentences: why, citing the code"},
    },
}

VERIFY_INSTRUCTIONS = """\
Another reviewer reported the finding below about the file that follows it. Decide independently, \
from the code alone, whether the finding is real. Answer `confirmed` when the code has the problem \
as described at that place, `refuted` when it does not (for example the flagged text is a comment, \
dead code, already guarded, or the description does not match the code), and `uncertain` when the \
code shown is not enough to decide. \
Give a short `reason` that cites the code. Answer only by calling the StructuredOutput tool."""

FINDING_FIELDS = ("file", "line", "end_line", "severity", "category", "title", "message", "quote")


def verdict_schema_json() -> str:
    return orjson.dumps(VERDICT_SCHEMA).decode()


def verify_answer_key(model: str, system_prompt: str) -> dict[str, Any]:
    """Everything that changes a verdict besides the finding and the file: a change re-verifies every finding."""
    return {
        "verify_prompt_version": VERIFY_PROMPT_VERSION,
        "model": model,
        "instructions_digest": hash_bytes(VERIFY_INSTRUCTIONS.encode()),
        "system_prompt_digest": hash_bytes(system_prompt.encode()),
        "schema_digest": digest_json(VERDICT_SCHEMA),
    }


def finding_fields(finding: Finding) -> dict[str, Any]:
    return {name: getattr(finding, name) for name in FINDING_FIELDS}


def verdict_key(finding: Finding, file_hash: str, answer_digest: str) -> str:
    """The cache key of one verdict: the finding as validated, the flagged file's content, the verify settings."""
    return digest_json({"finding": finding_fields(finding), "file_hash": file_hash, "answer": answer_digest})


def needs_verification(finding: Finding, min_severity: str) -> bool:
    return SEVERITIES.index(finding.severity) <= SEVERITIES.index(min_severity)


def finding_fence(boundary: str) -> str:
    return f"<<<{boundary} FINDING>>>"


def end_finding_fence(boundary: str) -> str:
    return f"<<<{boundary} END FINDING>>>"


@dataclass(frozen=True)
class Verdict:
    """One stored verdict; `run_id` says whether it was paid for this run."""

    verdict: str
    reason: str = ""
    cost_usd: float = 0.0
    run_id: str = ""
    model: str = ""


def build_verify_stdin(finding: Finding, payload: Payload, boundary: str | None = None) -> str:
    """The user message of one verification: instructions, the boundary, the fenced finding, the fenced file."""
    boundary = boundary or new_boundary()
    shown = orjson.dumps(finding_fields(finding), option=orjson.OPT_INDENT_2).decode()
    while payload.holds(boundary) or boundary in shown:
        boundary = new_boundary()
    return (f"{VERIFY_INSTRUCTIONS}\n\nFence boundary: {boundary}\n\n{finding_fence(boundary)}\n{shown}\n"
            f"{end_finding_fence(boundary)}\n\n{payload.render(boundary)}")

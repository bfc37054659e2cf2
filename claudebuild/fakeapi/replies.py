"""Deciding what the fake model answers to one messages request.

Pure: request body (+ the fault that applies, if any) -> `Reply`. With the
`StructuredOutput` tool offered, the answer is one tool call carrying the
reviewer's findings, as a well-behaved model would give; without it (a
follow-up question on a resumed session) a deterministic text that proves
the conversation history arrived. Fault effects that change the *content*
(text_only, invalid_tool_input, findings) are applied here; transport
effects (errors, hangs, broken streams) belong to the server.
"""

from __future__ import annotations

import json
from typing import Any

from claudebuild.fakeapi.conversation import (
    STRUCTURED_OUTPUT_TOOL,
    last_question,
    offers_structured_output,
    request_chars,
    tokens_for,
    user_text,
)
from claudebuild.fakeapi.faults import Fault
from claudebuild.fakeapi.directives import rules_for
from claudebuild.fakeapi.reviewer import files_in, review
from claudebuild.fakeapi.verifier import verdict_for, wants_verdict
from claudebuild.fakeapi.sse import Reply, Usage

MAX_LISTED_FINDINGS = 50
"""The text summary lists at most this many findings, so huge sessions stay readable."""


def _summary(text: str, findings: list[dict[str, Any]]) -> str:
    files = files_in(text)
    lines = [f"Fake reviewer: the conversation contains {len(files)} file(s)"
             + (f" ({', '.join(files)})" if files else "") + f" with {len(findings)} finding(s)."]
    for finding in findings[:MAX_LISTED_FINDINGS]:
        lines.append(f"- {finding['file']}:{finding['line']} {finding['severity']} {finding['category']}: "
                     f"{finding['title']}")
    if len(findings) > MAX_LISTED_FINDINGS:
        lines.append(f"- … and {len(findings) - MAX_LISTED_FINDINGS} more")
    return "\n".join(lines)


def text_answer(body: dict[str, Any]) -> str:
    """Summary of the files and findings in the conversation plus an echo of the last question."""
    text = user_text(body)
    answer = _summary(text, review(text))
    question = last_question(body)
    if question and not files_in(question):
        answer += f"\nYou asked: {question}"
    return answer


def invalid_findings(text: str) -> dict[str, Any]:
    """Tool input that violates the review schema: an item missing required keys, line 0."""
    files = files_in(text)
    return {"findings": [{"file": files[0] if files else "unknown", "line": 0, "note": "schema-invalid (fake)"}]}


def build_reply(body: dict[str, Any], seq: int, fault: Fault | None = None) -> Reply:
    """The assistant message for request number `seq` (ids are derived from it, so runs are reproducible)."""
    model = body["model"] if isinstance(body.get("model"), str) else "claude-fake"
    text = user_text(body)
    wants_tool = offers_structured_output(body) and not (fault is not None and fault.text_only)
    if wants_tool:
        if fault is not None and fault.invalid_tool_input:
            tool_input: dict[str, Any] = invalid_findings(text)
        elif fault is not None and fault.findings is not None:
            tool_input = {"findings": list(fault.findings)}
        elif wants_verdict(body):
            tool_input = dict(verdict_for(text))
        else:
            tool_input = {"findings": review(text, rules_for(text))}
        block: dict[str, Any] = {"type": "tool_use", "id": f"toolu_fake{seq:016d}",
                                 "name": STRUCTURED_OUTPUT_TOOL, "input": tool_input}
        output_chars, stop_reason = len(json.dumps(tool_input)), "tool_use"
    else:
        if offers_structured_output(body):
            findings = review(text)
            answer = (f"I reviewed {len(files_in(text))} file(s) and found {len(findings)} finding(s), "
                      "but I am answering in plain text instead of calling the StructuredOutput tool.")
        else:
            answer = text_answer(body)
        block = {"type": "text", "text": answer}
        output_chars, stop_reason = len(answer), "end_turn"
    usage = Usage(tokens_for(request_chars(body)), tokens_for(output_chars))
    return Reply(f"msg_fake{seq:016d}", model, (block,), stop_reason, usage)

"""Turning an assistant reply into Messages API bytes: SSE events or one JSON object.

The CLI streams (`"stream": true`) and parses the event sequence strictly,
so this module reproduces the real order: `message_start` (with usage),
per block `content_block_start` / deltas / `content_block_stop`, then
`message_delta` (stop_reason + usage) and `message_stop`. Kept separate
from HTTP so the event shapes are testable as plain data.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

DELTA_SIZE = 64
"""Characters per text/input_json delta: small enough that every reply is split into several deltas."""


@dataclass(frozen=True)
class Usage:
    """Token counts reported to the CLI; cache fields are always zero."""

    input_tokens: int
    output_tokens: int

    def to_dict(self) -> dict[str, int]:
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
        }


@dataclass(frozen=True)
class Reply:
    """One assistant message: content blocks (API shape), stop reason, usage."""

    message_id: str
    model: str
    content: tuple[dict[str, Any], ...]
    stop_reason: str
    usage: Usage

    def to_message(self) -> dict[str, Any]:
        """The non-streaming response body."""
        return {
            "id": self.message_id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": list(self.content),
            "stop_reason": self.stop_reason,
            "stop_sequence": None,
            "usage": self.usage.to_dict(),
        }


Event = tuple[str, dict[str, Any]]


def _pieces(text: str, size: int = DELTA_SIZE) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)] or [""]


def _block_events(index: int, block: dict[str, Any]) -> list[Event]:
    start: dict[str, Any]
    if block["type"] == "text":
        start = {"type": "text", "text": ""}
        deltas = [{"type": "text_delta", "text": piece} for piece in _pieces(block["text"])]
    elif block["type"] == "tool_use":
        start = {"type": "tool_use", "id": block["id"], "name": block["name"], "input": {}}
        encoded = json.dumps(block["input"], ensure_ascii=False)
        deltas = [{"type": "input_json_delta", "partial_json": piece} for piece in _pieces(encoded)]
    else:
        raise ValueError(f"unsupported content block type {block['type']!r}")
    events: list[Event] = [("content_block_start", {"type": "content_block_start", "index": index,
                                                    "content_block": start})]
    events += [("content_block_delta", {"type": "content_block_delta", "index": index, "delta": d}) for d in deltas]
    events.append(("content_block_stop", {"type": "content_block_stop", "index": index}))
    return events


def reply_events(reply: Reply) -> list[Event]:
    """The full SSE event sequence for `reply`, in the order the real API sends it."""
    start_message = reply.to_message() | {"content": [], "stop_reason": None,
                                          "usage": Usage(reply.usage.input_tokens, 1).to_dict()}
    events: list[Event] = [("message_start", {"type": "message_start", "message": start_message})]
    for index, block in enumerate(reply.content):
        events += _block_events(index, block)
    events.append(("message_delta", {"type": "message_delta",
                                     "delta": {"stop_reason": reply.stop_reason, "stop_sequence": None},
                                     "usage": reply.usage.to_dict()}))
    events.append(("message_stop", {"type": "message_stop"}))
    return events


def encode_event(name: str, data: dict[str, Any]) -> bytes:
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n".encode()


def encode_events(events: list[Event]) -> bytes:
    return b"".join(encode_event(name, data) for name, data in events)


def malformed_stream(reply: Reply) -> bytes:
    """A stream that breaks mid-JSON: the reply's first events, then half of a delta event.

    The server sends this and then drops the connection, which is what a
    proxy cutting a long stream looks like to the client.
    """
    events = reply_events(reply)
    head = encode_events(events[:2])
    delta = next((encode_event(n, d) for n, d in events if n == "content_block_delta"), encode_event(*events[-1]))
    return head + delta[: max(len(b"event: content_block_delta\ndata: {") + 5, len(delta) // 2)]


def error_body(error_type: str, message: str) -> bytes:
    """The Anthropic error envelope."""
    return json.dumps({"type": "error", "error": {"type": error_type, "message": message}}).encode()

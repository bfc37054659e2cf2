"""Reading a Messages API request body: user text, offered tools, the last question.

The CLI puts the prompt and stdin into text blocks of user messages (first a
`<system-reminder>` block); resumed sessions add earlier turns, tool results
and synthetic user text. These helpers accept any shape the API accepts
(string content or block lists) and never raise on odd input, because the
fake must answer whatever the CLI sends and let the test look at it.
"""

from __future__ import annotations

import math
from typing import Any

STRUCTURED_OUTPUT_TOOL = "StructuredOutput"
REMINDER_PREFIX = "<system-reminder>"


def _block_texts(content: Any) -> list[str]:
    """Texts of one message's content: text blocks and (textual) tool results."""
    if isinstance(content, str):
        return [content]
    texts: list[str] = []
    if not isinstance(content, list):
        return texts
    for block in content:
        if not isinstance(block, dict):
            continue
        if block.get("type") == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif block.get("type") == "tool_result":
            texts.extend(_block_texts(block.get("content")))
    return texts


def user_messages(body: dict[str, Any]) -> list[Any]:
    messages = body.get("messages")
    if not isinstance(messages, list):
        return []
    return [m.get("content") for m in messages if isinstance(m, dict) and m.get("role") == "user"]


def user_text(body: dict[str, Any]) -> str:
    """All user text of the request, blocks joined by newlines (what faults match and the reviewer reads)."""
    return "\n".join(text for content in user_messages(body) for text in _block_texts(content))


def last_question(body: dict[str, Any]) -> str:
    """The last user text that is not a system reminder (the follow-up question of a resumed session)."""
    for content in reversed(user_messages(body)):
        for text in reversed(_block_texts(content)):
            if text.strip() and not text.lstrip().startswith(REMINDER_PREFIX):
                return text.strip()
    return ""


def tool_names(body: dict[str, Any]) -> list[str]:
    tools = body.get("tools")
    if not isinstance(tools, list):
        return []
    return [t["name"] for t in tools if isinstance(t, dict) and isinstance(t.get("name"), str)]


def offers_structured_output(body: dict[str, Any]) -> bool:
    return STRUCTURED_OUTPUT_TOOL in tool_names(body)


def _string_chars(value: Any) -> int:
    if isinstance(value, str):
        return len(value)
    if isinstance(value, dict):
        return sum(_string_chars(v) for v in value.values())
    if isinstance(value, list):
        return sum(_string_chars(v) for v in value)
    return 0


def request_chars(body: dict[str, Any]) -> int:
    """Characters of text the model would read: system prompt, messages and tool definitions."""
    return sum(_string_chars(body.get(key)) for key in ("system", "messages", "tools"))


def tokens_for(chars: int) -> int:
    """The fake tokenizer: one token per 4 characters, at least 1 so costs are never zero."""
    return max(1, math.ceil(chars / 4))

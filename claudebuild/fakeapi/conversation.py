"""Reading a Messages API request body: user text, offered tools, the last question.

The CLI puts the prompt and stdin into text blocks of user messages (first
`<system-reminder>` blocks); resumed sessions add earlier turns, tool results
and synthetic user text, in a shape that differs between CLI versions (see
`last_question`). These helpers accept any shape the API accepts
(string content or block lists) and never raise on odd input, because the
fake must answer whatever the CLI sends and let the test look at it.
"""

from __future__ import annotations

import math
import re
from typing import Any

STRUCTURED_OUTPUT_TOOL = "StructuredOutput"
REMINDER_RE = re.compile(r"<system-reminder>.*?(?:</system-reminder>|\Z)", re.DOTALL)
"""A reminder the CLI adds (environment, model, date, token budget), wherever it sits in a text block."""


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


def _own_texts(content: Any) -> list[str]:
    """A user message's own words: its text blocks with reminders cut out, never a tool_result's content."""
    if isinstance(content, str):
        content = [{"type": "text", "text": content}]
    if not isinstance(content, list):
        return []
    texts = (block.get("text") for block in content if isinstance(block, dict) and block.get("type") == "text")
    return [cleaned for text in texts if isinstance(text, str) and (cleaned := REMINDER_RE.sub("", text).strip())]


def last_question(body: dict[str, Any]) -> str:
    """The follow-up question of a resumed session: the user's own text in the last message, after an
    assistant turn; "" when there is none (a first call is a review, not a question).

    The CLI versions differ. 2.1.197 replays the tool_result with a synthetic "Continue from where you
    left off.", a synthetic assistant "No response requested." and then the question as a user message
    of its own; 2.1.332 puts the question as a text block beside the replayed tool_result, in the same
    user message (and appends a reminder to the tool_result's content). Both are "assistant turn present
    + new text in the last user message", which is what this looks for.
    """
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return ""
    last = messages[-1]
    answered = any(isinstance(m, dict) and m.get("role") == "assistant" for m in messages[:-1])
    if not (answered and isinstance(last, dict) and last.get("role") == "user"):
        return ""
    texts = _own_texts(last.get("content"))
    return texts[-1] if texts else ""


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

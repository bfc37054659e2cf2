"""Put each finding on the exact line its quote stands on.

The prompt marks only every tenth line with its number (`prompt.number_lines`), so a model
counts from the nearest mark and may be a line or two off; every finding also quotes the
flagged line, and that quote is exact evidence. So, right after a call, each raw finding whose
quote stands on a line that was sent is moved to the occurrence nearest to the line the model
gave (a model's line is a good guess, its quote is the proof); `end_line` moves with it. A
finding whose quote is on no line sent keeps the model's line (the report then marks it
unverified). Results are stored with the exact lines, so the cache, the remote cache, reports
and `ask` all see the same numbers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

_MARK = re.compile(r"^\s*\d+\|")
"""A model that copies a mark (`40|`) into its quote still quotes the code after it."""
_SPACE = re.compile(r"\s+")


def quoted_line(quote: str) -> str:
    """The first non-blank line of a quote, without a copied mark, whitespace collapsed ("" if none)."""
    for line in quote.split("\n"):
        text = _SPACE.sub(" ", _MARK.sub("", line)).strip()
        if text:
            return text
    return ""


def nearest_line(wanted: str, start: int, lines: Sequence[str], guess: int) -> int | None:
    """The 1-based number of the line holding `wanted` nearest to `guess` (the earlier on a tie), or None.

    `lines[0]` is line `start`. A line equal to the quote beats one that merely contains it, so a
    quote of a whole line is never pulled onto a longer line that happens to include it.
    """
    if not wanted:
        return None
    equal: list[int] = []
    within: list[int] = []
    for number, line in enumerate(lines, start):
        text = _SPACE.sub(" ", line).strip()
        if text == wanted:
            equal.append(number)
        elif wanted in text:
            within.append(number)
    candidates = equal or within
    return min(candidates, key=lambda number: (abs(number - guess), number)) if candidates else None


def locate_findings(findings: Iterable[Any], sections: Mapping[str, tuple[int, Sequence[str]]]) -> tuple[Any, ...]:
    """`findings` (raw, as the model gave them) with `line`/`end_line` moved to where each quote stands.

    `sections` maps each path sent to (its first line number, its lines as sent, unmarked). Anything
    that is not a well-formed finding is passed through untouched: validation judges it later.
    """
    located: list[Any] = []
    for raw in findings:
        located.append(_located(raw, sections) if isinstance(raw, dict) else raw)
    return tuple(located)


def _located(raw: dict[str, Any], sections: Mapping[str, tuple[int, Sequence[str]]]) -> dict[str, Any]:
    path, line, quote = raw.get("file"), raw.get("line"), raw.get("quote")
    if not isinstance(path, str) or path not in sections or not isinstance(quote, str):
        return raw
    guess = line if isinstance(line, int) and not isinstance(line, bool) else 0
    start, lines = sections[path]
    found = nearest_line(quoted_line(quote), start, lines, guess)
    if found is None or found == guess:
        return raw
    end_line = raw.get("end_line")
    span = len(quote.strip().split("\n")) - 1
    if isinstance(end_line, int) and not isinstance(end_line, bool) and guess >= 1 and end_line > guess:
        span = max(span, end_line - guess)
    last = start + len(lines) - 1
    return {**raw, "line": found, "end_line": min(found + span, last)}

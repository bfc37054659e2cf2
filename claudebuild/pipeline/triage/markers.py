"""Inline suppression markers: `claudebuild: ignore[rules] reason` in a comment of any language.

Two stages read them: fingerprints ignore them (adding one must not change what a finding
is) and suppressions obey them; the one grammar lives here so the two cannot drift.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_INLINE = re.compile(r"claudebuild:\s*ignore\[([^\]]*)\]([^\n]*)", re.IGNORECASE)
_COMMENT_END = re.compile(r"\s*(\*/|-->|--%>|%>|#\}|%\})\s*$")
_MARKER_TAIL = re.compile(r"[ \t]*(?:#|//|/\*|<!--|--|;)?[ \t]*claudebuild:\s*ignore\[[^\]\n]*\][^\n]*", re.IGNORECASE)


@dataclass(frozen=True)
class InlineMarker:
    """One `claudebuild: ignore[rules] reason` found in a line."""

    rules: tuple[str, ...]
    reason: str


def inline_markers(line: str) -> list[InlineMarker]:
    """Every marker in `line`, whatever the comment syntax around it (`#`, `//`, `/* */`, `<!-- -->`, `--`)."""
    markers = []
    for match in _INLINE.finditer(line):
        rules = tuple(rule.strip() for rule in match.group(1).split(",") if rule.strip())
        reason = _COMMENT_END.sub("", match.group(2)).strip().lstrip("-–—:").strip()
        if rules:
            markers.append(InlineMarker(rules, reason))
    return markers


def without_markers(code: str) -> str:
    """`code` without inline `claudebuild: ignore[...]` comments (and their comment leader).

    Adding a suppression comment to the flagged line must not change the finding's
    identity: it would then look fixed (old fingerprint gone) instead of suppressed.
    """
    return _MARKER_TAIL.sub("", code)


def marker_lines(lines: Iterable[str]) -> frozenset[str]:
    """The stripped lines that hold an inline marker: what a trusted version of a file allows."""
    return frozenset(line.strip() for line in lines if "claudebuild" in line.lower() and inline_markers(line))

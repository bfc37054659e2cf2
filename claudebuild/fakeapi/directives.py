"""What the fake reviewer takes from a call's instructions, so that checks and house rules differ.

Real checks differ by their instructions; the fake model reads two plain-English forms from the
text before the first `Fence boundary:` line (never from the fenced files, so a file cannot steer it):

- `Report only security, error-handling findings.` keeps the rules whose category starts with one
  of those prefixes (a check's focus);
- ``Never use `print(` `` (backticks around the text) adds a `house-rule` finding on every line holding
  that text (a `[[rules]]` entry).
"""

from __future__ import annotations

import re

from claudebuild.fakeapi.reviewer import BOUNDARY_RE, RULES, Rule

FOCUS_RE = re.compile(r"\bReport only (?P<prefixes>[a-z0-9_\-/, ]+?) findings\b", re.IGNORECASE)
NEVER_USE_RE = re.compile(r"\bNever use `(?P<needle>[^`\n]+)`", re.IGNORECASE)
HOUSE_RULE_CATEGORY = "house-rule"


def instructions_of(text: str) -> str:
    """The text before the first fence boundary declaration: the instructions, not the files."""
    match = BOUNDARY_RE.search(text)
    return text[: match.start()] if match else ""


def rules_for(text: str, rules: tuple[Rule, ...] = RULES) -> tuple[Rule, ...]:
    """`rules` narrowed to the instructions' focus, plus one rule per house rule they state."""
    directives = instructions_of(text)
    focus = FOCUS_RE.search(directives)
    if focus:
        prefixes = {item.strip().lower().rstrip("/") for item in focus["prefixes"].split(",") if item.strip()}
        rules = tuple(rule for rule in rules if rule.category.split("/", 1)[0].lower() in prefixes)
    house = tuple(
        Rule(HOUSE_RULE_CATEGORY, "medium", f"House rule: never use {match['needle']}",
             f"The repository's rules for this file forbid {match['needle']}.", (re.compile(re.escape(match["needle"])),))
        for match in NEVER_USE_RE.finditer(directives)
    )
    return rules + house

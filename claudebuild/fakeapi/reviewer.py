"""A deterministic stand-in for the model: numbered chunk text -> findings.

Tests and the demo need answers that are predictable to the exact line, so
instead of a model we run a few regex rules over the source lines that
claudebuild sends. The rules are a data table (`RULES`) so a test that needs a
new kind of finding adds a row instead of new code. Everything here is pure:
no I/O, no HTTP, so it is unit-tested directly.

The input format is the one claudebuild writes to the CLI's stdin: a
`Fence boundary:` line naming this call's random token, then each file fenced
by lines carrying that token, every content line numbered::

    Fence boundary: cb-5f0c...
    <<<cb-5f0c... FILE "src/app/db.py" LINES 1-42 OF 42>>>
    1|import os
    2|password = "hunter2-secret"
    <<<cb-5f0c... END FILE>>>

Only fences with a declared boundary count, so a file line that imitates a
fence (it is numbered anyway) cannot open a section. Anything outside a file
section (the CLI's `<system-reminder>`, the instructions, follow-up questions)
is ignored.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

BOUNDARY_RE = re.compile(r"^Fence boundary: (?P<boundary>\S+)$", re.MULTILINE)
HEADER_RE = re.compile(r'^<<<(?P<boundary>\S+) FILE (?P<path>".*") LINES (?P<start>\d+)-(?P<end>\d+) OF (?P<total>\d+)>>>$')
"""The path is a JSON string, so it may hold spaces, quotes, parentheses and escaped newlines."""

NUMBERED_RE = re.compile(r"^(?P<n>[1-9]\d*)\|(?P<text>.*)$", re.DOTALL)
"""`f"{n}|{text}"` (prompt.number_lines), exactly: no padding, no leading zero, so a line is read
only if it is in the format claudebuild writes."""


@dataclass(frozen=True)
class SourceLine:
    """One source line recovered from the numbered chunk text."""

    file: str
    line: int
    text: str


@dataclass(frozen=True)
class Rule:
    """A finding produced when every pattern in `all_of` matches one source line.

    `all_of` is a conjunction because some rules ("execute( and string
    formatting") are much clearer as two small regexes than as one lookahead.
    """

    category: str
    severity: str
    title: str
    message: str
    all_of: tuple[re.Pattern[str], ...]

    def matches(self, text: str) -> bool:
        return all(pattern.search(text) for pattern in self.all_of)


@dataclass(frozen=True)
class ReviewFinding:
    """A finding in exactly the shape of the review JSON schema's items."""

    file: str
    line: int
    end_line: int
    severity: str
    category: str
    title: str
    message: str
    quote: str

    def to_dict(self) -> dict[str, object]:
        return asdict(self)


def _rule(category: str, severity: str, title: str, message: str, *patterns: str) -> Rule:
    return Rule(category, severity, title, message, tuple(re.compile(p) for p in patterns))


HOSTILE_MARKER = "HOSTILE-FINDING"
"""A source line holding this gets a finding written like an attacker-steered model would write it."""
HOSTILE_CATEGORY = "security/hostile-output\x1b[7m<b>`|"
HOSTILE_TITLE = "Model text \x1b]52;c;cHduZWQ=\x07with \x1b[31mescapes\x1b[0m\n::error file=x::pwned"
"""OSC 52 (sets the clipboard), a CSI colour, and a GitHub workflow command on a line of its own."""
HOSTILE_MESSAGE = ("![x](https://attacker.example/p.png) [click](https://attacker.example/login) "
                   "<https://attacker.example/auto> <script>alert(1)</script>\r\n##[error]legacy command "
                   "\u202eevil\u202c @everyone #1 \x9b2J")
"""An image and links (fetched or clickable in a posted report), raw HTML, a legacy `##[` command,
a bidi override, a mention, an issue reference and a C1 CSI that would clear the screen."""

RULES: tuple[Rule, ...] = (
    _rule(
        "security/eval", "high", "Use of eval()",
        "eval() executes arbitrary code, so any attacker-influenced input becomes code execution.",
        r"\beval\(",
    ),
    _rule(
        "security/shell-injection", "high", "Shell command built from input",
        "Running a command through the shell lets metacharacters in its arguments inject extra commands.",
        r"os\.system\(|subprocess\.\w+\(.*shell\s*=\s*True",
    ),
    _rule(
        "security/hardcoded-password", "high", "Hard-coded credential",
        "A credential in source code leaks to everyone who can read the repository and cannot be rotated safely.",
        r"(?i)\b(password|passwd|pwd|secret|api_key|apikey|token)\s*=\s*[\"'][^\"']{4,}[\"']",
    ),
    _rule(
        "security/sql-injection", "high", "SQL built with string formatting",
        "Formatting values into SQL text allows SQL injection; pass them as query parameters instead.",
        r"execute\(",
        # `"..." % x` (a space on one side of `%`, so `'%s'` placeholders of a parametrised query
        # do not count), `.format(`, an f-string prefix (also rf/fr), or `"..." +` concatenation.
        r"[\"']\s+%\s*[\w(\[{]|[\"']%\s+[\w(\[{]|\.format\(|(?<![\w])(?:[rR][fF]|[fF][rR]?)[\"']|[\"']\s*\+",
    ),
    _rule(
        "error-handling/bare-except", "medium", "Bare except",
        "A bare except also catches KeyboardInterrupt and SystemExit and hides real errors.",
        r"^\s*except\s*:",
    ),
    _rule(
        "maintainability/todo", "low", "Unresolved TODO/FIXME",
        "An unresolved TODO/FIXME marks known unfinished work that should be tracked or done.",
        r"\b(TODO|FIXME)\b",
    ),
    _rule(HOSTILE_CATEGORY, "high", HOSTILE_TITLE, HOSTILE_MESSAGE, re.escape(HOSTILE_MARKER)),
)


def parse_numbered(text: str) -> list[SourceLine]:
    """Recover (file, line, text) triples from chunk text; ignore everything else.

    A numbered line counts only inside a file section, only if its number
    lies in the header's range and only if it is the next number (lines are
    sent in order, none skipped), so stray text that happens to look numbered
    (instructions, reminders) cannot invent findings and a finding's line is
    exactly the line claudebuild numbered. Splitting on "\\n" only
    (not `splitlines`) keeps form feeds and other Unicode line breaks inside a
    source line, exactly as the chunker numbered them.
    """
    lines: list[SourceLine] = []
    boundaries = declared_boundaries(text)
    path: str | None = None
    expected = end = 0
    for raw in text.split("\n"):
        header = _fence(raw, boundaries)
        if header is not None:
            path, expected, end = header
            continue
        if path is None:
            continue
        numbered = NUMBERED_RE.match(raw)
        if numbered and int(numbered["n"]) == expected <= end:
            lines.append(SourceLine(path, expected, numbered["text"]))
            expected += 1
        else:
            path = None
    return lines


def declared_boundaries(text: str) -> frozenset[str]:
    """Every boundary a `Fence boundary:` line declares (a resumed session holds several calls)."""
    return frozenset(match["boundary"] for match in BOUNDARY_RE.finditer(text))


def _fence(raw: str, boundaries: frozenset[str]) -> tuple[str, int, int] | None:
    header = HEADER_RE.match(raw)
    if header is None or header["boundary"] not in boundaries:
        return None
    try:
        path = json.loads(header["path"])
    except ValueError:
        return None
    return (path, int(header["start"]), int(header["end"])) if isinstance(path, str) else None


def review_lines(lines: list[SourceLine], rules: tuple[Rule, ...] = RULES) -> list[ReviewFinding]:
    """Apply every rule to every line; duplicates (same text sent twice) collapse."""
    found: set[ReviewFinding] = set()
    for source in lines:
        for rule in rules:
            if rule.matches(source.text):
                found.add(
                    ReviewFinding(
                        file=source.file,
                        line=source.line,
                        end_line=source.line,
                        severity=rule.severity,
                        category=rule.category,
                        title=rule.title,
                        message=rule.message,
                        quote=source.text.strip(),
                    )
                )
    return sorted(found, key=lambda f: (f.file, f.line, f.category))


def review(text: str, rules: tuple[Rule, ...] = RULES) -> list[dict[str, object]]:
    """The reviewer's answer for `text`: schema-shaped finding dicts, sorted by (file, line, category)."""
    return [finding.to_dict() for finding in review_lines(parse_numbered(text), rules)]


def files_in(text: str) -> list[str]:
    """The distinct file paths that have file sections in `text`, in order of appearance."""
    boundaries = declared_boundaries(text)
    return list(dict.fromkeys(fence[0] for raw in text.split("\n") if (fence := _fence(raw, boundaries))))

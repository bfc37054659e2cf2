"""A deterministic stand-in for the model: numbered chunk text -> findings.

Tests and the demo need answers that are predictable to the exact line, so
instead of a model we run a few regex rules over the source lines that
claudebuild sends. The rules are a data table (`RULES`) so a test that needs a
new kind of finding adds a row instead of new code. Everything here is pure:
no I/O, no HTTP, so it is unit-tested directly.

The input format is the one claudebuild writes to the CLI's stdin: a
`Fence boundary:` line naming this call's random token, then each file after a
header line carrying that token, every tenth line marked with its number, one
end fence after the last file::

    Fence boundary: @@5f0cXq_2
    @@5f0cXq_2 "src/app/db.py"
    import os
    password = "hunter2-secret"
    ...
    10|def main():
    ...
    @@5f0cXq_2 "src/app/big.py" lines 101-200 of 350
    ...
    @@5f0cXq_2 end

It reads the lines like a model that counts from the nearest mark: from the
header's first line on, each mark must carry the number counted (else the text
is not claudebuild's and the section ends); a header without a range starts at
line 1 and runs to the next fence. Earlier formats (`<<<B FILE "path" LINES a-b
OF n>>>` headers, every line numbered, an end fence after each file) read the
same, so a resumed session of an older call still parses. Boundaries are declared
only outside a file, and inside one only its own boundary's fences count, so a
file line that imitates a fence or declares a boundary cannot open a section.
Anything outside a file section (the CLI's `<system-reminder>`, the
instructions, follow-up questions) is ignored.

A line holding `SLOPPY_MARKER` is reported at the nearest mark instead of its
own line, like a model that did not count: claudebuild must still put the
finding on the exact line (`pipeline/locate.py`, from the quote).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass

BOUNDARY_RE = re.compile(r"^Fence boundary: (?P<boundary>\S+)$", re.MULTILINE)
HEADER_RE = re.compile(r'^(?P<boundary>[^\s"]+) (?P<path>".*?)(?: lines (?P<start>\d+)-(?P<end>\d+) of (?P<total>\d+))?$')
"""`B "path"` or `B "path" lines a-b of n`. The path is a JSON string, so it may hold spaces, quotes,
parentheses, escaped newlines and even ` lines 1-2 of 3`: `_fence` decodes it and retries with the range
taken as part of the path when the shorter reading is not one JSON string."""
OLD_HEADER_RE = re.compile(r'^<<<(?P<boundary>\S+) FILE (?P<path>".*") LINES (?P<start>\d+)-(?P<end>\d+) OF (?P<total>\d+)>>>$')
"""The format before prompt version 5 (a resumed session replays older calls)."""
WHOLE_FILE_END = 1 << 62
"""A header without a range: the file runs to the next fence."""

MARK_EVERY = 10
"""prompt.LINE_MARK_EVERY: lines whose number is a multiple of this start with `f"{n}|"`."""
SLOPPY_MARKER = "SLOPPY-LINE"


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

    A line counts only inside a file section whose header has a declared boundary, and only up
    to the header's last line; a marked position must hold the mark `f"{n}|"` (no padding, no
    leading zero), so stray text (instructions, reminders) cannot invent findings and a finding's
    line is exactly the line claudebuild sent. Splitting on "\\n" only (not `splitlines`) keeps
    form feeds and other Unicode line breaks inside a source line, exactly as the chunker
    numbered them.
    """
    return _scan(text)[0]


def declared_boundaries(text: str) -> frozenset[str]:
    """Every boundary a `Fence boundary:` line outside the files declares (a resumed session holds several calls)."""
    return _scan(text)[1]


def _scan(text: str) -> tuple[list[SourceLine], frozenset[str]]:
    lines: list[SourceLine] = []
    declared: set[str] = set()
    path: str | None = None
    boundary = ""
    expected = end = 0
    for raw in text.split("\n"):
        if path is not None:
            if raw in (f"{boundary} end", f"<<<{boundary} END FILE>>>"):
                path = None
                continue
            header = _fence(raw, frozenset({boundary}))
            if header is not None:
                path, expected, end = header
                continue
            code = _content(raw, expected, end)
            if code is None:
                path = None
            else:
                lines.append(SourceLine(path, expected, code))
                expected += 1
            continue
        declaration = BOUNDARY_RE.fullmatch(raw)
        if declaration:
            declared.add(declaration["boundary"])
            continue
        header = _fence(raw, frozenset(declared))
        if header is not None:
            path, expected, end = header
            boundary = raw.removeprefix("<<<").split(" ", 1)[0]  # the boundary _fence matched
    return lines, frozenset(declared)


def _content(raw: str, number: int, end: int) -> str | None:
    """Line `number`'s code as sent in `raw`, or None when `raw` is not the next line in claudebuild's format."""
    if number > end:
        return None
    mark = f"{number}|"
    if raw.startswith(mark):
        return raw[len(mark):]  # a mark (or, in the old format, every line's number)
    return None if number % MARK_EVERY == 0 else raw


def _fence(raw: str, boundaries: frozenset[str]) -> tuple[str, int, int] | None:
    """(path, first line, last line) when `raw` is a file header with one of `boundaries`, else None."""
    header = OLD_HEADER_RE.match(raw) or HEADER_RE.match(raw)
    if header is None or header["boundary"] not in boundaries:
        return None
    path = _json_string(header["path"])
    if path is not None and header["start"] is not None:
        return path, int(header["start"]), int(header["end"])
    if path is None and header["start"] is not None:  # the range text is inside the quoted path
        path = _json_string(raw[len(header["boundary"]) + 1:])
    return (path, 1, WHOLE_FILE_END) if path is not None else None


def _json_string(text: str) -> str | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, str) else None


def review_lines(lines: list[SourceLine], rules: tuple[Rule, ...] = RULES) -> list[ReviewFinding]:
    """Apply every rule to every line; duplicates (same text sent twice) collapse."""
    found: set[ReviewFinding] = set()
    for source in lines:
        line = max(1, round(source.line / MARK_EVERY) * MARK_EVERY) if SLOPPY_MARKER in source.text else source.line
        for rule in rules:
            if rule.matches(source.text):
                found.add(
                    ReviewFinding(
                        file=source.file,
                        line=line,
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

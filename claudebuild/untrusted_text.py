"""Untrusted text made inert for the place it is shown: one small pure function per output context.

File content, file names, the model's findings and answers and the CLI's error
messages are written by someone else, and shown raw they can act: an escape
sequence recolours or clears the terminal, or sets the clipboard (OSC 52); a line
starting with `::` (or holding `##[`) in a CI log is a GitHub Actions workflow
command; a Markdown image fetches an attacker's URL as soon as a report is posted
as a comment; raw HTML runs in a browser; bidi override characters make a line
read differently from how it runs (Trojan Source). Every renderer and every
command that prints such text passes it through the function for its context.
These functions only remove, escape or quote; they never add live markup.

`clean` is the base of all of them: escape sequences and control characters go,
line breaks become `\\n`, bidi controls are made visible as `<U+202E>` (a reviewer
should see that a quoted line holds one), and characters no encoder or XML
parser accepts (lone surrogates, U+FFFE/U+FFFF) become U+FFFD.
"""

from __future__ import annotations

import html
import re
from typing import Any

_ESCAPE_SEQUENCE = re.compile(
    r"(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]"  # CSI: colours, cursor moves, erasing the screen
    r"|(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x00-\x1f\x7f-\x9f]*(?:\x07|\x1b\\|\x9c)"  # OSC/DCS/SOS/PM/APC ... BEL or ST
    r"|\x1b[\x20-\x2f]*[\x30-\x7e]"  # two-character escapes (ESC c resets the terminal); also an unterminated `ESC ]`
)
"""ECMA-48 sequences, removed whole so no parameter text is left behind. A string
sequence (OSC 52 clipboard, OSC 8 hyperlink, DCS) counts when BEL or ST ends it before
any other control character: an unterminated one loses only its introducer, and what
follows stays as text (a terminal would swallow it; a reader should see it)."""

_LINE_BREAK = re.compile(r"\r\n|[\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")
"""Everything `str.splitlines` breaks on: one kind of line end, so a line counted here is a line everywhere."""

_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""C0 (but tab and newline), DEL and C1: nothing shows them as text, terminals act on them."""

_BIDI = re.compile(r"[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
"""Bidi embeddings, overrides, isolates and marks: the Trojan Source characters."""

_NOT_TEXT = re.compile(r"[\ud800-\udfff\ufffe\uffff]")
"""Lone surrogates (JSON may decode to them; UTF-8 and XML cannot carry them) and the two noncharacters XML forbids."""


def clean(text: str) -> str:
    """The base for every context: no escape sequence, no control character but tab and `\\n`,
    visible bidi controls, only characters UTF-8, JSON and XML 1.0 all accept. Multi-line."""
    text = _ESCAPE_SEQUENCE.sub("", text)
    text = _LINE_BREAK.sub("\n", text)
    text = _CONTROL.sub("", text)
    text = _BIDI.sub(lambda match: f"<U+{ord(match.group()):04X}>", text)
    return _NOT_TEXT.sub("\ufffd", text)


def one_line(text: str) -> str:
    """`clean`, with every run of whitespace (line breaks included) one space: for one-line fields."""
    return " ".join(clean(text).split())


# -- terminals and CI logs -------------------------------------------------------------------------------

def _defuse(line: str) -> str:
    """A log line that is no workflow command. The runner strips leading whitespace and then
    takes a line starting with `::` as a command, and takes `##[name]` anywhere in a line as a
    legacy one (actions/runner ActionCommand.TryParseV2 / TryParse); a space in front would not
    help, so a backslash goes before the leading `::` and into every `##[`."""
    line = line.replace("##[", "##\\[")
    body = line.lstrip()
    return line[: len(line) - len(body)] + "\\" + body if body.startswith("::") else line


def terminal_text(text: str) -> str:
    """One field of a terminal or CI log line (a title, a path, an error): one line, no
    escape sequence, and unable to start a workflow command even at the start of a line."""
    return _defuse(one_line(text))


def terminal_block(text: str) -> str:
    """Several lines for a terminal or CI log (an `ask` answer): `clean`, every line defused."""
    return "\n".join(_defuse(line) for line in clean(text).split("\n"))


def workflow_data(text: str) -> str:
    """The message of a workflow command (after the second `::`): GitHub's data escaping, so
    a line break cannot end the command and start a line of its own, and no `##[` in the line."""
    return clean(text).replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A").replace("##[", "##\\[")


def workflow_property(text: str) -> str:
    """A `key=value` property of a workflow command: data escaping plus `:` and `,`, which
    end the properties and separate them."""
    return workflow_data(text).replace(":", "%3A").replace(",", "%2C")


# -- Markdown (report.md, the GitHub step summary, rdjson messages) ------------------------------------------

_MARKDOWN_PUNCTUATION = re.compile(r"[\\`*_\[\]|~$]")
"""Backslash-escaped: code spans, emphasis, links and images (`[`), table cells, strikethrough, GitHub math."""

_LINKISH = re.compile(r"://|www\.|@|#\d", re.IGNORECASE)
"""Words GitHub would turn into a link or a notification: bare URLs, e-mail addresses,
`@mentions` and `#123` references. Shown as code spans instead (see `markdown_text`)."""

_BLOCK_START = re.compile(r"^(?:[#>+\-=]|\d{1,9}(?=[.)]))")
"""What makes a heading, quote, list or setext underline when it starts a block (e.g. after `- `)."""


def markdown_code(text: str, *, in_table: bool = True) -> str:
    """`text` as one Markdown code span, so nothing in it is markup (`<b>` stays `<b>`, no
    entity is needed or wanted: inside a code span `&lt;` would show as `&lt;`). The fence is
    one backtick longer than the longest run inside; a leading or trailing backtick gets the
    space CommonMark strips again. In a table `|` must still be escaped, even in code."""
    body = one_line(text)
    if not body:
        return ""
    if in_table:
        body = body.replace("|", "\\|")
    fence = "`" * (max((len(run) for run in re.findall("`+", body)), default=0) + 1)
    pad = " " if body.startswith("`") or body.endswith("`") else ""
    return f"{fence}{pad}{body}{pad}{fence}"


def _markdown_word(word: str) -> str:
    return html.escape(_MARKDOWN_PUNCTUATION.sub(lambda match: "\\" + match.group(), word), quote=False)


def markdown_text(text: str) -> str:
    """`text` as inert inline Markdown on one line, safe in a table cell or after a list marker.

    Markdown syntax is backslash-escaped and `<`, `>`, `&` become entities, so images, links,
    raw HTML and emphasis render as the characters typed. Escaping is not enough for what
    GitHub links after parsing: e-mail autolinks (cmark-gfm's autolink extension scans the
    already unescaped text), `@mentions` and `#123` references (GitHub's filters run on the
    rendered HTML); a `\\:` or `&#58;` in a URL only defeats the URL autolinker by a parser
    detail. Code spans are skipped by all of them, so a word that looks like a URL, an
    address, a mention or a reference is shown as a code span: visibly quoted, never live."""
    words = [markdown_code(word) if _LINKISH.search(word) else _markdown_word(word) for word in one_line(text).split(" ")]
    joined = " ".join(words)
    start = _BLOCK_START.match(joined)
    if start is None:
        return joined
    cut = start.end() if start.group().isdigit() else 0
    return joined[:cut] + "\\" + joined[cut:]


# -- HTML, XML and JSON ---------------------------------------------------------------------------------------

def html_text(text: str) -> str:
    """HTML text or attribute value (double- or single-quoted): `clean`, then every markup character escaped."""
    return html.escape(clean(text), quote=True)


def xml_text(text: str) -> str:
    """XML 1.0 text or attribute content (the serialiser escapes markup): `clean` leaves only
    characters XML 1.0 allows, so the document stays well-formed whatever the model wrote."""
    return clean(text)


_SARIF_LINK = re.compile(r"[\[\]]|\\(?=[\[\]])")
"""Square brackets, and a backslash right before one: SARIF's embedded-link syntax."""


def sarif_text(text: str) -> str:
    """A SARIF message `text`: `clean`, with every square bracket backslash-escaped as SARIF
    (3.11.6) requires for literal brackets, so `[click](https://...)` is no embedded link a
    viewer such as code scanning may turn into a hyperlink. Multi-line."""
    return _SARIF_LINK.sub(lambda match: "\\" + match.group(), clean(text))


def json_strings(value: Any) -> Any:
    """A JSON-ready value with every string in it (keys too) `clean`ed: JSON itself escapes
    control characters, but the tools that read the file (reviewdog, GitLab, code scanning,
    a `jq` in a terminal) show the decoded strings."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return {json_strings(key): json_strings(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_strings(item) for item in value]
    return value

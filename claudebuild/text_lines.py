"""Line splitting shared by every stage that numbers lines (prompt, secrets, triage, reports)."""

from __future__ import annotations


def split_lines(text: str) -> list[str]:
    """The lines of `text` as editors, `grep -n` and the fake reviewer number them.

    Only "\\n" ends a line (unlike `str.splitlines`, which also splits at form
    feeds, "\\x1c".."\\x1e", "\\x85" and U+2028/2029 and so would shift every
    later line number); a final newline does not start another line, and the
    "\\r" of a CRLF ending is dropped.
    """
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]

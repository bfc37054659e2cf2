"""Stable, line-independent ids for findings.

Code-scanning services (GitHub, GitLab, reviewdog) match an alert across runs by a
fingerprint. Line numbers change whenever code is inserted above a finding, so the id
is built from what the finding is about instead: its category, its file and the code
it flags, with whitespace collapsed so re-indenting or re-wrapping does not change it.
"""

from __future__ import annotations

from collections.abc import Iterable

import xxhash

from claudebuild.model import Finding

FINGERPRINT_KEY = "claudebuild/v1"
"""Name under which the fingerprint is published (SARIF `partialFingerprints`); bump if the recipe changes."""


def normalise_code(text: str) -> str:
    """`text` with every run of whitespace collapsed to one space and the ends stripped."""
    return " ".join(text.split())


def fingerprint(finding: Finding, source_line: str | None = None) -> str:
    """16 hex chars identifying `finding` by (category, file, flagged code), never by line.

    The flagged code is the finding's quote, else `source_line` (the line it points at);
    when neither has any text the title stands in, marked as such so a title can never
    collide with code that happens to read the same.
    """
    code = normalise_code(finding.quote) or normalise_code(source_line or "")
    subject = f"code:{code}" if code else f"title:{normalise_code(finding.title)}"
    payload = "\0".join((normalise_code(finding.category).lower(), finding.file, subject))
    return xxhash.xxh3_64_hexdigest(payload.encode("utf-8", "surrogatepass"))


def unique_fingerprints(findings: Iterable[Finding]) -> tuple[str, ...]:
    """One fingerprint per finding, in order, with repeats made distinct by their occurrence.

    The same code flagged for the same reason twice in a file (a copied line) gives the
    same `fingerprint`; formats that need unique ids (GitLab, JUnit test names) get the
    n-th repeat hashed with its occurrence number, as GitHub does for its own line hashes.
    Inserting lines elsewhere keeps the order of the repeats, so the ids stay stable.
    """
    seen: dict[str, int] = {}
    result: list[str] = []
    for finding in findings:
        base = fingerprint(finding)
        count = seen.get(base, 0) + 1
        seen[base] = count
        result.append(base if count == 1 else xxhash.xxh3_64_hexdigest(f"{base}:{count}".encode()))
    return tuple(result)

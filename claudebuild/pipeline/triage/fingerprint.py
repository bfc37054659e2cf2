"""Stable, line-independent ids for findings: the one fingerprint recipe.

Code-scanning services (GitHub, GitLab, reviewdog) match an alert across runs by a
fingerprint. Line numbers change whenever code is inserted above a finding, so the id
is built from what the finding is about instead: its category, its file and the code
it flags, with whitespace collapsed so re-indenting or re-wrapping does not change it,
and inline suppression markers left out so silencing a finding does not make it "fixed".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace

import xxhash

from claudebuild.model import Finding
from claudebuild.pipeline.triage.markers import without_markers

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


def source_line(lines: Sequence[str] | None, line: int) -> str | None:
    """Line `line` (1-based) of `lines`, None when there are no lines or it is out of range."""
    return lines[line - 1] if lines is not None and 1 <= line <= len(lines) else None


def unique_fingerprints(findings: Iterable[Finding],
                        lines_by_file: Mapping[str, Sequence[str]] | None = None) -> tuple[str, ...]:
    """One fingerprint per finding, in order, with repeats made distinct by their occurrence.

    Markers are left out of the quote and of the line the finding points at (from
    `lines_by_file`, when given), which identifies a finding without a quote. The same code
    flagged for the same reason twice in a file (a copied line) gives the same `fingerprint`;
    the n-th repeat is hashed with its occurrence number, as GitHub does for its own line
    hashes. Inserting lines elsewhere keeps the order of the repeats, so the ids stay stable.
    """
    lines = lines_by_file or {}
    seen: dict[str, int] = {}
    result: list[str] = []
    for finding in findings:
        line = source_line(lines.get(finding.file), finding.line)
        base = fingerprint(replace(finding, quote=without_markers(finding.quote)), None if line is None else without_markers(line))
        seen[base] = count = seen.get(base, 0) + 1
        result.append(base if count == 1 else xxhash.xxh3_64_hexdigest(f"{base}:{count}".encode()))
    return tuple(result)


def assign_fingerprints(findings: Sequence[Finding], lines_by_file: Mapping[str, Sequence[str]]) -> list[Finding]:
    """Every finding with its `unique_fingerprints` id, computed with the files' current lines."""
    return [replace(finding, fingerprint=unique)
            for finding, unique in zip(findings, unique_fingerprints(findings, lines_by_file), strict=True)]


def fingerprints_of(findings: Sequence[Finding]) -> tuple[str, ...]:
    """The findings' own fingerprints; for a report built without triage, computed by the same recipe."""
    if all(finding.fingerprint for finding in findings):
        return tuple(finding.fingerprint for finding in findings)
    computed = unique_fingerprints(findings)
    return tuple(finding.fingerprint or fallback for finding, fallback in zip(findings, computed, strict=True))

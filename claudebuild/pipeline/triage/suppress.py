"""Suppressions: the user's word that a finding is not a problem, and it always wins.

Two sources: an inline `claudebuild: ignore[rules] reason` comment on or above the flagged
line (see `markers`), and `[[suppress]]` entries of the suppressions file, matched by
fingerprint, path pattern and category. With `--config-from`, an inline marker counts only
where the trusted version of the file already had it, so a change cannot silence itself.
"""

from __future__ import annotations

import functools
import tomllib
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from typing import Any

import pathspec

from claudebuild.config import SUPPRESSIONS_FILE
from claudebuild.errors import ClaudebuildError
from claudebuild.model import Finding
from claudebuild.pipeline.triage.fingerprint import source_line
from claudebuild.pipeline.triage.markers import inline_markers, marker_lines
from claudebuild.text_lines import split_lines

UNTRUSTED_INLINE = "inline suppression added by this change is not trusted"
"""The `suppression_ignored` note of a finding whose marker is not in the trusted version of its file."""


@dataclass(frozen=True)
class Suppression:
    """One `[[suppress]]` entry of the suppressions file; every key given must match (an AND)."""

    reason: str
    fingerprint: str = ""
    path: str = ""
    category: str = ""
    expires: date | None = None
    entry: int = 0
    """1-based position in the file, so messages and reports can point at it."""

    def applies_on(self, day: date) -> bool:
        """An entry is valid up to and including its `expires` day."""
        return self.expires is None or day <= self.expires

    def matches(self, finding: Finding) -> bool:
        if self.fingerprint and finding.fingerprint != self.fingerprint:
            return False
        if self.path and not _path_spec(self.path).match_file(finding.file):
            return False
        return not self.category or rule_matches(self.category, finding.category)


@dataclass(frozen=True)
class SuppressedFinding:
    """A finding taken out of the report, who took it out (`inline` or `file`) and why."""

    finding: Finding
    source: str
    reason: str
    matched: str
    """The inline rule (`security/*`) or the file entry (`[[suppress]] #3`) that matched."""


def rule_matches(rule: str, category: str) -> bool:
    """`*` matches everything; `security`, `security/*` match `security` and `security/...`; else the exact category.

    Case is ignored, as in fingerprints: models write `Security/Eval` and `security/eval` alike.
    """
    wanted = rule.strip().lower()
    actual = category.strip().lower()
    if wanted == "*":
        return True
    prefix = wanted[:-2] if wanted.endswith("/*") else wanted
    return actual == prefix or actual.startswith(prefix + "/")


def inline_suppressions(finding: Finding, lines: Sequence[str]) -> Iterator[tuple[str, str, str]]:
    """(matched rule, reason, the line holding the marker) of each marker that applies, nearest first."""
    for number in (finding.line, finding.line - 1):
        text = source_line(lines, number) or ""
        for marker in inline_markers(text):
            for rule in marker.rules:
                if rule_matches(rule, finding.category):
                    yield rule, marker.reason, text
                    break


def trusted_marker_lines(lines_by_file: Mapping[str, Sequence[str]],
                         read_trusted: Callable[[str], str | None]) -> dict[str, frozenset[str]]:
    """Per file with a marker now, the marker lines its trusted version (`read_trusted`, None: absent) holds.

    A suppression comment counts only where the same line was already there, so a
    change cannot silence findings in its own code; only files with markers are read.
    """
    trusted: dict[str, frozenset[str]] = {}
    for path, lines in lines_by_file.items():
        if marker_lines(lines):
            text = read_trusted(path)
            trusted[path] = marker_lines(split_lines(text)) if text else frozenset()
    return trusted


def apply_suppressions(
    findings: Sequence[Finding],
    lines_by_file: Mapping[str, Sequence[str]],
    suppressions: Sequence[Suppression],
    today: date,
    trusted_markers: Mapping[str, Collection[str]] | None = None,
) -> tuple[list[Finding], list[SuppressedFinding]]:
    """Split `findings` into kept and suppressed; an inline marker wins over the file, an expired entry is ignored.

    With `trusted_markers`, a marker whose line is not in the trusted version of the file
    suppresses nothing: the finding is kept, noted `suppression_ignored`, and can fail the gate.
    """
    active = [entry for entry in suppressions if entry.applies_on(today)]
    kept: list[Finding] = []
    suppressed: list[SuppressedFinding] = []
    for finding in findings:
        candidates = list(inline_suppressions(finding, lines_by_file.get(finding.file, ())))
        inline: tuple[str, str] | None = None
        for rule, reason, text in candidates:
            if trusted_markers is None or text.strip() in trusted_markers.get(finding.file, ()):
                inline = (rule, reason)
                break
        if candidates and inline is None:
            finding = replace(finding, suppression_ignored=UNTRUSTED_INLINE)  # noqa: PLW2901  (the marked copy is used)
        entry = None if inline else next((e for e in active if e.matches(finding)), None)
        if inline:
            suppressed.append(SuppressedFinding(finding, "inline", inline[1], inline[0]))
        elif entry:
            suppressed.append(SuppressedFinding(finding, "file", entry.reason, f"[[suppress]] #{entry.entry}"))
        else:
            kept.append(finding)
    return kept, suppressed


def parse_suppressions(document: Mapping[str, Any], source: str = SUPPRESSIONS_FILE) -> tuple[Suppression, ...]:
    """The entries of a parsed suppressions file; anything unexpected is an error that names the entry."""
    unknown = sorted(set(document) - {"suppress"})
    if unknown:
        raise ClaudebuildError(f"{source}: unknown key {unknown[0]!r}; write each entry as a [[suppress]] table")
    tables = document.get("suppress", [])
    if not isinstance(tables, list) or not all(isinstance(table, dict) for table in tables):
        raise ClaudebuildError(f"{source}: 'suppress' must be [[suppress]] tables, one per entry")
    return tuple(_suppression(table, number, source) for number, table in enumerate(tables, 1))


_ENTRY_KEYS = ("fingerprint", "path", "category", "reason", "expires")


def _suppression(table: Mapping[str, Any], number: int, source: str) -> Suppression:
    where = f"{source}: [[suppress]] #{number}"
    unknown = sorted(set(table) - set(_ENTRY_KEYS))
    if unknown:
        raise ClaudebuildError(f"{where}: unknown key {unknown[0]!r}; use {', '.join(_ENTRY_KEYS)}")
    for key in ("fingerprint", "path", "category", "reason"):
        if key in table and not isinstance(table[key], str):
            raise ClaudebuildError(f"{where}: {key} must be a string, got {table[key]!r}")
    reason = table.get("reason", "").strip()
    if not reason:
        raise ClaudebuildError(f'{where} has no reason: add reason = "why this finding is not a problem"')
    entry = Suppression(reason=reason, fingerprint=table.get("fingerprint", "").strip(), path=table.get("path", "").strip(),
                        category=table.get("category", "").strip(), expires=_expiry(table.get("expires"), where), entry=number)
    if not (entry.fingerprint or entry.path or entry.category):
        raise ClaudebuildError(f"{where} matches nothing: add a fingerprint, path or category")
    if entry.path:
        try:
            _path_spec(entry.path)
        except ValueError as error:
            raise ClaudebuildError(f"{where}: path {entry.path!r} is not a valid gitignore-style pattern ({error})") from None
    return entry


def _expiry(value: Any, where: str) -> date | None:
    """TOML gives a bare `2025-06-30` as a date and a quoted one as text; both are accepted, nothing else."""
    if value is None:
        return None
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ClaudebuildError(f'{where}: expires must be a date like "2025-12-31", got {value!r}')


@functools.lru_cache(maxsize=256)
def _path_spec(pattern: str) -> pathspec.GitIgnoreSpec:
    return pathspec.GitIgnoreSpec.from_lines([pattern])


def read_suppressions(text: str | None, source: str = SUPPRESSIONS_FILE) -> tuple[Suppression, ...]:
    """The entries of a suppressions file's text (None: the file is absent, so none)."""
    if text is None:
        return ()
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ClaudebuildError(f"{source} is not valid TOML ({error}): fix the syntax") from error
    return parse_suppressions(document, source)

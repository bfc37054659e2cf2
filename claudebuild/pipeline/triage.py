"""Triage: what a finding is (fingerprint), whether its evidence holds, whether anyone silenced
it, how it compares with the last report and the committed baseline, and whether it fails CI.

Models invent evidence and rephrase themselves from run to run, so nothing here trusts the
model's line numbers or wording: a finding is identified by (category, file, flagged code),
its quote is checked against the file as it is now, and only verified findings that are not
known debt (baseline) can fail the gate. Suppressions are the user's word and always win.

Everything is a pure function of values, except the `load_*`/`save_*` functions, which only
read or write the one file they are given. `report.build_report` calls `triage`; renderers
read the result from the `Report`.
"""

from __future__ import annotations

import functools
import re
import tomllib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
import pathspec
import xxhash

from claudebuild.atomic_write import write_atomic
from claudebuild.text_lines import split_lines
from claudebuild.contained import OutsideRepository, read_contained
from claudebuild.errors import ClaudebuildError
from claudebuild.pipeline.fingerprint import fingerprint, normalise_code, unique_fingerprints
from claudebuild.model import SEVERITIES, Finding

if TYPE_CHECKING:
    from claudebuild.pipeline.report import Report

SUPPRESSIONS_FILE = "claudebuild-suppressions.toml"
BASELINE_FILE = "claudebuild-baseline.json"
BASELINE_SCHEMA_VERSION = 1
EVIDENCE_MARGIN = 3
"""Lines either side of the flagged range in which the quote may sit: models are often one or two lines off."""

STATUS_NEW = "new"
STATUS_PERSISTING = "persisting"
UNTRUSTED_INLINE = "inline suppression added by this change is not trusted"
"""The `suppression_ignored` note of a finding whose marker is not in the trusted version of its file."""


# -- records ----------------------------------------------------------------


@dataclass(frozen=True)
class FindingRecord:
    """A finding known only from a file (the previous report, the baseline): enough to list and match it."""

    file: str
    line: int
    category: str
    title: str
    fingerprint: str
    severity: str = ""


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


@dataclass(frozen=True)
class Triaged:
    """The outcome of `triage`: the report's findings and what it says about the others."""

    findings: tuple[Finding, ...]
    suppressed: tuple[SuppressedFinding, ...] = ()
    fixed: tuple[FindingRecord, ...] = ()
    baselined: frozenset[str] = frozenset()
    compared: bool = False


# -- the pipeline -----------------------------------------------------------


def triage(
    findings: Sequence[Finding],
    *,
    today: date,
    lines_by_file: Mapping[str, Sequence[str]] | None = None,
    previous: Sequence[FindingRecord] | None = None,
    covered_files: Collection[str] = frozenset(),
    baseline: Collection[str] = frozenset(),
    suppressions: Sequence[Suppression] = (),
    min_severity: str = "info",
    trusted_markers: Mapping[str, Collection[str]] | None = None,
) -> Triaged:
    """Fingerprint, verify, suppress, compare and baseline `findings` (validated, de-duplicated, sorted).

    `lines_by_file` is the current content of the files (`split_lines`); without it (or for a
    file missing from it) nothing can be checked, so findings stay verified and inline
    comments are not seen: absence of the file is no evidence against the quote.
    `previous` is the last report's findings (None when there was none); only files in
    `covered_files` (every chunk holding them analyzed with a current result) can have
    `fixed` findings, so a partial or failed run never claims a fix it did not look at.
    `trusted_markers` (with `--config-from`) limits inline suppressions to marker lines that
    exist in the trusted version of each file (see `trusted_marker_lines`); None trusts all.
    """
    lines = lines_by_file or {}
    marked = assign_fingerprints(findings, lines)
    if lines_by_file is not None:
        marked = [replace(f, verified=quote_found(f, lines[f.file])) if f.file in lines else f for f in marked]
    kept, suppressed = apply_suppressions(marked, lines, suppressions, today, trusted_markers)
    fixed: tuple[FindingRecord, ...] = ()
    if previous is not None:
        kept, fixed = compare_with_previous(kept, previous, covered_files, also_present=suppressed,
                                            min_severity=min_severity)
    baselined = frozenset(f.fingerprint for f in kept if f.fingerprint in baseline)
    return Triaged(tuple(kept), tuple(suppressed), fixed, baselined, previous is not None)


def assign_fingerprints(findings: Sequence[Finding], lines_by_file: Mapping[str, Sequence[str]]) -> list[Finding]:
    """Every finding with its line-independent fingerprint, repeats made distinct as `unique_fingerprints` does.

    A finding without a quote is identified by the text of the line it points at, so it
    keeps its id when lines are inserted above it; the title stands in only when neither exists.
    """
    seen: dict[str, int] = {}
    result: list[Finding] = []
    for finding in findings:
        line = source_line(lines_by_file.get(finding.file), finding.line)
        code = replace(finding, quote=without_markers(finding.quote))
        base = fingerprint(code, None if line is None else without_markers(line))
        seen[base] = count = seen.get(base, 0) + 1
        unique = base if count == 1 else xxhash.xxh3_64_hexdigest(f"{base}:{count}".encode())
        result.append(replace(finding, fingerprint=unique))
    return result


_MARKER_TAIL = re.compile(r"[ \t]*(?:#|//|/\*|<!--|--|;)?[ \t]*claudebuild:\s*ignore\[[^\]\n]*\][^\n]*", re.IGNORECASE)


def without_markers(code: str) -> str:
    """`code` without inline `claudebuild: ignore[...]` comments (and their comment leader).

    Adding a suppression comment to the flagged line must not change the finding's
    identity: it would then look fixed (old fingerprint gone) instead of suppressed.
    """
    return _MARKER_TAIL.sub("", code)


def fingerprints_of(findings: Sequence[Finding]) -> tuple[str, ...]:
    """The findings' own fingerprints; for a report built without triage, computed the same way."""
    if all(finding.fingerprint for finding in findings):
        return tuple(finding.fingerprint for finding in findings)
    computed = unique_fingerprints(findings)
    return tuple(finding.fingerprint or fallback for finding, fallback in zip(findings, computed))


def source_line(lines: Sequence[str] | None, line: int) -> str | None:
    return lines[line - 1] if lines is not None and 1 <= line <= len(lines) else None


# -- evidence ---------------------------------------------------------------

_LINE_NUMBER_PREFIX = re.compile(r"(?m)^[ \t]*\d+(?:\t| ?\|)")
"""The prompt shows code as `<number>|<code>` (before prompt version 3, `<padded number>TAB<code>`); a model
that copies the number into its quote did not invent the code. Stripping a real `1|` off code only shortens
the quote, which must still be found in the file."""


def quote_found(finding: Finding, lines: Sequence[str], margin: int = EVIDENCE_MARGIN) -> bool:
    """True when the finding's quote occurs, whitespace-normalised, within `margin` lines of its range.

    The window is joined before comparing, so a quote spanning lines matches; an empty
    quote shows nothing and so proves nothing.
    """
    wanted = normalise_code(_LINE_NUMBER_PREFIX.sub("", finding.quote))
    if not wanted:
        return False
    start = max(1, finding.line - margin)
    stop = min(len(lines), max(finding.end_line, finding.line) + margin)
    return wanted in normalise_code(" ".join(lines[start - 1:stop]))


# -- suppressions -----------------------------------------------------------

_INLINE = re.compile(r"claudebuild:\s*ignore\[([^\]]*)\]([^\n]*)", re.IGNORECASE)
_COMMENT_END = re.compile(r"\s*(\*/|-->|--%>|%>|#\}|%\})\s*$")


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


def marker_lines(lines: Iterable[str]) -> frozenset[str]:
    """The stripped lines that hold an inline marker: what a trusted version of a file allows."""
    return frozenset(line.strip() for line in lines if "claudebuild" in line.lower() and inline_markers(line))


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


# -- previous report: new, persisting, fixed --------------------------------


def compare_with_previous(
    findings: Sequence[Finding],
    previous: Sequence[FindingRecord],
    covered_files: Collection[str],
    *,
    also_present: Iterable[SuppressedFinding] = (),
    min_severity: str = "info",
) -> tuple[list[Finding], tuple[FindingRecord, ...]]:
    """Mark each finding `new` or `persisting`; list the previous ones that are gone as fixed.

    A previous finding counts as fixed only where it was looked for again: its file is in
    `covered_files`, it is not merely suppressed now, and its severity is still reported
    (raising `min_severity` hides findings, it does not fix them).
    """
    known = {record.fingerprint for record in previous}
    marked = [replace(f, status=STATUS_PERSISTING if f.fingerprint in known else STATUS_NEW) for f in findings]
    present = {f.fingerprint for f in findings} | {item.finding.fingerprint for item in also_present}
    threshold = SEVERITIES.index(min_severity)
    fixed = tuple(
        record for record in previous
        if record.fingerprint not in present and record.file in covered_files
        and (record.severity not in SEVERITIES or SEVERITIES.index(record.severity) <= threshold)
    )
    return marked, fixed


def previous_records(document: Any, source: str = "report.json") -> tuple[FindingRecord, ...] | None:
    """The findings of a parsed previous report; None when it predates fingerprints (nothing to compare)."""
    findings = document.get("findings") if isinstance(document, dict) else None
    if not isinstance(findings, list):
        raise ClaudebuildError(f"{source} has no findings list: delete it, the next report starts afresh")
    records = []
    for item in findings:
        if not isinstance(item, dict) or not isinstance(item.get("fingerprint"), str) or not item["fingerprint"]:
            return None
        records.append(_record(item))
    return tuple(records)


def load_previous_report(path: Path) -> tuple[FindingRecord, ...] | None:
    """The last report's findings, read before it is overwritten; None when there is no usable report."""
    if not path.is_file():
        return None
    return previous_records(_read_json(path, "delete it, the next report starts afresh"), path.name)


def _record(item: Mapping[str, Any]) -> FindingRecord:
    line = item.get("line")
    return FindingRecord(file=str(item.get("file", "")), line=line if isinstance(line, int) else 0,
                         category=str(item.get("category", "")), title=str(item.get("title", "")),
                         fingerprint=str(item["fingerprint"]), severity=str(item.get("severity", "")))


# -- baseline -----------------------------------------------------------------


def baseline_document(findings: Iterable[Finding]) -> dict[str, Any]:
    """The committed baseline: fingerprints plus file, category and title for people reading the diff.

    Lines are left out on purpose: they move with every edit above a finding and would
    turn the file into noise in reviews; entries are sorted by what does not move.
    """
    entries = sorted(
        ({"fingerprint": f.fingerprint, "file": f.file, "category": f.category, "title": f.title} for f in findings),
        key=lambda entry: (entry["file"], entry["category"], entry["fingerprint"]),
    )
    return {
        "schema_version": BASELINE_SCHEMA_VERSION,
        "tool": "claudebuild",
        "about": "Known findings that do not fail `--fail-on`; rewrite with `claudebuild baseline`.",
        "findings": entries,
    }


def save_baseline(path: Path, findings: Iterable[Finding]) -> int:
    """Write the baseline for `findings` (a report's, which already lack suppressed ones); returns how many."""
    document = baseline_document(findings)
    write_atomic(path, orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
    return len(document["findings"])


def parse_baseline(document: Any, source: str = BASELINE_FILE) -> frozenset[str]:
    findings = document.get("findings") if isinstance(document, dict) else None
    if not isinstance(findings, list):
        raise ClaudebuildError(f"{source} has no findings list: rewrite it with `claudebuild baseline`")
    fingerprints = set()
    for number, item in enumerate(findings, 1):
        value = item.get("fingerprint") if isinstance(item, dict) else None
        if not isinstance(value, str) or not value:
            raise ClaudebuildError(f"{source}: finding #{number} has no fingerprint: rewrite it with `claudebuild baseline`")
        fingerprints.add(value)
    return frozenset(fingerprints)


def read_baseline(data: bytes | None, source: str = BASELINE_FILE) -> frozenset[str]:
    """The fingerprints of a baseline file's bytes (None: the file is absent, so none)."""
    if data is None:
        return frozenset()
    try:
        document = orjson.loads(data)
    except orjson.JSONDecodeError as error:
        raise ClaudebuildError(f"{source} is not valid JSON ({error}): rewrite it with `claudebuild baseline`") from error
    return parse_baseline(document, source)


# -- the gate -----------------------------------------------------------------


def gate_failures(report: Report, fail_on: str) -> list[Finding]:
    """The findings that fail `--fail-on`: at or above it, verified, not in the baseline.

    Unverified findings never fail: their evidence is not in the file, so blocking a merge
    on them would block on what may be a hallucination. "" or "none" turns the gate off.
    """
    if fail_on in ("", "none"):
        return []
    if fail_on not in SEVERITIES:
        raise ClaudebuildError(f"--fail-on must be one of {', '.join(SEVERITIES)} or none, got {fail_on!r}")
    threshold = SEVERITIES.index(fail_on)
    return [
        finding for finding in report.findings
        if SEVERITIES.index(finding.severity) <= threshold and finding.verified
        and finding.fingerprint not in report.baselined
    ]


# -- file contents ------------------------------------------------------------


def load_source_lines(root: Path, paths: Iterable[str]) -> dict[str, list[str]]:
    """The current lines of `paths` under `root`, numbered as the prompt numbered them.

    Bytes are decoded as the prompt decodes them (UTF-8, invalid bytes replaced) and split
    with `split_lines`, never with text-mode reads, which would turn a lone CR into a line
    break and shift every later line. A file deleted since it was analyzed, or replaced by a
    symlink or special file, is left out (its findings are then not checked; its chunk is
    re-analyzed on the next run).
    """
    lines: dict[str, list[str]] = {}
    for path in sorted(set(paths)):
        try:
            data = read_contained(root, path).data
        except (FileNotFoundError, OutsideRepository):
            continue
        except OSError as error:
            raise ClaudebuildError(f"cannot read {path} to check findings against it: {error.strerror}") from error
        lines[path] = split_lines(data.decode("utf-8", errors="replace"))
    return lines


def _read_json(path: Path, fix: str) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except OSError as error:
        raise ClaudebuildError(f"cannot read {path.name}: {error.strerror}") from error
    except orjson.JSONDecodeError as error:
        raise ClaudebuildError(f"{path.name} is not valid JSON ({error}): {fix}") from error

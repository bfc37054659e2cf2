"""History: which findings are new, which persist, which the last report had and are now fixed.

The previous report.json is read before it is overwritten; findings are matched by
fingerprint, never by line. A fix is claimed only for files analyzed again in this run.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import orjson

from claudebuild.errors import ClaudebuildError
from claudebuild.model import SEVERITIES, Finding
from claudebuild.pipeline.triage.suppress import SuppressedFinding

STATUS_NEW = "new"
STATUS_PERSISTING = "persisting"


@dataclass(frozen=True)
class FindingRecord:
    """A finding known only from a file (the previous report, the baseline): enough to list and match it."""

    file: str
    line: int
    category: str
    title: str
    fingerprint: str
    severity: str = ""


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
    prefix = document.get("path_prefix")
    prefix = prefix if isinstance(prefix, str) else ""
    records = []
    for item in findings:
        if not isinstance(item, dict) or not isinstance(item.get("fingerprint"), str) or not item["fingerprint"]:
            return None
        record = _record(item)
        if prefix and record.file.startswith(prefix):  # written repository-relative: back to the reviewed root's paths
            record = replace(record, file=record.file[len(prefix):])
        records.append(record)
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


def _read_json(path: Path, fix: str) -> Any:
    try:
        return orjson.loads(path.read_bytes())
    except OSError as error:
        raise ClaudebuildError(f"cannot read {path.name}: {error.strerror}") from error
    except orjson.JSONDecodeError as error:
        raise ClaudebuildError(f"{path.name} is not valid JSON ({error}): {fix}") from error

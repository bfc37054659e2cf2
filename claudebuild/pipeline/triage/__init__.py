"""Triage: what a finding is (fingerprint), whether its evidence holds, whether anyone silenced
it, how it compares with the last report and the committed baseline, and whether it fails CI.

Models invent evidence and rephrase themselves from run to run, so nothing here trusts the
model's line numbers or wording: a finding is identified by (category, file, flagged code),
its quote is checked against the file as it is now, and only verified findings that are not
known debt (baseline) can fail the gate. Suppressions are the user's word and always win.

One module a step: `fingerprint` (the one recipe), `evidence`, `markers` (the inline
comment grammar), `suppress`, `history` (new / persisting / fixed), `baseline`, `gate`.
Everything is a pure function of values, except the `load_*`/`save_*` functions, which only
read or write the one file they are given. `report.build_report` calls `triage` below;
renderers read the result from the `Report`. The names other layers use are re-exported here.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date

from claudebuild.model import Finding
from claudebuild.pipeline.triage.baseline import read_baseline, save_baseline
from claudebuild.pipeline.triage.evidence import load_source_lines, quote_found
from claudebuild.pipeline.triage.fingerprint import assign_fingerprints, fingerprints_of
from claudebuild.pipeline.triage.gate import gate_failures
from claudebuild.pipeline.triage.history import STATUS_NEW, STATUS_PERSISTING, FindingRecord, compare_with_previous, load_previous_report
from claudebuild.pipeline.triage.suppress import (UNTRUSTED_INLINE, SuppressedFinding, Suppression, apply_suppressions, read_suppressions,
                                                  trusted_marker_lines)

__all__ = [
    "STATUS_NEW", "STATUS_PERSISTING", "UNTRUSTED_INLINE", "FindingRecord", "SuppressedFinding", "Suppression", "Triaged",
    "apply_suppressions", "fingerprints_of", "gate_failures", "load_previous_report", "load_source_lines", "read_baseline",
    "read_suppressions", "save_baseline", "triage", "trusted_marker_lines",
]


@dataclass(frozen=True)
class Triaged:
    """The outcome of `triage`: the report's findings and what it says about the others."""

    findings: tuple[Finding, ...]
    suppressed: tuple[SuppressedFinding, ...] = ()
    fixed: tuple[FindingRecord, ...] = ()
    baselined: frozenset[str] = frozenset()
    compared: bool = False


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

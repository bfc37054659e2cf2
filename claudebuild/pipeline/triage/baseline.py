"""The baseline: known findings, committed, that do not fail the gate; only new debt does.

The file lists fingerprints (plus file, category and title for people reading the diff);
`claudebuild baseline` rewrites it from the current report.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from claudebuild.atomic_write import write_atomic
from claudebuild.config import BASELINE_FILE
from claudebuild.errors import ClaudebuildError
from claudebuild.model import Finding

BASELINE_SCHEMA_VERSION = 1


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

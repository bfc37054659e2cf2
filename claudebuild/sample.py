"""The demo project bundled with claudebuild, and how to copy it out of the package.

The sample lives in `claudebuild/sample_repo/` as package data. Its dot-files
are stored under other names because, inside our own repository and wheel,
a real `.gitignore` would hide the sample's `build/` directory from git, and
a real `.env` would be caught by tools that refuse to package secrets.
`copy_sample_repo` restores the real names.

`EXPECTED_FINDINGS.json` lists, to the line, what the offline fake reviewer
must report for the sample; it is metadata about the sample, not part of it,
so it is not copied.
"""

from __future__ import annotations

import json
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

from claudebuild.errors import ClaudebuildError

RENAMED: dict[str, str] = {"_gitignore": ".gitignore", "_claudeignore": ".claudeignore", "_env": ".env"}
"""Stored name -> name in the copy, in any directory of the sample."""

MANIFEST = "EXPECTED_FINDINGS.json"
_NOT_COPIED = frozenset({MANIFEST, "__pycache__", ".DS_Store"})


def sample_root() -> Traversable:
    """The bundled sample tree, wherever the package is installed (even zipped)."""
    return resources.files("claudebuild") / "sample_repo"


def copy_sample_repo(dest: Path) -> Path:
    """Copy the sample to `dest` (created if missing; must be empty) with real dot-file names.

    Refuses a non-empty `dest` so a mistyped path can never overwrite a user's files.
    """
    dest = Path(dest)
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise ClaudebuildError(f"cannot copy the sample project to {dest}: it exists and is not an empty directory")
    try:
        dest.mkdir(parents=True, exist_ok=True)
        _copy_tree(sample_root(), dest)
    except OSError as error:
        raise ClaudebuildError(f"cannot copy the sample project to {dest}: {error}") from error
    return dest


def expected_findings() -> list[dict[str, object]]:
    """The findings the fake reviewer reports for the sample: `{"file", "line", "category"}` dicts."""
    findings: list[dict[str, object]] = json.loads((sample_root() / MANIFEST).read_text(encoding="utf-8"))
    return findings


def _copy_tree(source: Traversable, target: Path) -> None:
    for entry in source.iterdir():
        if entry.name in _NOT_COPIED or entry.name.endswith(".pyc"):
            continue
        destination = target / RENAMED.get(entry.name, entry.name)
        if entry.is_dir():
            destination.mkdir()
            _copy_tree(entry, destination)
        else:
            destination.write_bytes(entry.read_bytes())
            if destination.suffix == ".sh":
                destination.chmod(0o755)  # package data loses the executable bit

"""`claudebuild config`: which repository root, why, and every effective setting and where it came from."""

from __future__ import annotations

import sys
from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import Any, TextIO

import orjson

from claudebuild.config_sources import resolve_config
from claudebuild.repo.root import GIVEN, RepoRoot


def _shown(value: Any, width: int = 60) -> str:
    text = repr(list(value) if isinstance(value, tuple) else value)
    return text if len(text) <= width else text[: width - 4] + "...'"


def show_config(root: Path, overrides: Mapping[str, Any], *, as_json: bool = False, out: TextIO | None = None,
                found: RepoRoot | None = None) -> int:
    """Print the settings; `found` says how the root was chosen (run from a subdirectory, it is not the cwd)."""
    out = out or sys.stdout
    config, sources = resolve_config(root, overrides)
    reason = found.reason if found is not None else GIVEN
    rows = [(f.name, getattr(config, f.name), sources[f.name]) for f in fields(config) if f.name in sources]
    if as_json:
        document: dict[str, dict[str, Any]] = {"root": {"value": str(config.root), "source": reason}}
        document |= {name: {"value": list(value) if isinstance(value, tuple) else value, "source": source}
                     for name, value, source in rows}
        out.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    width = max(len(name) for name, _, _ in rows)
    print("# effective claudebuild settings", file=out)
    print(f"# root: {config.root} ({reason})", file=out)
    for name, value, source in rows:
        print(f"{name:<{width}} = {_shown(value):<40} # {source}", file=out)
    return 0

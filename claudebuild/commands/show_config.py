"""`claudebuild config`: every effective setting and where it came from."""

from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path
from typing import Any, Mapping, TextIO

import orjson

from claudebuild.config import resolve_config


def _shown(value: Any, width: int = 60) -> str:
    text = repr(list(value) if isinstance(value, tuple) else value)
    return text if len(text) <= width else text[: width - 4] + "...'"


def show_config(root: Path, overrides: Mapping[str, Any], *, as_json: bool = False, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    config, sources = resolve_config(root, overrides)
    rows = [(f.name, getattr(config, f.name), sources[f.name]) for f in fields(config) if f.name in sources]
    if as_json:
        document = {name: {"value": list(value) if isinstance(value, tuple) else value, "source": source}
                    for name, value, source in rows}
        out.write(orjson.dumps(document, option=orjson.OPT_INDENT_2).decode() + "\n")
        return 0
    width = max(len(name) for name, _, _ in rows)
    print(f"# effective claudebuild settings for {config.root}", file=out)
    for name, value, source in rows:
        print(f"{name:<{width}} = {_shown(value):<40} # {source}", file=out)
    return 0

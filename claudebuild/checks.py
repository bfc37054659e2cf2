"""Named checks (`[[checks]]`) and per-path house rules (`[[rules]]`): parsed and validated config.

A check is its own review of part of the repository (security for `app/api/`, docs accuracy for
`docs/`), with its own instructions, model and chunking: each check becomes its own doit task
family (`security:<chunk>`), so changing one check re-runs that check only. A rule is an extra
instruction for the files its paths match; it is added to the prompt of exactly those chunks.

Both are repository configuration (they say what to review, never which program runs or where
anything goes), so `--config-from` reads them from the trusted commit like every other setting.
Validation is strict for the same reason as in config_sources.py: a misspelt key would silently review
the wrong thing.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pathspec

from claudebuild.errors import ClaudebuildError
from claudebuild.model import SEVERITIES

DEFAULT_CHECK = ""
"""The name of the one check there is without `[[checks]]`: its tasks keep the names `analyze:<chunk>`."""

NAME_RE = re.compile(r"^[a-z][a-z0-9_-]{0,39}$")
RESERVED_NAMES = frozenset({
    "analyze", "report", "verify", "default",
    # doit's own commands: `doit list` must stay the command, not a task
    "run", "list", "info", "forget", "clean", "dumpdb", "ignore", "auto", "help", "strace", "tabcompletion",
    "reset-dep",
})


@dataclass(frozen=True)
class Check:
    """One named review. Empty or zero fields fall back to the global setting of the same name."""

    name: str
    instructions: str
    paths: tuple[str, ...] = ()
    """gitignore-style patterns (`app/api/`, `*.py`, `!**/tests/`); empty: every discovered file."""
    model: str = ""
    max_files_per_chunk: int = 0
    min_severity: str = ""
    fail_on: str = ""
    verify: bool | None = None
    verify_min_severity: str = ""
    verify_model: str = ""

    def matches(self, path: str) -> bool:
        return not self.paths or _spec(self.paths).match_file(path)


@dataclass(frozen=True)
class PathRule:
    """A house rule: `instructions` added to the prompt of every chunk holding files its `paths` match."""

    paths: tuple[str, ...]
    instructions: str
    name: str = ""

    def matches(self, path: str) -> bool:
        return _spec(self.paths).match_file(path)


_SPECS: dict[tuple[str, ...], pathspec.GitIgnoreSpec] = {}


def _spec(patterns: tuple[str, ...]) -> pathspec.GitIgnoreSpec:
    spec = _SPECS.get(patterns)
    if spec is None:
        spec = _SPECS[patterns] = pathspec.GitIgnoreSpec.from_lines(patterns)
    return spec


InstructionsReader = Callable[[Any, str], str]
"""Reads an `instructions_file` value (the caller knows whether it is the repository's or the user's)."""

_CHECK_KEYS = ("name", "instructions", "instructions_file", "paths", "model", "max_files_per_chunk", "min_severity",
               "fail_on", "verify", "verify_min_severity", "verify_model")
_RULE_KEYS = ("name", "paths", "instructions", "instructions_file")


def parse_checks(value: Any, source: str, read_instructions: InstructionsReader) -> tuple[Check, ...]:
    """`[[checks]]` as `Check`s; the error names the file, the entry and the fix."""
    tables = _tables(value, source, "checks")
    checks: list[Check] = []
    seen: set[str] = set()
    for number, table in enumerate(tables, 1):
        where = f"{source}: [[checks]] entry {number}"
        _known_keys(table, _CHECK_KEYS, where)
        name = table.get("name")
        if not isinstance(name, str) or not NAME_RE.match(name):
            raise ClaudebuildError(f"{where}: name must be a short lowercase word (letters, digits, - or _; it names "
                                   f"doit tasks such as `security:<chunk>`), got {name!r}")
        where = f"{source}: check {name!r}"
        if name in RESERVED_NAMES:
            raise ClaudebuildError(f"{where}: the name is taken by claudebuild or doit; choose another, e.g. "
                                   f"{name + '-review'!r}")
        if name in seen:
            raise ClaudebuildError(f"{where} is defined twice: give every check its own name")
        seen.add(name)
        checks.append(Check(
            name=name,
            instructions=_instructions_of(table, where, read_instructions),
            paths=_paths(table.get("paths", ()), where, required=False),
            model=_string(table, "model", where),
            max_files_per_chunk=_positive(table, "max_files_per_chunk", where),
            min_severity=_severity(table, "min_severity", where),
            fail_on=_severity(table, "fail_on", where, none_allowed=True),
            verify=_bool(table, "verify", where),
            verify_min_severity=_severity(table, "verify_min_severity", where),
            verify_model=_string(table, "verify_model", where),
        ))
    return tuple(checks)


def parse_rules(value: Any, source: str, read_instructions: InstructionsReader) -> tuple[PathRule, ...]:
    """`[[rules]]` as `PathRule`s."""
    rules: list[PathRule] = []
    for number, table in enumerate(_tables(value, source, "rules"), 1):
        name = table.get("name", "")
        where = f"{source}: [[rules]] entry {number}" + (f" ({name!r})" if isinstance(name, str) and name else "")
        _known_keys(table, _RULE_KEYS, where)
        if not isinstance(name, str):
            raise ClaudebuildError(f"{where}: name must be a string, got {name!r}")
        rules.append(PathRule(paths=_paths(table.get("paths", ()), where, required=True),
                              instructions=_instructions_of(table, where, read_instructions), name=name.strip()))
    return tuple(rules)


def _tables(value: Any, source: str, key: str) -> list[Mapping[str, Any]]:
    if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
        raise ClaudebuildError(f"{source}: {key} must be an array of tables: write [[{key}]] once per entry")
    return value


def _known_keys(table: Mapping[str, Any], known: Sequence[str], where: str) -> None:
    for key in table:
        if key not in known:
            guess = difflib.get_close_matches(key, known, n=1)
            hint = f"; did you mean {guess[0]!r}?" if guess else f"; known keys: {', '.join(known)}"
            raise ClaudebuildError(f"{where}: unknown key {key!r}{hint}")


def _instructions_of(table: Mapping[str, Any], where: str, read_instructions: InstructionsReader) -> str:
    if "instructions" in table and "instructions_file" in table:
        raise ClaudebuildError(f"{where}: give instructions or instructions_file, not both")
    if "instructions_file" in table:
        text = read_instructions(table["instructions_file"], where)
    else:
        given = table.get("instructions")
        if not isinstance(given, str):
            raise ClaudebuildError(f"{where}: instructions (a string) or instructions_file is required")
        text = given
    if not text.strip():
        raise ClaudebuildError(f"{where}: instructions are empty: say what to review")
    return text


def _paths(value: Any, where: str, *, required: bool) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)) or not all(isinstance(item, str) for item in value):
        raise ClaudebuildError(f"{where}: paths must be a list of gitignore-style patterns, e.g. "
                               f'["app/api/", "!app/api/tests/"], got {value!r}')
    patterns = tuple(item.strip() for item in value if item.strip())
    if required and not patterns:
        raise ClaudebuildError(f'{where}: paths is required, e.g. paths = ["app/api/"]')
    for pattern in patterns:
        try:
            pathspec.GitIgnoreSpec.from_lines([pattern])
        except (ValueError, TypeError) as error:
            raise ClaudebuildError(f"{where}: path pattern {pattern!r} is not valid ({error})") from None
    return patterns


def _string(table: Mapping[str, Any], key: str, where: str) -> str:
    value = table.get(key, "")
    if not isinstance(value, str) or (key in table and not value.strip()):
        raise ClaudebuildError(f"{where}: {key} must be a non-empty string, got {value!r}")
    return value.strip()


def _positive(table: Mapping[str, Any], key: str, where: str) -> int:
    value = table.get(key, 0)
    if isinstance(value, bool) or not isinstance(value, int) or (key in table and value < 1):
        raise ClaudebuildError(f"{where}: {key} must be a whole number of at least 1, got {value!r}")
    return value


def _bool(table: Mapping[str, Any], key: str, where: str) -> bool | None:
    value = table.get(key)
    if value is not None and not isinstance(value, bool):
        raise ClaudebuildError(f"{where}: {key} must be true or false (in TOML without quotes), got {value!r}")
    return value


def _severity(table: Mapping[str, Any], key: str, where: str, *, none_allowed: bool = False) -> str:
    value = table.get(key, "")
    allowed = (*SEVERITIES, "none") if none_allowed else SEVERITIES
    if key in table and value not in allowed:
        raise ClaudebuildError(f"{where}: {key} must be one of {', '.join(allowed)}, got {value!r}")
    return str(value)

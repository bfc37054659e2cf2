"""The effective configuration: defaults < pyproject.toml < claudebuild.toml < environment < flags.

One frozen `Config` is built at start-up and passed down the pipeline; no stage
reads files or the environment for settings on its own. Unknown keys and bad
values are errors that name the file, the key and a fix, because a silently
ignored typo (`max_file_per_chunk`) would make every later run subtly wrong.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping

from claudebuild.errors import ClaudebuildError
from claudebuild.model import SEVERITIES

CONFIG_FILE = "claudebuild.toml"
PYPROJECT_TABLE = "tool.claudebuild"

DEFAULT_INSTRUCTIONS = """\
You are reviewing source files for real defects: bugs, security problems \
(injection, unsafe eval, hard-coded secrets, unsafe deserialization), error \
handling that hides failures, race conditions, resource leaks, and clearly \
unfinished code. The files follow on standard input; every line starts with \
its 1-based line number and a TAB. Report each problem once, at the exact file \
and line numbers shown, with `quote` set to the flagged line's code exactly as \
written (without the number). Do not report style nits or speculation. Answer \
only by calling the StructuredOutput tool; use an empty list when there are no \
findings."""

DEFAULT_SYSTEM_PROMPT = (
    "You are a meticulous senior code reviewer. You only see the code you are given, "
    "you never invent files or line numbers, and you answer in the requested structure."
)

FORMATS = ("json", "md", "sarif", "html", "junit", "gitlab", "rdjson", "github")
"""Names of the report formats (renderers in claudebuild.render.formats)."""
DEFAULT_FORMATS = ("json", "md")


@dataclass(frozen=True)
class Config:
    """Every setting claudebuild uses. Field docs are the reference in README and `claudebuild.toml`."""

    root: Path = field(default_factory=Path.cwd)
    claude_bin: str = "claude"
    model: str = "claude-sonnet-4-5"
    instructions: str = DEFAULT_INSTRUCTIONS
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    max_files_per_chunk: int = 20
    max_chunk_bytes: int = 100_000
    max_file_bytes: int = 1_000_000
    max_turns: int = 3
    call_timeout: float = 600.0
    retry_patience: float = 900.0
    lock_timeout: float = 600.0
    tpm: int = 0
    backoff_base: float = 2.0
    backoff_max: float = 60.0
    cli_max_retries: int = 0
    ignore: tuple[str, ...] = ()
    state_dir: str = ".claudebuild"
    baseline_file: str = "claudebuild-baseline.json"
    suppressions_file: str = "claudebuild-suppressions.toml"
    formats: tuple[str, ...] = DEFAULT_FORMATS
    fail_on_error: bool = True
    min_severity: str = "info"
    fail_on: str = ""

    @property
    def state_path(self) -> Path:
        return self.root / self.state_dir

    @property
    def db_path(self) -> Path:
        return self.state_path / "doit.sqlite"


_SETTABLE = {f.name: f for f in fields(Config) if f.name != "root"}
_ENVIRONMENT = {"CLAUDEBUILD_CLAUDE": "claude_bin", "CLAUDEBUILD_MODEL": "model"}


def load_config(root: Path, overrides: Mapping[str, Any] | None = None) -> Config:
    """Build the effective config for the repository at `root`."""
    return resolve_config(root, overrides)[0]


def resolve_config(root: Path, overrides: Mapping[str, Any] | None = None) -> tuple[Config, dict[str, str]]:
    """The effective config and, per key, where its value came from (for `claudebuild config`)."""
    root = root.resolve()
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}

    def take(found: Mapping[str, Any], source: str) -> None:
        values.update(found)
        sources.update({key: source for key in found})

    pyproject = root / "pyproject.toml"
    if pyproject.is_file():
        table = _read_toml(pyproject).get("tool", {}).get("claudebuild", {})
        take(_validated(table, f"{pyproject.name} [{PYPROJECT_TABLE}]", root), f"pyproject.toml [{PYPROJECT_TABLE}]")
    own = root / CONFIG_FILE
    if own.is_file():
        take(_validated(_read_toml(own), CONFIG_FILE, root), CONFIG_FILE)
    for variable, key in _ENVIRONMENT.items():
        if os.environ.get(variable):
            take({key: _coerce(key, os.environ[variable], f"environment variable {variable}")}, f"${variable}")
    for key, value in (overrides or {}).items():
        if value is not None:
            flag = f"--{key.replace('_', '-')}"
            take({key: _coerce(key, value, f"option {flag}")}, f"command line {flag}")
    config = replace(Config(root=root), **values)
    return config, {key: sources.get(key, "default") for key in _SETTABLE}


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as error:
        raise ClaudebuildError(f"cannot read {path.name}: {error}") from error
    except tomllib.TOMLDecodeError as error:
        raise ClaudebuildError(f"{path.name} is not valid TOML ({error}): fix the syntax") from error


def _validated(table: Mapping[str, Any], source: str, root: Path) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in table.items():
        if key == "instructions_file":
            path = root / str(value)
            try:
                result["instructions"] = path.read_text(encoding="utf-8")
            except OSError as error:
                raise ClaudebuildError(f"{source}: instructions_file {value!r} cannot be read ({error.strerror})") from error
            continue
        if key not in _SETTABLE:
            guess = difflib.get_close_matches(key, [*_SETTABLE, "instructions_file"], n=1)
            hint = f"; did you mean {guess[0]!r}?" if guess else f"; known keys: {', '.join(sorted(_SETTABLE))}"
            raise ClaudebuildError(f"{source}: unknown key {key!r}{hint}")
        result[key] = _coerce(key, value, source)
    return result


def _coerce(key: str, value: Any, source: str) -> Any:
    """Convert and check one value; the error says what was expected."""
    if key not in _SETTABLE:
        raise ClaudebuildError(f"{source}: unknown setting {key!r}")
    default = getattr(Config(), key)
    try:
        if isinstance(default, bool):
            converted: Any = _to_bool(value)
        elif isinstance(default, int):
            converted = int(value)
            if isinstance(value, float) and value != converted:
                raise ValueError
        elif isinstance(default, float):
            converted = float(value)
        elif isinstance(default, tuple):
            items = value.split(",") if isinstance(value, str) else list(value)
            converted = tuple(str(item).strip() for item in items if str(item).strip())
        else:
            if not isinstance(value, str):
                raise ValueError
            converted = value
    except (TypeError, ValueError):
        kind = _KIND_NAMES.get(type(default), type(default).__name__)
        raise ClaudebuildError(f"{source}: {key} must be {kind}, got {value!r}") from None
    _check_range(key, converted, source)
    return converted


_KIND_NAMES = {bool: "true or false", int: "a whole number", float: "a number", tuple: "a list of strings", str: "a string"}


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError(value)


_MINIMUMS = {
    "max_files_per_chunk": 1,
    "max_chunk_bytes": 1_000,
    "max_file_bytes": 1,
    "max_turns": 2,
    "call_timeout": 1,
    "retry_patience": 0,
    "lock_timeout": 0,
    "tpm": 0,
    "backoff_base": 0,
    "backoff_max": 0,
    "cli_max_retries": 0,
}


def _check_range(key: str, value: Any, source: str) -> None:
    minimum = _MINIMUMS.get(key)
    if minimum is not None and value < minimum:
        raise ClaudebuildError(f"{source}: {key} must be at least {minimum}, got {value!r}")
    if key == "formats":
        unknown = [item for item in value if item not in FORMATS]
        if unknown:
            raise ClaudebuildError(f"{source}: unknown report format {unknown[0]!r}; choose from {', '.join(FORMATS)}")
    if key in ("min_severity", "fail_on") and value not in SEVERITIES and not (key == "fail_on" and value in ("", "none")):
        raise ClaudebuildError(f"{source}: {key} must be one of {', '.join(SEVERITIES)}, got {value!r}")
    if key in ("model", "claude_bin", "state_dir", "baseline_file", "suppressions_file") and not value.strip():
        raise ClaudebuildError(f"{source}: {key} must not be empty")

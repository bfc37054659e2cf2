"""The settings claudebuild has: the frozen `Config` with its defaults, and the check of one value.

One frozen `Config` is built at start-up (claudebuild/config_sources.py reads it
from the user config, the repository's files, the environment and flags) and
passed down the pipeline; no stage reads files or the environment for settings
on its own. Bad values are errors that name the source, the key and a fix.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from claudebuild.checks import Check, PathRule
from claudebuild.cache_settings import check_cache_url
from claudebuild.errors import ClaudebuildError
from claudebuild.model import SEVERITIES
from claudebuild.prices import DEFAULT_MODEL

CONFIG_FILE = "claudebuild.toml"
PYPROJECT_TABLE = "tool.claudebuild"
USER_CONFIG = "claudebuild/config.toml"
"""Under `$XDG_CONFIG_HOME` (default `~/.config`): the user's own, trusted settings."""

DEFAULT_INSTRUCTIONS = """\
Review these files for real defects: bugs, security holes (injection, eval, hard-coded secrets, \
unsafe deserialization), ignored errors, races, leaks, unfinished code. Report each once; no style \
nits or speculation."""
"""Sent on every call, so short; the format of the files and of the answer is in `prompt.UNTRUSTED_CONTENT_RULE`,
which no configured instructions replace."""

DEFAULT_SYSTEM_PROMPT = "You are a meticulous senior code reviewer."

REPORT_FILES = {"json": "report.json", "md": "report.md", "sarif": "report.sarif", "html": "report.html",
                "junit": "report.junit.xml", "gitlab": "report.gitlab.json", "rdjson": "report.rdjson",
                "github": "report.github.txt"}
"""Every report format by name and the file in the state dir it is written to (renderers: claudebuild.render.formats)."""
FORMATS = tuple(REPORT_FILES)
DEFAULT_FORMATS = ("json", "md")
BASELINE_FILE = "claudebuild-baseline.json"
"""Default `baseline_file`: the committed fingerprints of known findings (`claudebuild baseline`)."""
SUPPRESSIONS_FILE = "claudebuild-suppressions.toml"
"""Default `suppressions_file`: `[[suppress]]` entries, each with a reason."""


@dataclass(frozen=True)
class Config:
    """Every setting claudebuild uses. Field docs are the reference in README and `claudebuild.toml`."""

    root: Path = field(default_factory=Path.cwd)
    claude_bin: str = "claude"
    model: str = DEFAULT_MODEL
    instructions: str = DEFAULT_INSTRUCTIONS
    system_prompt: str = DEFAULT_SYSTEM_PROMPT
    max_files_per_chunk: int = 20
    max_chunk_bytes: int = 25_000
    max_call_bytes: int = 64_000
    """Bytes of files one `claude` call may carry: a chunk's call takes other stale chunks up to this (run/batching.py);
    0 gives every chunk its own call. Not part of any cache key: each chunk's result is stored on its own."""
    share_calls_from: int = 32
    """Stale chunks a run must start with before its calls carry several chunks (run/batching.py)."""
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
    baseline_file: str = BASELINE_FILE
    suppressions_file: str = SUPPRESSIONS_FILE
    formats: tuple[str, ...] = DEFAULT_FORMATS
    fail_on_error: bool = True
    min_severity: str = "info"
    fail_on: str = ""
    config_from: str = ""
    """A git ref (e.g. the pull request's base) to read the repository's settings files from; "" = working tree."""
    checks: tuple[Check, ...] = ()
    """`[[checks]]`: named reviews, each its own task family; none: the one default review (`analyze:<chunk>`)."""
    rules: tuple[PathRule, ...] = ()
    """`[[rules]]`: house rules added to the prompt of the chunks whose files they match."""
    verify: bool = False
    """Verify each finding at or above `verify_min_severity` with a second, independent call."""
    verify_min_severity: str = "medium"
    verify_model: str = ""
    """The verification calls' model; "" = the check's model."""
    cache_url: str = ""
    """The shared remote cache (http(s):// or file://); "" = none. A machine setting (see `cache_settings`)."""
    cache_read_only: bool = False
    """Use the remote cache's results but never upload (for runs on code nobody vetted)."""

    @property
    def fail_on_by_check(self) -> dict[str, str]:
        """Each named check's own `fail_on`, where it sets one (the gate's per-check thresholds)."""
        return {check.name: check.fail_on for check in self.checks if check.fail_on}

    @property
    def state_path(self) -> Path:
        return self.root / self.state_dir

    @property
    def db_path(self) -> Path:
        return self.state_path / "doit.sqlite"


SETTABLE = {f.name: f for f in fields(Config) if f.name != "root"}
"""Every key a settings file, the environment or a flag may set."""


def coerce(key: str, value: Any, source: str, *, typed: bool = False) -> Any:
    """Convert and check one value; the error names the source, the key and the kind expected.

    A settings file (`typed`) has TOML's own types, and they must match exactly:
    `fail_on_error = 1`, `max_turns = "5"`, `max_turns = 5.0` or `ignore = "a,b"`
    is a mistake to report, not to guess at. The environment and the command line
    have only strings, which are converted. Numbers must be finite (TOML reads
    `inf`, `nan` and `1e400`; they would crash a read or a wait much later).
    """
    if key not in SETTABLE:
        raise ClaudebuildError(f"{source}: unknown setting {key!r}")
    default = getattr(Config(), key)
    try:
        converted = _converted(default, value, typed)
    except (TypeError, ValueError, OverflowError):
        kind = _KIND_NAMES.get(type(default), type(default).__name__)
        quoted = typed and isinstance(value, str) and (value in ("true", "false") if isinstance(default, bool) else
                                                       isinstance(default, (int, float)) and _parses(default, value))
        pointed = isinstance(value, float) and isinstance(default, int) and not isinstance(default, bool)
        hint = " (in TOML without quotes)" if quoted else " (without a decimal point)" if pointed and value.is_integer() else ""
        shown = str(value).lower() if isinstance(value, bool) else repr(value)  # as TOML writes it: true, not True
        raise ClaudebuildError(f"{source}: {key} must be {kind}{hint}, got {shown}") from None
    _check_range(key, converted, source)
    return converted


def _parses(default: Any, text: str) -> bool:
    """Whether `text` would be a valid value without its quotes (`"30"`, not `"many"`)."""
    try:
        _converted(default, text, typed=False)
    except (TypeError, ValueError, OverflowError):
        return False
    return True


def _converted(default: Any, value: Any, typed: bool) -> Any:
    """`value` as the type of `default`; TypeError or ValueError when it is not one."""
    if isinstance(default, bool):
        if typed and not isinstance(value, bool):
            raise TypeError(value)
        return _to_bool(value)
    if isinstance(default, (int, float)) and (isinstance(value, bool) or (typed and not isinstance(value, (int, float)))):
        raise TypeError(value)  # `true` is not a number, nor is a quoted one in a settings file
    if isinstance(default, int):
        if isinstance(value, float) and (typed or not value.is_integer()):
            raise ValueError(value)  # a whole number is written without a decimal point; inf and nan are not whole
        return int(value)
    if isinstance(default, float):
        converted = float(value)
        if not math.isfinite(converted):
            raise ValueError(value)
        return converted
    if isinstance(default, tuple):
        if isinstance(value, str) and not typed:
            items = value.split(",")
        elif isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
            items = list(value)
        else:
            raise TypeError(value)
        return tuple(item.strip() for item in items if item.strip())
    if not isinstance(value, str):
        raise TypeError(value)
    return value


_KIND_NAMES = {bool: "true or false", int: "a whole number", float: "a finite number", tuple: "a list of strings",
               str: "a string"}


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
    "max_call_bytes": 0,
    "share_calls_from": 2,
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


_WEEK = 7 * 24 * 3600
_MAXIMUMS = {
    **dict.fromkeys(("call_timeout", "retry_patience", "lock_timeout", "backoff_base", "backoff_max"), _WEEK),
    "max_file_bytes": 2**30,
    "max_chunk_bytes": 2**30,
    "max_call_bytes": 2**30,
}
"""Seconds and byte counts beyond these are typos, and would overflow a wait or a read."""


def _check_range(key: str, value: Any, source: str) -> None:
    minimum = _MINIMUMS.get(key)
    if minimum is not None and value < minimum:
        raise ClaudebuildError(f"{source}: {key} must be at least {minimum}, got {value!r}")
    maximum = _MAXIMUMS.get(key)
    if maximum is not None and value > maximum:
        unit = " (seconds: a week)" if maximum == _WEEK else " (bytes: 1 GiB)"
        raise ClaudebuildError(f"{source}: {key} must be at most {maximum}{unit}, got {value!r}")
    if key == "formats":
        unknown = [item for item in value if item not in FORMATS]
        if unknown:
            raise ClaudebuildError(f"{source}: unknown report format {unknown[0]!r}; choose from {', '.join(FORMATS)}")
    if key in ("min_severity", "fail_on", "verify_min_severity") and value not in SEVERITIES and not (key == "fail_on" and value in ("", "none")):
        raise ClaudebuildError(f"{source}: {key} must be one of {', '.join(SEVERITIES)}, got {value!r}")
    if key == "cache_url":
        check_cache_url(value, source)
    if key in ("model", "claude_bin", "state_dir", "baseline_file", "suppressions_file") and not value.strip():
        raise ClaudebuildError(f"{source}: {key} must not be empty")

"""The effective configuration: defaults < user config < pyproject.toml < claudebuild.toml < environment < flags.

One frozen `Config` is built at start-up and passed down the pipeline; no stage
reads files or the environment for settings on its own. Unknown keys and bad
values are errors that name the file, the key and a fix, because a silently
ignored typo (`max_file_per_chunk`) would make every later run subtly wrong.

The repository under review is data, not configuration of the machine: its
files (claudebuild.toml, pyproject.toml) may not name a program to run
(`MACHINE_KEYS`: only the environment, a flag or the user's own config file
may), and every path they give must stay inside the repository. With
`config_from` set, the repository's files are read from that git ref instead
of the working tree (see `repo_files`), so a change cannot configure its own review.
"""

from __future__ import annotations

import difflib
import math
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path, PurePosixPath
from typing import Any

from claudebuild.checks import Check, PathRule, parse_checks, parse_rules
from claudebuild.cache_settings import check_cache_url
from claudebuild.pipeline.discover import path_skip_reason
from claudebuild.errors import ClaudebuildError
from claudebuild.model import SEVERITIES
from claudebuild.prices import DEFAULT_MODEL
from claudebuild.repo.git import RepoFiles, open_repo_files

CONFIG_FILE = "claudebuild.toml"
PYPROJECT_TABLE = "tool.claudebuild"
USER_CONFIG = "claudebuild/config.toml"
"""Under `$XDG_CONFIG_HOME` (default `~/.config`): the user's own, trusted settings."""

DEFAULT_INSTRUCTIONS = """\
Review these files for real defects: bugs, security problems (injection, eval, hard-coded \
secrets, unsafe deserialization), hidden or ignored errors, races, resource leaks, unfinished \
code. Report each problem once; no style nits or speculation."""
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
    max_files_per_chunk: int = 6
    max_chunk_bytes: int = 25_000
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


_SETTABLE = {f.name: f for f in fields(Config) if f.name != "root"}
_ENVIRONMENT = {"CLAUDEBUILD_CLAUDE": "claude_bin", "CLAUDEBUILD_MODEL": "model", "CLAUDEBUILD_CONFIG_FROM": "config_from",
                "CLAUDEBUILD_CACHE_URL": "cache_url", "CLAUDEBUILD_CACHE_READ_ONLY": "cache_read_only"}

MACHINE_KEYS: dict[str, str] = {
    "claude_bin": "names a program to run",
    "config_from": "chooses which configuration is trusted",
    "cache_url": "chooses where results are shared",
    "cache_read_only": "guards the shared cache",
}
"""Keys the repository's own files may not set: only the environment, a flag or the user config may."""

INSIDE_KEYS = ("state_dir", "baseline_file", "suppressions_file")
"""Paths that must lie inside the repository whoever sets them: claudebuild reads and writes them there."""


def load_config(root: Path, overrides: Mapping[str, Any] | None = None) -> Config:
    """Build the effective config for the repository at `root`."""
    return resolve_config(root, overrides)[0]


def user_config_path(env: Mapping[str, str] | None = None) -> Path | None:
    """`$XDG_CONFIG_HOME/claudebuild/config.toml`, else `~/.config/claudebuild/config.toml`; None without a home."""
    env = os.environ if env is None else env
    base = env.get("XDG_CONFIG_HOME", "")
    if base and os.path.isabs(base):
        return Path(base) / USER_CONFIG
    try:
        return Path.home() / ".config" / USER_CONFIG
    except RuntimeError:  # no HOME and no passwd entry
        return None


def resolve_config(root: Path, overrides: Mapping[str, Any] | None = None) -> tuple[Config, dict[str, str]]:
    """The effective config and, per key, where its value came from (for `claudebuild config`).

    Trusted sources (user config, environment, flags) are read first because
    they decide where the repository's own settings come from (`config_from`);
    they are applied in precedence order afterwards.
    """
    root = root.resolve()
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}

    def take(found: Mapping[str, Any], source: str) -> None:
        values.update(found)
        sources.update(dict.fromkeys(found, source))

    user: tuple[dict[str, Any], str] = ({}, "")
    user_path = user_config_path()
    if user_path is not None and user_path.is_file():
        user = (_validated(_read_toml(user_path, str(user_path)), str(user_path), RepoFiles(user_path.parent),
                           repository=False), f"user config {user_path}")
    environment: list[tuple[dict[str, Any], str]] = []
    for variable, key in _ENVIRONMENT.items():
        if os.environ.get(variable):
            environment.append(({key: _coerce(key, os.environ[variable], f"environment variable {variable}")},
                                f"${variable}"))
    for key, value in (overrides or {}).items():
        if value is not None:
            flag = f"--{key.replace('_', '-')}"
            environment.append(({key: _coerce(key, value, f"option {flag}")}, f"command line {flag}"))
    config_from = next((found["config_from"] for found, _ in reversed(environment) if "config_from" in found),
                       user[0].get("config_from", ""))
    files = open_repo_files(root, config_from)

    take(*user)
    text = files.read_text("pyproject.toml")
    if text is not None:
        label = files.label(f"pyproject.toml [{PYPROJECT_TABLE}]")
        table = _pyproject_table(_parse_toml(text, files.label("pyproject.toml")), label)
        take(_validated(table, label, files, repository=True), label)
    text = files.read_text(CONFIG_FILE)
    if text is not None:
        label = files.label(CONFIG_FILE)
        take(_validated(_parse_toml(text, label), label, files, repository=True), label)
    for found, source in environment:
        take(found, source)
    for key in INSIDE_KEYS:
        if key in values:
            _inside_repository(root, key, values[key], sources[key])
    config = replace(Config(root=root), **values)
    return config, {key: sources.get(key, "default") for key in _SETTABLE}


def _read_toml(path: Path, name: str) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise ClaudebuildError(f"cannot read {name}: {error}") from error
    return _parse_toml(text, name)


def _parse_toml(text: str, name: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ClaudebuildError(f"{name} is not valid TOML ({error}): fix the syntax") from error


def _pyproject_table(document: Mapping[str, Any], label: str) -> Mapping[str, Any]:
    """`[tool.claudebuild]` of a parsed pyproject.toml ({} when absent); `tool.claudebuild = 5` is an error, not a crash."""
    tool = document.get("tool", {})
    table = tool.get("claudebuild", {}) if isinstance(tool, dict) else {}
    if not isinstance(table, dict):
        raise ClaudebuildError(f"{label} must be a table of settings, got {table!r}: write [tool.claudebuild] "
                               "with one key = value per line")
    return table


def _validated(table: Mapping[str, Any], source: str, files: RepoFiles, *, repository: bool) -> dict[str, Any]:
    """Check every key of one settings file; `repository` files may not set `MACHINE_KEYS` nor leave the root."""
    result: dict[str, Any] = {}
    for key, value in table.items():
        if repository and key in MACHINE_KEYS:
            raise ClaudebuildError(_machine_key_message(source, key))
        if key == "instructions_file":
            result["instructions"] = _instructions(files, value, source, repository=repository)
            continue
        if key in ("checks", "rules"):
            parse = parse_checks if key == "checks" else parse_rules
            result[key] = parse(value, source, lambda name, where: _instructions(files, name, where, repository=repository))
            continue
        if key not in _SETTABLE:
            guess = difflib.get_close_matches(key, [*_SETTABLE, "instructions_file"], n=1)
            hint = f"; did you mean {guess[0]!r}?" if guess else f"; known keys: {', '.join(sorted(_SETTABLE))}"
            raise ClaudebuildError(f"{source}: unknown key {key!r}{hint}")
        result[key] = _coerce(key, value, source, typed=True)
    return result


def _machine_key_message(source: str, key: str) -> str:
    variable = next(name for name, target in _ENVIRONMENT.items() if target == key)
    flag = "--claude" if key == "claude_bin" else f"--{key.replace('_', '-')}"
    path = user_config_path()
    shown = str(path) if path is not None else "~/.config/" + USER_CONFIG
    home = os.path.expanduser("~")
    if home != "~" and shown.startswith(home + os.sep):
        shown = "~" + shown[len(home):]
    return (f"{source}: {key} {MACHINE_KEYS[key]} and cannot be set by the repository; "
            f"set {variable}, pass {flag}, or put it in {shown}")


def _instructions(files: RepoFiles, value: Any, source: str, *, repository: bool) -> str:
    """The text of `instructions_file`: from the repository (checked to stay inside it) or beside the user config."""
    if not isinstance(value, str) or not value.strip():
        raise ClaudebuildError(f"{source}: instructions_file must be a file name, got {value!r}")
    if repository:
        relative = _inside_repository(files.root, "instructions_file", value, source)
        if path_skip_reason(relative) == "secret" or path_skip_reason(value.strip()) == "secret":
            raise ClaudebuildError(f"{source}: instructions_file {value!r} looks like a secret (key, credentials, .env) "
                                   "and is never sent: put the instructions in an ordinary text file")
        text = files.read_text(relative)
        if text is None:
            raise ClaudebuildError(f"{source}: instructions_file {value!r} cannot be read (no such file"
                                   + (f" in {files.ref})" if files.ref else ")"))
        return text
    path = (files.root / os.path.expanduser(value)).resolve()
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        reason = error.strerror if isinstance(error, OSError) else "not UTF-8"
        raise ClaudebuildError(f"{source}: instructions_file {value!r} cannot be read ({reason})") from error


def _inside_repository(root: Path, key: str, value: Any, source: str) -> str:
    """`value` as a repo-relative POSIX path after resolving symlinks; an error unless it stays inside `root`.

    Not absolute, not `root` itself (for state_dir), not inside `.git`: the
    repository may point only at its own files.
    """
    text = str(value).strip()
    fix = "give a path relative to the repository root, inside it"
    if not text:
        raise ClaudebuildError(f"{source}: {key} must not be empty")
    if os.path.isabs(text) or text.startswith("~"):
        raise ClaudebuildError(f"{source}: {key} {text!r} is an absolute path: {fix}")
    real_root = Path(os.path.realpath(root))
    real = Path(os.path.realpath(real_root / text))
    if not real.is_relative_to(real_root):
        raise ClaudebuildError(f"{source}: {key} {text!r} lies outside the repository: {fix}")
    relative = real.relative_to(real_root).as_posix()
    if relative == ".":
        example = 'state_dir = ".claudebuild"' if key == "state_dir" else f'{key} = "{getattr(Config(), key, "file.md")}"'
        raise ClaudebuildError(f"{source}: {key} {text!r} is the repository root itself: name something inside it, "
                               f"e.g. {example}")
    if any(part.lower() == ".git" for part in (*PurePosixPath(relative).parts,
                                                                    *PurePosixPath(text).parts)):
        raise ClaudebuildError(f"{source}: {key} {text!r} is not a file of the repository: {fix}")
    return relative


def _coerce(key: str, value: Any, source: str, *, typed: bool = False) -> Any:
    """Convert and check one value; the error names the source, the key and the kind expected.

    A settings file (`typed`) has TOML's own types, and they must match exactly:
    `fail_on_error = 1`, `max_turns = "5"`, `max_turns = 5.0` or `ignore = "a,b"`
    is a mistake to report, not to guess at. The environment and the command line
    have only strings, which are converted. Numbers must be finite (TOML reads
    `inf`, `nan` and `1e400`; they would crash a read or a wait much later).
    """
    if key not in _SETTABLE:
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

"""The effective configuration: defaults < user config < pyproject.toml < claudebuild.toml < environment < flags.

Unknown keys are errors that name the file, the key and a fix, because a
silently ignored typo (`max_file_per_chunk`) would make every later run subtly
wrong; each value is checked by `claudebuild.config.coerce`.

The repository under review is data, not configuration of the machine: its
files (claudebuild.toml, pyproject.toml) may not name a program to run
(`MACHINE_KEYS`: only the environment, a flag or the user's own config file
may), and every path they give must stay inside the repository. With
`config_from` set, the repository's files are read from that git ref instead
of the working tree (see `repo_files`), so a change cannot configure its own review.
"""

from __future__ import annotations

import difflib
import os
import tomllib
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import Any

from claudebuild.checks import parse_checks, parse_rules
from claudebuild.config import CONFIG_FILE, PYPROJECT_TABLE, SETTABLE, USER_CONFIG, Config, coerce
from claudebuild.errors import ClaudebuildError
from claudebuild.pipeline.discover import path_skip_reason
from claudebuild.repo.git import RepoFiles, open_repo_files

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
            environment.append(({key: coerce(key, os.environ[variable], f"environment variable {variable}")},
                                f"${variable}"))
    for key, value in (overrides or {}).items():
        if value is not None:
            flag = f"--{key.replace('_', '-')}"
            environment.append(({key: coerce(key, value, f"option {flag}")}, f"command line {flag}"))
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
    return config, {key: sources.get(key, "default") for key in SETTABLE}


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
        if key not in SETTABLE:
            guess = difflib.get_close_matches(key, [*SETTABLE, "instructions_file"], n=1)
            hint = f"; did you mean {guess[0]!r}?" if guess else f"; known keys: {', '.join(sorted(SETTABLE))}"
            raise ClaudebuildError(f"{source}: unknown key {key!r}{hint}")
        result[key] = coerce(key, value, source, typed=True)
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

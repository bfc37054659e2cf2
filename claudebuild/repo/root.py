"""Which directory is the repository under review: found the way git and ruff find theirs.

Running from a subdirectory must review the same repository as running from
its top: with the same `.claudeignore`, `ignore` list and cache. Taking the
current directory instead sends files the repository excludes, and a second
state directory there pays for every chunk again. So without `-C` the root is
the nearest directory, from the current one upwards, that holds claudebuild's
settings (`claudebuild.toml`, or `pyproject.toml` with `[tool.claudebuild]`);
else the top of the git work tree; else the current directory.

The root decides which files are sent to the API, so the search is bounded:
it never leaves the git work tree (settings above it belong to something
else), and outside a work tree it stops below the home directory and skips
settings files that are not the user's own (or root's), so a stray
`~/claudebuild.toml` or a `/tmp/claudebuild.toml` someone else wrote cannot
widen what is sent (the reason git checks `safe.directory`).
"""

from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from pathlib import Path

from claudebuild.config import CONFIG_FILE, PYPROJECT_TABLE
from claudebuild.errors import ClaudebuildError
from claudebuild.repo.git import run_git

GIVEN = "given with -C"


@dataclass(frozen=True)
class RepoRoot:
    """The repository's directory and why it was chosen (`claudebuild config` shows both)."""

    path: Path
    reason: str


def given_root(path: Path) -> RepoRoot:
    """The root named with `-C`: an existing directory, else a one-line error, and nothing is created."""
    if not path.is_dir():
        detail = "it is a file" if path.exists() else "no such directory"
        raise ClaudebuildError(f"-C {path} is not a directory ({detail}): pass an existing repository directory")
    return RepoRoot(path.resolve(), GIVEN)


def current_directory(cwd: Path) -> RepoRoot:
    """`init` sets up the directory it is run in (as `git init` does): no search."""
    return RepoRoot(cwd.resolve(), "the current directory")


def find_root(cwd: Path) -> RepoRoot:
    """The nearest directory from `cwd` up with claudebuild settings, else the git top, else `cwd`."""
    start = cwd.resolve()
    top = git_top(start)
    if top is not None and not start.is_relative_to(top):
        top = None  # e.g. inside .git: no work tree to bound the search by
    home = _home()
    for directory in (start, *start.parents):
        if top is None and directory != start and home is not None and home.is_relative_to(directory):
            break  # outside git: never the home directory or above, unless that is where we are
        name = settings_file(directory, trusted=top is not None or directory == start)
        if name:
            return RepoRoot(directory, f"nearest {name}")
        if directory == top:
            return RepoRoot(top, "top of the git work tree")
    return RepoRoot(start, "the current directory: no claudebuild settings above it, not in a git work tree")


def git_top(directory: Path) -> Path | None:
    """The top of the git work tree holding `directory`; None outside one (or without git)."""
    done = run_git(directory, "rev-parse", "--show-toplevel")
    if done is None or done.returncode != 0:
        return None
    text = os.fsdecode(done.stdout.rstrip(b"\n"))
    return Path(text).resolve() if text else None


def settings_file(directory: Path, *, trusted: bool = True) -> str | None:
    """The name of the claudebuild settings file in `directory`, or None.

    An untrusted directory (outside git, above the current one) counts only
    with a file owned by the user or by root."""
    candidates = ((CONFIG_FILE, directory / CONFIG_FILE), (f"pyproject.toml [{PYPROJECT_TABLE}]", directory / "pyproject.toml"))
    for name, path in candidates:
        try:
            if not path.is_file() or not (trusted or _owned_by_user(path)):
                continue
        except OSError:
            continue  # unreadable directory: nothing of ours there
        if path.name == CONFIG_FILE or _has_claudebuild_table(path):
            return name
    return None


def _has_claudebuild_table(pyproject: Path) -> bool:
    try:
        text = pyproject.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    if "claudebuild" not in text:
        return False  # cheap, and a broken pyproject.toml of some other tool is no reason to fail
    try:
        tool = tomllib.loads(text).get("tool")
    except tomllib.TOMLDecodeError as error:
        raise ClaudebuildError(f"{pyproject} is not valid TOML ({error}), so it is unclear whether it holds "
                               f"[{PYPROJECT_TABLE}]: fix it, or pass the repository with -C DIR") from None
    return isinstance(tool, dict) and isinstance(tool.get("claudebuild"), dict)


def _owned_by_user(path: Path) -> bool:
    if not hasattr(os, "getuid"):
        return True  # no owners to compare (Windows)
    return path.stat().st_uid in (os.getuid(), 0)


def _home() -> Path | None:
    try:
        return Path.home().resolve()
    except RuntimeError:  # no HOME and no passwd entry
        return None

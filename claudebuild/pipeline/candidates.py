"""The candidate files of a project, as git would list them, and the ignore files that decide it.

Inside a git work tree git decides (tracked files plus untracked files that
are not ignored); otherwise, or without git, a directory walk honours every
`.gitignore` the same way. `discover.py` then classifies each candidate.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Sequence
from pathlib import Path

import pathspec

from claudebuild.errors import ClaudebuildError
from claudebuild.model import SkippedFile
from claudebuild.repo.git import run_git

STATE_DIRS: frozenset[str] = frozenset({".git", ".claudebuild", ".venv", "node_modules"})
"""Version-control metadata, our own state and installed dependencies: never project source, and huge.
Matched as a directory name at any depth; the walk does not enter them."""

DirReason = Callable[[str], str | None]
"""`dir_reason("dir/")` -> why a directory listed as a whole is skipped (None: the caller's default)."""


def pattern_error(line: str) -> str | None:
    """Why pathspec cannot compile this gitignore line (`[z-a]`, a lone `!`), or None."""
    try:
        pathspec.GitIgnoreSpec.from_lines([line])
    except (ValueError, re.error) as error:  # re.error: a bad character range
        return str(error)
    return None


def check_patterns(lines: Sequence[str], source: str) -> None:
    """Our own ignore lists decide what is sent: a pattern we cannot read is an error, never skipped."""
    for number, line in enumerate(lines, 1):
        problem = pattern_error(line)
        if problem is not None:
            raise ClaudebuildError(f"{source}, line {number}: invalid pattern {line!r} ({problem}); fix or remove it")


def _load_gitignore(path: Path) -> pathspec.GitIgnoreSpec:
    """A `.gitignore` as git reads it: a line git cannot parse is a no-op, not an error."""
    valid = [line for line in read_ignore_lines(path) if pattern_error(line) is None]  # git skips them too
    return pathspec.GitIgnoreSpec.from_lines(valid)


def read_ignore_lines(path: Path) -> list[str]:
    """Lines of an ignore file; an unreadable one is an error, since ignoring it could leak files.

    Undecodable bytes become surrogates, as in the paths from `os.fsdecode`,
    so such patterns still match the names they were written for.
    """
    try:
        return path.read_text(encoding="utf-8", errors="surrogateescape").splitlines()
    except OSError as error:
        raise ClaudebuildError(f"cannot read {path}: {error}") from error


# --- candidates ----------------------------------------------------------------

_Specs = tuple[tuple[str, pathspec.GitIgnoreSpec], ...]


def list_candidates(root: Path, dir_reason: DirReason) -> tuple[list[str], list[SkippedFile]]:
    """Repo-relative candidate paths, and directories skipped as a whole.

    git decides inside a work tree; a missing git binary falls back to the walk.
    """
    if _inside_git_work_tree(root):
        listed = _run_git(root, "ls-files", "-z", "-t", "--cached", "--others", "--deleted", "--exclude-standard")
        if listed is not None:
            return _parse_ls_files(listed, root, dir_reason)
    return _walk(root, dir_reason)


def _inside_git_work_tree(root: Path) -> bool:
    """True when `root` or one of its parents has `.git` (a directory, or a file for worktrees)."""
    resolved = root.resolve()
    return any((directory / ".git").exists() for directory in (resolved, *resolved.parents))


def _run_git(root: Path, *args: str) -> bytes | None:
    """`git ls-files` output through the project's one git helper; None when git is not installed."""
    result = run_git(root, *args)
    if result is None:
        return None
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip() or f"exit status {result.returncode}"
        raise ClaudebuildError(f"git failed in {root}: {message} (command: git {' '.join(args)})")
    return result.stdout


def _parse_ls_files(output: bytes, root: Path, dir_reason: DirReason) -> tuple[list[str], list[SkippedFile]]:
    """Paths from `git ls-files -z -t -c -o -d`, minus tracked files deleted from disk.

    A deleted file is listed twice (tag H and tag R); skip-worktree files
    (tag S, sparse checkout) that are absent on disk are not part of the work
    tree either. Untracked nested repositories come out as "dir/".
    """
    tagged = [os.fsdecode(entry) for entry in output.split(b"\0") if entry]
    deleted = {entry[2:] for entry in tagged if entry.startswith("R ")}
    paths: list[str] = []
    skipped: list[SkippedFile] = []
    for entry in tagged:
        tag, path = entry[:1], entry[2:]
        if tag == "R" or path in deleted:
            continue
        if tag == "S" and not os.path.lexists(root / path):
            continue
        if path.endswith("/"):
            skipped.append(SkippedFile(path, dir_reason(path) or "special"))
        else:
            paths.append(path)
    return sorted(set(paths)), skipped


def _walk(root: Path, dir_reason: DirReason) -> tuple[list[str], list[SkippedFile]]:
    """Walk `root` like git would list it: nested `.gitignore`s, no `.git/`, no symlink following.

    State directories (node_modules/, .venv/, ...) are not entered, which
    keeps the walk fast; each is reported once, as "dir/".
    """
    paths: list[str] = []
    skipped: list[SkippedFile] = []
    pending: list[tuple[str, _Specs]] = [("", ())]
    while pending:
        prefix, specs = pending.pop()
        try:
            with os.scandir(root / prefix) as listing:
                entries = list(listing)
        except OSError:
            skipped.append(SkippedFile(prefix or "./", "unreadable"))
            continue
        if any(e.name == ".gitignore" and e.is_file(follow_symlinks=False) for e in entries):
            specs = (*specs, (prefix, _load_gitignore(root / prefix / ".gitignore")))
        for entry in entries:
            if entry.name == ".git":
                continue
            path = prefix + entry.name
            try:
                is_dir = entry.is_dir(follow_symlinks=False)
            except OSError:
                is_dir = False  # classified (as unreadable) with the files
            if _gitignored(path, is_dir, specs):
                continue
            if not is_dir:
                paths.append(path)
            elif entry.name in STATE_DIRS:
                skipped.append(SkippedFile(path + "/", dir_reason(path + "/") or "state"))
            else:
                pending.append((path + "/", specs))
    return paths, skipped


def _gitignored(path: str, is_dir: bool, specs: _Specs) -> bool:
    """Git's verdict: the deepest `.gitignore` with a matching pattern decides.

    Directories are matched with a trailing "/" so that "build/" patterns
    apply; an ignored directory is never entered, so, as in git, nothing
    below it can be re-included.
    """
    verdict: bool | None = None
    suffix = "/" if is_dir else ""
    for base, spec in specs:
        include = spec.check_file(path[len(base) :] + suffix).include
        if include is not None:
            verdict = include
    return bool(verdict)

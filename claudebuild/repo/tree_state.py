"""The work tree as `git status` sees it, in one look: what a no-op run compares with the last run's.

Listing, classifying and chunking every file only to find that nothing changed costs far more
than `git status`, which decides for every tracked file whether it differs from the index (its
racy-git check included) and lists the untracked files with every ignore rule honoured. What
git cannot tell apart between two looks is pinned by stat signatures (mtime, size, inode,
ctime): a file dirty both times and edited again in between, an untracked file edited, the
index rewritten (`git add`), and the settings files an ignore rule may hide from git.

git is asked with the settings that make it compare every stat field (`core.trustctime`,
`core.checkStat`, `core.ignoreStat` as git's defaults), so an edit that keeps the size and
mtime (`cp -p`, `touch -r`) is still seen, and without optional locks: looking never rewrites
the index (git would refresh its stat data), so only the user's own git commands change it. Files marked `assume-unchanged` or `skip-worktree`
are not looked at by git at all: `hides_edits` tells, and such a tree has no fast path. A submodule counts by
the commit it has checked out, not by edits inside it (which are never reviewed): looking inside would start a
`git status` there, under the submodule's own config and its filter programs.
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from claudebuild.hashing import StatSignature, hash_bytes, stat_signature
from claudebuild.repo.git import run_git

STRICT_STAT = ("--no-optional-locks", "-c", "core.trustctime=true", "-c", "core.checkStat=default", "-c", "core.ignoreStat=false")
"""A look that writes nothing, with git's defaults forced: a repository or user config that relaxes them
would let an edit go unseen."""
_HIDDEN_TAG = re.compile(rb"(?:^|\0)(?:[a-z]|S) ")
"""`git ls-files -v` tags an assume-unchanged entry in lower case and a skip-worktree one `S`."""


@dataclass(frozen=True)
class TreeState:
    """One look at the tree: comparable with a stored one (`as_json`), and the newest change it saw."""

    status: str
    """Digest of `git status --porcelain=v2 -z --branch -uall` (HEAD's commit and branch included)."""
    files: tuple[tuple[str, StatSignature | None], ...]
    """Every path the status names (relative to the top of the work tree), then each of `extra` (relative
    to the root, marked `./`), with its stat signature (None: absent)."""
    index: StatSignature | None
    newest_change_ns: int
    """The newest ctime among `files` and the index: a look is only as good as the clock tick after it."""

    def as_json(self) -> list[Any]:
        return [self.status, [[path, list(sig) if sig else None] for path, sig in self.files],
                list(self.index) if self.index else None]


def read_tree_state(root: Path, extra: Sequence[str] = ()) -> TreeState | None:
    """The tree's state now; None outside a git work tree or when git fails (then there is no fast path).

    `extra` are root-relative files that decide the review but that git may ignore (`.claudeignore`,
    the baseline and suppressions files): their stat signatures are part of the state whatever git says."""
    where = run_git(root, "rev-parse", "--show-toplevel", "--git-path", "index")
    if where is None or where.returncode != 0:
        return None
    lines = os.fsdecode(where.stdout).splitlines()
    if len(lines) != 2:
        return None
    top, index = Path(lines[0]), root / lines[1]  # --git-path is relative to the directory git ran in
    done = run_git(root, *STRICT_STAT, "status", "--porcelain=v2", "-z", "--branch", "--untracked-files=all",
                   "--ignore-submodules=dirty", "--", ".")
    if done is None or done.returncode != 0:
        return None
    files = [(path, _signature(top / path)) for path in status_paths(done.stdout)]
    files += [("./" + path, _signature(root / path)) for path in extra]
    index_signature = _signature(index)
    changes = [sig[3] for _, sig in files if sig] + ([index_signature[3]] if index_signature else [])
    return TreeState(hash_bytes(done.stdout), tuple(files), index_signature, max(changes, default=0))


def status_paths(output: bytes) -> list[str]:
    """Every path `git status --porcelain=v2 -z` names (a rename's both), relative to the top of the work tree."""
    paths: list[str] = []
    tokens = iter(output.split(b"\0"))
    for token in tokens:
        kind = token[:2]
        if kind == b"1 ":
            paths.append(os.fsdecode(token.split(b" ", 8)[-1]))
        elif kind == b"2 ":
            paths.append(os.fsdecode(token.split(b" ", 9)[-1]))
            paths.append(os.fsdecode(next(tokens, b"")))  # the path it was renamed or copied from
        elif kind == b"u ":
            paths.append(os.fsdecode(token.split(b" ", 10)[-1]))
        elif kind in (b"? ", b"! "):
            paths.append(os.fsdecode(token[2:]))
    return [path for path in paths if path]


def hides_edits(root: Path) -> bool:
    """True when some index entry is assume-unchanged or skip-worktree (git would not see its edits), or
    git cannot tell."""
    done = run_git(root, "ls-files", "-v", "-z")
    return done is None or done.returncode != 0 or _HIDDEN_TAG.search(done.stdout) is not None


def _signature(path: Path) -> StatSignature | None:
    try:
        return stat_signature(os.lstat(path))
    except OSError:
        return None

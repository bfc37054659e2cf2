"""Whose state directory this is: refuse cached results the reviewed files brought with them.

Stored results decide what is analyzed again and what the report says, so a state directory that
came with the files (a tarball, a copied tree) could forge a clean review. In a git work tree git
tells (a tracked state dir is refused, `repo/git.py`); outside one, claudebuild marks the state
directory it makes with that directory's inode, which an archive or a copy cannot carry over: a
state directory without the matching mark, holding anything but a lock or a crash log, is refused.
"""

from __future__ import annotations

import os
from pathlib import Path

from claudebuild.atomic_write import write_atomic
from claudebuild.errors import ClaudebuildError
from claudebuild.repo.git import ensure_untracked_state

MARK = "state-id"
"""The file in the state directory holding its inode number when claudebuild took it."""
UNREAD = frozenset({MARK, "lock", "crash.log"})
"""What a state directory may hold when claudebuild takes it: nothing it reads back as state."""


def ensure_own_state(root: Path, state_dir: str) -> None:
    """Refuse a state directory that is outside `root`, tracked by git or, outside git, not claudebuild's
    own; outside git, make (or take, while it holds nothing claudebuild reads) and mark it."""
    if ensure_untracked_state(root, state_dir):
        _ignore_itself(Path(os.path.realpath(root / state_dir)))
        return
    state = Path(os.path.realpath(root / state_dir))
    state.mkdir(parents=True, exist_ok=True)
    identity = f"{os.stat(state).st_ino}\n"
    if _mark(state) == identity:
        return
    present = {name for name in os.listdir(state) if not name.startswith(f".{MARK}.")}  # another run's mark being written
    if present <= UNREAD:
        write_atomic(state / MARK, identity)
        return
    if _mark(state) == identity:  # another run took it meanwhile (it marks before it writes anything else)
        return
    name = state_dir.strip("/")
    raise ClaudebuildError(f"{name}/ was not made here by claudebuild (it came with the files, e.g. from an archive or "
                           f"a copy), so its cached results could be forged: delete {name}/ and run again")


def _ignore_itself(state: Path) -> None:
    """A `.gitignore` of `*` in the state dir, as pytest and mypy put in their caches: `git add -A` never
    stages it (a tracked state dir is refused) and `git status` stays clean, with nothing to configure."""
    ignore = state / ".gitignore"
    if not os.path.lexists(ignore):
        state.mkdir(parents=True, exist_ok=True)
        write_atomic(ignore, "# claudebuild's state: never committed\n*\n")


def _mark(state: Path) -> str | None:
    try:
        with open(state / MARK, encoding="utf-8", errors="replace") as handle:
            return handle.read(64)
    except OSError:
        return None

"""The whole-run fast path: a no-op costs about what `git status` costs.

A run that finds every chunk up to date stores a stamp of what it depended on: the tree as git
sees it (`repo/tree_state.py`), the database file's identity, every setting (the whole `Config`,
claudebuild's version, the secret rules, today's date for suppressions that expire) and what
it printed and returned. The next `claudebuild analyze` (or plain `doit -n 5 analyze`) with the
same stamp reuses that outcome without listing, classifying or chunking a file or reading the
database. Anything that changed takes the slow path, which writes a new stamp when it ends with
nothing to do:

- an edit, an added, deleted or renamed file, a checkout, `git add`, a changed ignore rule: the
  status, a dirty file's or the index's stat signature differs;
- `forget`, a merge of shard databases, a run that stored a result or failed, `doit forget`:
  the database file (or its WAL) is another file, or was written since;
- a changed setting or claudebuild, or another day: the key differs.

Racy writes: a look is trusted only if every change it recorded is older than a clock tick
taken, on the state directory's filesystem, before the look (`settled`); then any later change
gets a newer ctime and cannot hide behind an unchanged signature. The slow run's own view must
be the one the stamp describes: its discovery saw no file changed after that tick. No stamp
is written outside git, with files git does not look at (assume-unchanged, skip-worktree),
with unreadable or special files, or with a failed or pending chunk.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import orjson

from claudebuild import __version__
from claudebuild.atomic_write import write_atomic
from claudebuild.config import Config
from claudebuild.hashing import StatSignature, digest_json, stat_signature
from claudebuild.repo.tree_state import TreeState, hides_edits, read_tree_state
from claudebuild.secrets.rules import settings_digest as secrets_settings

UP_TO_DATE = "claudebuild: every chunk is up to date"
STAMP_FILE = "noop-stamp.json"
CLOCK_FILE = "noop-clock"
FORMAT = 1
"""Bump when what a stamp means changes: older stamps then never match."""
COARSE_NS = 2_000_000_000
"""On a filesystem with whole-second timestamps (FAT: 2 s), a change is settled this long after."""
NEVER_STORED = frozenset({"unreadable", "special"})
"""Skip reasons that depend on more than a file's path and bytes (permissions, file type), which git does not see."""


@dataclass(frozen=True)
class Outcome:
    """What the no-op run printed and its exit status; None when it was plain doit's (which prints no summary):
    that stamp tells doit there is nothing to do, but `claudebuild analyze` has no summary to repeat."""

    text: str | None
    code: int


def settings_key(config: Config) -> str:
    """Everything besides the tree and the database that decides a run's outcome."""
    return digest_json([FORMAT, __version__, repr(config), secrets_settings(), date.today().isoformat()])


def clock_tick(state: Path) -> int:
    """Now, as the state directory's filesystem stamps a change (its granularity, its clock)."""
    path = state / CLOCK_FILE
    with open(path, "a", encoding="utf-8"):
        pass
    os.utime(path)
    return os.stat(path).st_ctime_ns


def settled(change_ns: int, tick_ns: int) -> bool:
    """True when a change made at `change_ns` lies in a clock tick before `tick_ns`, so that any change made
    after the tick gets a newer ctime (with whole-second timestamps on either side: `COARSE_NS` before)."""
    if change_ns % 1_000_000_000 == 0 or tick_ns % 1_000_000_000 == 0:
        return change_ns + COARSE_NS <= tick_ns
    return change_ns < tick_ns


def database_identity(db_path: Path) -> list[list[int] | None]:
    """The database file's and its write-ahead log's stat signatures: any write changes one of them. An
    empty log holds nothing (every commit is in the file then), and comes and goes with connections."""
    log = _signature(db_path.with_name(db_path.name + "-wal"))
    return [_signature(db_path), log if log and log[1] else None]


def _signature(path: Path) -> list[int] | None:
    try:
        signature: StatSignature = stat_signature(os.lstat(path))
    except OSError:
        return None
    return list(signature)


class NoopStamp:
    """`look` once (the caller holds the state lock), then, if the run found nothing to do, `record`."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.path = config.state_path / STAMP_FILE
        self.key = ""
        self.tick = 0
        self.tree: TreeState | None = None

    def look(self) -> Outcome | None:
        """Take the picture of the tree; the stored outcome if nothing it depends on changed since."""
        config = self.config
        if not config.state_path.is_dir() or config.config_from:  # a first run, or settings from a moving ref
            return None
        self.key = settings_key(config)
        self.tick = clock_tick(config.state_path)
        self.tree = read_tree_state(config.root, (".claudeignore", config.baseline_file, config.suppressions_file))
        if self.tree is None:
            return None
        stored = _read(self.path)
        if (stored is None or stored.get("key") != self.key or stored.get("tree") != self.tree.as_json()
                or stored.get("db") != database_identity(config.db_path)):
            return None
        text, code = stored.get("text"), stored.get("code")
        return Outcome(text, code) if isinstance(text, (str, type(None))) and type(code) is int else None

    def record(self, outcome: Outcome, *, discovered_newest_ns: int, skip_reasons: set[str]) -> bool:
        """Store `outcome` for the tree `look` saw, if that is safe (see the module doc); True if stored.

        `discovered_newest_ns` is the newest ctime among the files the run's discovery looked at: one
        changed after the look means the run saw another tree than the stamp would describe."""
        tree, config = self.tree, self.config
        self.tree = None  # one record per look
        if (tree is None or not settled(max(tree.newest_change_ns, discovered_newest_ns), self.tick)
                or skip_reasons & NEVER_STORED or hides_edits(config.root)):
            self._drop()
            return False
        for _ in range(3):  # the database was read (and its log checkpointed) moments ago
            tick = clock_tick(config.state_path)
            database = database_identity(config.db_path)
            if all(signature is None or settled(signature[3], tick) for signature in database):
                break
            time.sleep(0.02)
        else:
            self._drop()
            return False
        write_atomic(self.path, orjson.dumps({"key": self.key, "tree": tree.as_json(), "db": database,
                                              "text": outcome.text, "code": outcome.code}).decode())
        return True

    def _drop(self) -> None:
        self.path.unlink(missing_ok=True)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        document = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return None
    return document if isinstance(document, dict) else None

"""Discovery's memo: a file whose stat signature is unchanged is not read, classified or hashed again.

Discovery reads every candidate (binary, generated, UTF-8 and secret checks), so
on a large repository a run with nothing changed would cost as much as the first.
The memo, kept in the state directory, records per path the stat signature
(mtime_ns, size, inode, ctime_ns) seen before the read, the verdict (kept with
its size, or the skip reason), the content hash and whether the caller flagged
the file (the secret scan found something in it). The next run reuses a verdict
only when the full signature is unchanged; a name-only verdict (e.g.
"claudeignore", "lockfile") depends only on the path and the settings.

It is never trusted across a change of anything else that decides a verdict:
`settings` is a digest of the ignore patterns, `.claudeignore`, the size cap and
the secret rules, and a memo written under other settings is dropped whole. The
file list itself always comes fresh from git (or the walk), so an added, deleted
or newly ignored file is seen as today. Racy writes: a file modified within
`RACY_NS` of the moment discovery started is remembered with a signature that
never matches (an edit in the same clock tick that keeps size and times could
otherwise hide), so it is classified again next time. Every candidate but an
unreadable one has an entry, so the memo is also the last run's view of the
whole tree (`remembered`), which the pre-commit hook plans from. A memo that cannot be read or has the wrong shape is an empty
one: it is a cache, never a source of truth.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path
from typing import Any, TypeGuard

import orjson

from claudebuild.atomic_write import write_atomic
from claudebuild.hashing import StatSignature, digest_json, stat_signature
from claudebuild.model import SkippedFile, SourceFile

MEMO_FILE = "discovery.json"
"""The memo's name inside the state directory."""
FORMAT = 2
"""Bump when the meaning of an entry or any classification rule changes: older memos are dropped."""
RACY_NS = 2_000_000_000
"""Files changed this close to the start of discovery are classified again next run."""

Outcome = SourceFile | SkippedFile
_SURROGATE = re.compile("[\ud800-\udfff]")
"""os.fsdecode's stand-ins for bytes that are not UTF-8: JSON cannot hold them."""


class DiscoveryMemo:
    """Verdicts by path, loaded from and saved to one JSON file; not thread-safe (discovery is serial).

    Usable only after `bind`: the settings are known in full only inside discovery
    (it reads `.claudeignore`), so the caller's part (e.g. the secret rules) is
    given to `load` and discovery adds its own."""

    def __init__(self, path: Path | None, caller_settings: Any = None) -> None:
        self.path = path
        self.caller_settings = caller_settings
        self.settings = ""
        self.started_ns = time.time_ns()
        self._stored: tuple[Any, dict[str, list[Any]]] = ("", {})
        self._old: dict[str, list[Any]] = {}
        self._new: dict[str, list[Any]] = {}
        self._flagged: dict[str, Any] = {}
        self.reused = 0
        """Verdicts of unchanged files taken from the memo this run, name-only ones aside (for tests)."""

    @classmethod
    def load(cls, path: Path, caller_settings: Any) -> DiscoveryMemo:
        """The memo at `path` (empty if missing or unreadable); saves there."""
        memo = cls(path, caller_settings)
        try:
            document = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return memo
        if isinstance(document, dict) and isinstance(document.get("entries"), dict):
            memo._stored = (document.get("settings"), document["entries"])
        return memo

    def bind(self, **discovery_settings: Any) -> None:
        """Fix the full settings; what was stored under any others is dropped."""
        self.settings = digest_json({"format": FORMAT, "caller": self.caller_settings, **discovery_settings})
        settings, entries = self._stored
        self._old = entries if settings == self.settings else {}
        self._new = {}
        self._flagged = {}
        self.reused = 0

    # -- lookups -------------------------------------------------------------
    def name_verdict(self, path: str) -> str | None:
        """The remembered reason `path` is refused by name alone, or None."""
        entry = self._old.get(path)
        if isinstance(entry, list) and len(entry) == 1 and isinstance(entry[0], str):
            self._new[path] = entry
            return entry[0]
        return None

    def passed_names(self, path: str) -> bool:
        """True when `path` passed the name checks under these settings (it has a full verdict)."""
        entry = self._old.get(path)
        return isinstance(entry, list) and len(entry) == 8

    def reuse_unchanged(self, paths: list[str], base: str) -> tuple[list[Outcome], list[str], list[tuple[str, StatSignature, str]]]:
        """`name_verdict` and `verdict` for many paths in one tight loop (one lstat each): the outcomes
        reused, the paths left to classify (in order), and (absolute path, signature, digest) of each
        file reused with its content hash, to seed the hasher. `base` is the root with a trailing "/"."""
        old, new, lstat = self._old, self._new, os.lstat
        outcomes: list[Outcome] = []
        rest: list[str] = []
        seeds: list[tuple[str, StatSignature, str]] = []
        names = 0
        for path in paths:
            entry = old.get(path)
            if type(entry) is not list:
                rest.append(path)
                continue
            if len(entry) == 1:
                if type(entry[0]) is not str:
                    rest.append(path)
                    continue
                new[path] = entry
                outcomes.append(SkippedFile(path, entry[0]))
                names += 1  # not counted in `reused`, as in `name_verdict`
                continue
            full = base + path
            try:
                info = lstat(full)
            except OSError:
                rest.append(path)
                continue
            if not _matches(entry, info):
                rest.append(path)
                continue
            outcomes.append(self._carry(path, entry))
            if entry[6]:
                seeds.append((full, (entry[0], entry[1], entry[2], entry[3]), entry[6]))
        self.reused += len(outcomes) - names
        return outcomes, rest, seeds

    def remembered(self) -> dict[str, Outcome]:
        """Every verdict stored under these settings, by path: the tree as the last discovery saw it
        (empty when there is no memo for these settings)."""
        outcomes: dict[str, Outcome] = {}
        for path, entry in self._old.items():
            if len(entry) == 1:
                outcomes[path] = SkippedFile(path, str(entry[0]))
            elif len(entry) == 8:
                outcomes[path] = SkippedFile(path, entry[5]) if entry[5] else SourceFile(path, int(entry[4]))
        return outcomes

    def verdict(self, path: str, info: os.stat_result) -> Outcome | None:
        """The remembered verdict for `path` if its stat signature is unchanged, else None."""
        entry = self._old.get(path)
        if not _matches(entry, info):
            return None
        self.reused += 1
        return self._carry(path, entry)

    def _carry(self, path: str, entry: list[Any]) -> Outcome:
        """Carry a matching full entry into this run's memo (flag included); its verdict."""
        self._new[path] = entry
        if entry[7]:
            self._flagged[path] = entry[7]
        return SkippedFile(path, entry[5]) if entry[5] else SourceFile(path, entry[4])

    def digest(self, path: str) -> str:
        """The content hash recorded with `path`'s verdict this run ("" when its content was not read)."""
        entry = self._new.get(path)
        return entry[6] if entry is not None and len(entry) == 8 else ""

    def newest_change_ns(self) -> int:
        """The newest ctime among the files this run looked at (0: none): the whole-run fast path
        trusts a run's view only if no file changed after it began to look (run/noop_stamp.py)."""
        return max((entry[3] for entry in self._new.values() if len(entry) == 8), default=0)

    # -- recording -----------------------------------------------------------
    def flag(self, path: str, note: Any = True) -> None:
        """Mark `path` for the caller with a JSON-able `note` (the secret scan found something in it: its
        positions); remembered with its verdict."""
        self._flagged[path] = note

    def flagged(self) -> dict[str, Any]:
        """Paths flagged this run, directly or from the memo, with their notes."""
        return dict(self._flagged)

    def remember_name(self, path: str, reason: str) -> None:
        """Record a verdict from the name alone; not for a name that is not UTF-8 (os.fsdecode's surrogates
        cannot be written as JSON: such a name is judged again next run, from its name, which is cheap)."""
        if path.isascii() or not _SURROGATE.search(path):
            self._new[path] = [reason]

    def remember(self, path: str, info: os.stat_result, outcome: Outcome, digest: str) -> None:
        """Record a fresh verdict (one that is never reused when the file changed too recently to trust
        its signature)."""
        signature: list[int | None] = list(stat_signature(info))
        if max(info.st_mtime_ns, info.st_ctime_ns) >= self.started_ns - RACY_NS:
            signature[0] = None  # kept for `remembered`, never matched by `verdict`
        size, reason = (outcome.size, "") if isinstance(outcome, SourceFile) else (-1, outcome.reason)
        self._new[path] = [*signature, size, reason, digest, self._flagged.get(path, False)]

    def save(self) -> None:
        """Write what this run saw (only paths that are still candidates) atomically, if anything differs."""
        if self.path is None or self._new == self._old:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(self.path, orjson.dumps({"settings": self.settings, "entries": self._new}).decode())


def _matches(entry: object, info: os.stat_result) -> TypeGuard[list[Any]]:
    """`entry` is a full verdict (stat signature, size, reason, digest, flag) whose signature is `info`'s:
    the one test of "unchanged since the memo was written", for one file and for the whole-tree pass."""
    return (type(entry) is list and len(entry) == 8 and entry[0] == info.st_mtime_ns and entry[1] == info.st_size
            and entry[2] == info.st_ino and entry[3] == info.st_ctime_ns and type(entry[4]) is int
            and type(entry[5]) is str and type(entry[6]) is str)

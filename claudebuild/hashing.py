"""Content hashes (xxhash) and canonical-JSON digests.

Incremental analysis is only as correct as its change detection: mtime-based
checks miss edits that restore the mtime (`cp -p`, tar, rsync -t), so a file
counts as unchanged only when its full stat signature matches, and otherwise
its bytes are hashed. The memo makes the second look at a file within one
process (checker, then the up-to-date test, then the prompt) nearly free.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import orjson
import xxhash

StatSignature = tuple[int, int, int, int]


def stat_signature(st: os.stat_result) -> StatSignature:
    """Everything cheap that changes when a file is rewritten, ctime included."""
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_ctime_ns)


def hash_bytes(data: bytes) -> str:
    return xxhash.xxh3_64_hexdigest(data)


def digest_json(value: Any) -> str:
    """Stable digest of JSON-able data: sorted keys, compact separators."""
    return hash_bytes(orjson.dumps(value, option=orjson.OPT_SORT_KEYS))


class ContentHasher:
    """Hashes files by content, reusing a hash while the stat signature is unchanged."""

    def __init__(self) -> None:
        self._memo: dict[str, tuple[StatSignature, str]] = {}
        self._lock = threading.Lock()
        self._fresh: frozenset[str] = frozenset()  # seeded from a stat taken moments ago (see `remember_all`)

    def hash_file(self, path: str | os.PathLike[str]) -> str:
        key = _key(path)
        if key in self._fresh:
            fresh = self._memo.get(key)  # no lock: one dict read, and `remember` replaces entries whole
            if fresh is not None:
                return fresh[1]
        signature = stat_signature(os.stat(key))
        with self._lock:
            known = self._memo.get(key)
        if known and known[0] == signature:
            return known[1]
        with open(key, "rb") as handle:
            digest = hash_bytes(handle.read())
        with self._lock:
            self._memo[key] = (signature, digest)
        return digest

    def remember(self, path: str, signature: StatSignature, digest: str) -> None:
        """Record a hash computed elsewhere (e.g. from bytes just sent to Claude)."""
        with self._lock:
            key = _key(path)
            self._memo[key] = (signature, digest)
            if key in self._fresh:
                self._fresh = self._fresh - {key}

    def remember_all(self, known: list[tuple[str, StatSignature, str]]) -> None:
        """`remember` for many (absolute path, signature, digest) at once, from a stat just taken (discovery):
        until `distrust`, their hash is answered without another stat, so the up-to-date checks of a no-op
        run cost nothing per file. Whoever may see files change afterwards (a doit run, the report after
        it) calls `distrust` first."""
        with self._lock:
            keys = []
            for path, signature, digest in known:
                key = _key(path)
                self._memo[key] = (signature, digest)
                keys.append(key)
            self._fresh = frozenset(keys)

    def distrust(self) -> None:
        """From now on every hash is checked against a new stat again."""
        with self._lock:
            self._fresh = frozenset()


def _key(path: str | os.PathLike[str]) -> str:
    """An absolute path as given (callers join a resolved root and a repo path: already normal), else
    made absolute. Two spellings of one file only cost a second hash, never a wrong one."""
    text = os.fspath(path)
    return text if text.startswith("/") else os.path.abspath(text)


DEFAULT_HASHER = ContentHasher()
"""Process-wide memo; safe to share because every entry is guarded by its stat signature."""

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

    def hash_file(self, path: str | os.PathLike[str]) -> str:
        key = _key(path)
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
            self._memo[_key(path)] = (signature, digest)

    def remember_all(self, known: list[tuple[str, StatSignature, str]]) -> None:
        """`remember` for many (absolute path, signature, digest) at once: one lock, no per-file overhead."""
        with self._lock:
            self._memo.update((_key(path), (signature, digest)) for path, signature, digest in known)


def _key(path: str | os.PathLike[str]) -> str:
    """An absolute path as given (callers join a resolved root and a repo path: already normal), else
    made absolute. Two spellings of one file only cost a second hash, never a wrong one."""
    text = os.fspath(path)
    return text if text.startswith("/") else os.path.abspath(text)


DEFAULT_HASHER = ContentHasher()
"""Process-wide memo; safe to share because every entry is guarded by its stat signature."""

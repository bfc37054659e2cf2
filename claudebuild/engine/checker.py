"""doit's file checker for claudebuild: content (xxhash) decides, the stat signature is a shortcut."""

from __future__ import annotations

import os
from typing import Any

from doit.dependency import FileChangedChecker

from claudebuild.hashing import DEFAULT_HASHER, stat_signature


class XxhashChecker(FileChangedChecker):  # type: ignore[misc]  # doit is untyped: the base is Any
    """A file changed unless its full stat signature matches, or failing that its xxhash does.

    doit's MD5 checker trusts a matching mtime and misses same-size edits that
    restore it; ctime and inode are part of the signature here, and content
    decides when they differ."""

    def check_modified(self, file_path: str, file_stat: os.stat_result, state: Any) -> bool:
        if not state or len(state) != 5:
            return True
        if list(stat_signature(file_stat)) == list(state[:4]):
            return False
        return bool(DEFAULT_HASHER.hash_file(file_path) != state[4])

    def get_state(self, dep: str, current_state: Any) -> Any:
        """The state doit stores after a task ran. A file deleted while its chunk was analyzed
        gets a state that never matches (so the chunk reruns) instead of an exception, which
        doit would turn into an error that stops the whole run."""
        try:
            signature = stat_signature(os.stat(dep))
            if current_state and len(current_state) == 5 and list(signature) == list(current_state[:4]):
                return None  # unchanged: keep what is stored
            return [*signature, DEFAULT_HASHER.hash_file(dep)]
        except OSError:
            return [MISSING]


MISSING = "missing"
"""The stored state of a file that was gone when its task finished."""

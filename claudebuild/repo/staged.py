"""The git index as a content source, for the pre-commit hook.

A commit records the index, not the working tree, so the hook reviews the
staged blobs: `git diff --cached` names the staged files and `git cat-file
--batch` reads every blob in one process. Chunks come from the last run's
view of the whole tree (the discovery memo) with the staged files looked at
afresh, so a staged file lands in the same chunk (and the same cache entry) as
in a normal run while the hook reads only what is staged.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

from claudebuild.errors import ClaudebuildError
from claudebuild.repo.git import git_process
from claudebuild.hashing import hash_bytes


def git_output(root: Path, *args: str, stdin: bytes | None = None, repository_hooks_path: bool = False) -> bytes:
    """`git args` in `root` with git's own environment kept (a hook's `GIT_INDEX_FILE` names the index being
    committed), no program from the repository's config (`git_process`); its stdout, or a one-line error."""
    argv, env = git_process(root, args, os.environ, repository_hooks_path=repository_hooks_path)
    try:
        done = subprocess.run(argv, cwd=root, input=stdin, capture_output=True, check=False, env=env)
    except FileNotFoundError:
        raise ClaudebuildError("git is not installed, and the pre-commit hook needs it to read staged files") from None
    if done.returncode != 0:
        message = done.stderr.decode(errors="replace").strip().splitlines()
        raise ClaudebuildError(f"git {args[0]} failed: {message[-1] if message else done.returncode}")
    return done.stdout


def staged_paths(root: Path) -> list[str]:
    """Files added, copied, modified or renamed in the index, relative to `root`.

    `--relative` run in `root` already gives paths relative to it (and only those under it):
    nothing more is stripped, or `mysite/settings.py` under a root at `mysite/` would lose its
    own directory and never be reviewed."""
    output = git_output(root, "diff", "--no-ext-diff", "--no-textconv", "--cached", "--name-only", "--diff-filter=ACMR", "-z", "--relative")
    return sorted(item.decode("utf-8", errors="surrogateescape") for item in output.split(b"\0") if item)


def staged_removals(root: Path) -> list[str]:
    """Files the index deletes (a rename counts as its old name deleted), relative to `root`."""
    output = git_output(root, "diff", "--no-ext-diff", "--no-textconv", "--cached", "--name-only", "--no-renames", "--diff-filter=D", "-z", "--relative")
    return sorted(item.decode("utf-8", errors="surrogateescape") for item in output.split(b"\0") if item)


class GitIndex:
    """Reads blobs of the index for the given repo-relative paths (all at once, lazily)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._blobs: dict[str, bytes] | None = None

    def load(self, paths: Iterable[str]) -> None:
        wanted = sorted(set(paths))
        listing = git_output(self.root, "ls-files", "-s", "-z", "--", *wanted) if wanted else b""
        objects: list[tuple[str, str]] = []
        for record in listing.split(b"\0"):
            if not record:
                continue
            meta, _, raw_name = record.partition(b"\t")
            mode, sha, stage = meta.decode().split()
            if stage == "0" and not mode.startswith("120") and not mode.startswith("160"):
                objects.append((raw_name.decode("utf-8", errors="surrogateescape"), sha))
        blobs: dict[str, bytes] = {}
        if objects:
            output = git_output(self.root, "cat-file", "--batch", stdin="".join(f"{sha}\n" for _, sha in objects).encode())
            offset = 0
            for name, _sha in objects:
                header_end = output.index(b"\n", offset)
                _, _kind, size = output[offset:header_end].decode().split()
                start = header_end + 1
                blobs[name] = output[start : start + int(size)]
                offset = start + int(size) + 1
        self._blobs = blobs

    def has(self, path: str) -> bool:
        return self._blobs is not None and path in self._blobs

    def read(self, path: str) -> bytes:
        if self._blobs is None or path not in self._blobs:
            raise FileNotFoundError(f"{path} is not in the git index")
        return self._blobs[path]

    def hash_of(self, path: str) -> str:
        return hash_bytes(self.read(path))

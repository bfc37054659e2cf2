"""Read a file of the repository under review without being redirected out of it.

The repository is untrusted and can change while we run: a file listed as
regular at discovery can be a symlink to `/etc/passwd` by the time its chunk is
sent, and a directory on its path can become a symlink to anywhere. Checking
first and opening later (`Path.read_bytes()`) follows whatever is there at the
moment of the open. So every read of repository content opens the file once,
refuses a symlink in the last component (`O_NOFOLLOW`), never blocks on a FIFO
(`O_NONBLOCK`), and then checks the *opened* file: `fstat` says it is a regular
file, and the kernel's name for the descriptor lies inside the root, which also
catches a symlinked parent directory. Only then is it read.
"""

from __future__ import annotations

import errno
import functools
import os
import stat
from dataclasses import dataclass
from pathlib import Path

_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_NONBLOCK", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_BINARY", 0)
)
_PROC_FD = Path("/proc/self/fd")


class OutsideRepository(OSError):
    """The path is not a regular file inside the repository (anymore): it is not read."""


@dataclass(frozen=True)
class ContainedRead:
    """The bytes read and the `fstat` of the very descriptor they came from."""

    data: bytes
    stat: os.stat_result


def check_relative(path: str) -> None:
    """Refuse a repository path that could name something outside the root by its spelling alone."""
    if not path or "\0" in path or path.startswith("/") or ".." in path.split("/"):
        raise OutsideRepository(errno.EPERM, "not a path inside the repository", path)


def read_contained(root: Path | str, path: str, limit: int | None = None) -> ContainedRead:
    """Read at most `limit` bytes (all when None) of `root/path`, a repo-relative POSIX path.

    Raises `OutsideRepository` for a symlink, a special file or a path that resolves
    outside `root`, and the usual `OSError`s for missing or unreadable files.
    """
    check_relative(path)
    real_root = _real_root(os.fspath(root))
    full = os.path.join(real_root, path)
    try:
        fd = os.open(full, _FLAGS)
    except OSError as error:
        if error.errno == errno.ELOOP:  # O_NOFOLLOW on a symlink
            raise OutsideRepository(errno.ELOOP, "is a symlink", path) from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise OutsideRepository(errno.EINVAL, "not a regular file", path)
        if not _inside(_opened_path(fd, full), real_root):
            raise OutsideRepository(errno.EPERM, "resolves outside the repository", path)
        return ContainedRead(_read_fd(fd, limit), info)
    finally:
        os.close(fd)


@functools.lru_cache(maxsize=64)
def _real_root(root: str) -> str:
    """The root is the user's choice, not the repository's: resolving it once per process is enough."""
    return os.path.realpath(root)


def _opened_path(fd: int, full: str) -> str:
    """What the kernel says `fd` is (Linux); elsewhere the resolved name, checked just after the open."""
    try:
        return os.readlink(_PROC_FD / str(fd))
    except OSError:
        return os.path.realpath(full)


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _read_fd(fd: int, limit: int | None) -> bytes:
    pieces: list[bytes] = []
    remaining = limit
    while remaining is None or remaining > 0:
        piece = os.read(fd, 1 << 20 if remaining is None else min(remaining, 1 << 20))
        if not piece:
            break
        pieces.append(piece)
        if remaining is not None:
            remaining -= len(piece)
    return b"".join(pieces)

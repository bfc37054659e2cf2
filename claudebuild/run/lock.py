"""One run at a time per repository: an advisory lock on `.claudebuild/lock`.

Two runs on one state directory would both pay for the same chunks and race on
the reports; pre-commit may even start hooks in parallel. The second run waits
(saying so once) and gives up with a clear message after `lock_timeout`.
The kernel drops the lock when the process dies, even on kill -9.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path
from typing import TextIO

from claudebuild.errors import ClaudebuildError, state_error


class StateLock:
    def __init__(self, path: Path, *, timeout: float, out: TextIO, poll: float = 0.2) -> None:
        self.path = path
        self.timeout = timeout
        self.out = out
        self.poll = poll
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        except OSError as error:
            raise state_error(self.path, error) from error
        deadline = time.monotonic() + self.timeout
        announced = False
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = self._holder(fd)
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise ClaudebuildError(
                        f"another claudebuild run{holder} is using {self.path}; wait for it to finish or stop it, then rerun"
                    ) from None
                if not announced:
                    print(f"claudebuild: waiting for another run{holder} to finish ({self.path})", file=self.out, flush=True)
                    announced = True
                time.sleep(self.poll)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    @staticmethod
    def _holder(fd: int) -> str:
        try:
            pid = os.pread(fd, 32, 0).decode().strip()
        except OSError:
            return ""
        return f" (pid {pid})" if pid.isdigit() else ""

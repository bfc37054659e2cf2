"""`claudebuild analyze` with nothing changed since the last no-op: its outcome again, at the cost of a
`git status` (run/noop_stamp.py), before anything that plans or runs a build is even imported."""

from __future__ import annotations

import sys

from claudebuild.config import Config
from claudebuild.repo.state_dir import ensure_own_state
from claudebuild.run.lock import StateLock
from claudebuild.run.noop_stamp import NoopStamp, Outcome


def look_noop(config: Config) -> tuple[NoopStamp, Outcome | None]:
    """The stamp (which the slow run records to, if it finds nothing to do) and, if nothing changed since
    it was stored, the outcome to repeat. The state dir is checked as `Build` checks it, and the lock held
    while looking: a run in progress finishes first (the slow run after takes the lock again)."""
    stamp = NoopStamp(config)
    ensure_own_state(config.root, config.state_dir)  # which makes the state dir when there is none yet
    lock = StateLock(config.state_path / "lock", timeout=config.lock_timeout, out=sys.stderr)
    lock.acquire()
    try:
        return stamp, stamp.look()
    finally:
        lock.release()

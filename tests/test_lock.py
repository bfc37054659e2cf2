"""The state lock is held for a whole command and released exactly once, however the command ends."""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pytest

from claudebuild.run.build import Build
from claudebuild.config import load_config
from claudebuild.engine.loader import run_doit
from claudebuild.errors import ClaudebuildError
from claudebuild.run.lock import StateLock


def free(build: Build) -> bool:
    """Whether another run could take the lock now (a second lock file handle, as a second process has)."""
    other = StateLock(build.lock.path, timeout=0, out=io.StringIO())
    try:
        other.acquire()
    except ClaudebuildError:
        return False
    other.release()
    return True


@pytest.fixture
def build(make_repo: Callable[..., Path]) -> Build:
    return Build(load_config(make_repo({"app.py": "x = 1\n"})))


def test_a_nested_block_leaves_the_lock_to_the_outer_one(build: Build) -> None:
    with build.locked():
        with build.locked():
            build.plan()
        assert build.lock.held and not free(build)
    assert not build.lock.held and free(build)


def test_doit_run_inside_a_command_leaves_the_lock_held_for_what_follows(build: Build) -> None:
    with build.locked():
        assert run_doit(build, ["list"]) == 0
        assert not free(build)  # e.g. `--max-cost` publishes (GC, reports) after doit: still locked
    assert free(build)


def test_doit_run_alone_takes_and_releases_the_lock(build: Build) -> None:
    assert run_doit(build, ["list"]) == 0
    assert not build.lock.held and free(build)


def test_an_error_inside_the_block_releases_the_lock(build: Build) -> None:
    with pytest.raises(ClaudebuildError), build.locked():
        build.plan()
        raise ClaudebuildError("boom")
    assert free(build)

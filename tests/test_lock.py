"""`with Build(...)` holds the state lock and the signal handlers for a whole command, released exactly once."""

from __future__ import annotations

import io
import signal
from collections.abc import Callable
from pathlib import Path

import pytest

from claudebuild.run.build import Build
from claudebuild.config_sources import load_config
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
    with build:
        with build:
            build.plan()
        assert build.lock.held and not free(build)
    assert not build.lock.held and free(build)


def test_the_block_installs_the_signal_handlers_and_puts_the_previous_ones_back(build: Build) -> None:
    before = signal.getsignal(signal.SIGTERM)
    with build:
        with build:
            pass
        assert signal.getsignal(signal.SIGTERM) is not before  # still the build's after the inner block
    assert signal.getsignal(signal.SIGTERM) is before


def test_a_lock_taken_by_plan_before_the_block_is_not_released_by_it(build: Build) -> None:
    build.plan()  # plain doit: the lock stays until the process ends
    with build:
        pass
    assert build.lock.held


def test_what_the_build_says_goes_to_its_stream(make_repo: Callable[..., Path]) -> None:
    out = io.StringIO()
    with Build(load_config(make_repo({"app.py": "x = 1\n"})), out=out) as build:
        build.say("hello")
    assert out.getvalue() == "hello\n"


def test_a_lock_that_cannot_be_taken_leaves_no_handler_behind(build: Build) -> None:
    other = StateLock(build.lock.path, timeout=0, out=io.StringIO())
    other.acquire()
    build.lock.timeout = 0
    before = signal.getsignal(signal.SIGINT)
    try:
        with pytest.raises(ClaudebuildError, match="another claudebuild run"), build:
            pass
    finally:
        other.release()
    assert signal.getsignal(signal.SIGINT) is before and not build.lock.held


def test_doit_run_inside_a_command_leaves_the_lock_held_for_what_follows(build: Build) -> None:
    with build:
        assert run_doit(build, ["list"]) == 0
        assert not free(build)  # e.g. `--max-cost` publishes (GC, reports) after doit: still locked
    assert free(build)


def test_doit_run_alone_takes_and_releases_the_lock(build: Build) -> None:
    assert run_doit(build, ["list"]) == 0
    assert not build.lock.held and free(build)


def test_an_error_inside_the_block_releases_the_lock(build: Build) -> None:
    with pytest.raises(ClaudebuildError), build:
        build.plan()
        raise ClaudebuildError("boom")
    assert free(build)

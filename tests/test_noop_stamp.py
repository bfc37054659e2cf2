"""The whole-run fast path's stamp: it matches only while nothing a run depends on has changed."""

from __future__ import annotations

import datetime as real_datetime
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from claudebuild.config import Config
from claudebuild.repo.tree_state import read_tree_state, status_paths
from claudebuild.run import noop_stamp
from claudebuild.run.noop_stamp import COARSE_NS, NoopStamp, Outcome, settled

from conftest import git, write_files

OUTCOME = Outcome("claudebuild: every chunk is up to date\nclaudebuild: 0 findings (none)", 0)


@pytest.fixture(autouse=True)
def settled_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files written by a test are milliseconds old; the clock tick of a look is moved a second on so that
    they count as settled (the racy rule has its own tests, on the real clock)."""
    real = noop_stamp.clock_tick
    monkeypatch.setattr(noop_stamp, "clock_tick", lambda state: real(state) + 1_000_000_007)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = write_files(tmp_path / "repo", {"a.py": "x = 1\n", "lib/b.py": "y = 2\n", ".gitignore": ".claudebuild/\n",
                                           "dirty.py": "z = 3\n"})
    git(root, "init", "-q", "-b", "main")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "start")
    (root / "dirty.py").write_text("z = 4\n")  # dirty when the stamp is taken
    (root / ".claudebuild").mkdir()
    (root / ".claudebuild" / "doit.sqlite").write_bytes(b"results")
    return root


def stamped(root: Path, config: Config | None = None) -> NoopStamp:
    """A stamp recorded for `root` as it is now."""
    stamp = NoopStamp(config or Config(root=root))
    assert stamp.look() is None
    assert stamp.record(OUTCOME, discovered_newest_ns=0, skip_reasons=set())
    return stamp


def matches(root: Path, config: Config | None = None) -> bool:
    return NoopStamp(config or Config(root=root)).look() == OUTCOME


def test_an_unchanged_tree_repeats_the_stored_outcome(repo: Path) -> None:
    stamped(repo)
    assert matches(repo)


@pytest.mark.parametrize("change", [
    pytest.param(lambda root: (root / "a.py").write_text("x = 2\n"), id="edit of a clean file"),
    pytest.param(lambda root: (root / "new.py").write_text("n = 1\n"), id="new untracked file"),
    pytest.param(lambda root: write_files(root, {"lib/deep/new.py": "n = 1\n"}), id="new file in a new directory"),
    pytest.param(lambda root: (root / "lib/b.py").unlink(), id="deleted file"),
    pytest.param(lambda root: git(root, "mv", "a.py", "renamed.py"), id="renamed file"),
    pytest.param(lambda root: git(root, "add", "dirty.py"), id="git add"),
    pytest.param(lambda root: git(root, "commit", "-q", "-am", "more"), id="commit"),
    pytest.param(lambda root: (root / ".gitignore").write_text(".claudebuild/\nlib/\n"), id="changed gitignore"),
    pytest.param(lambda root: (root / "dirty.py").write_text("z = 5\n"), id="dirty file edited again"),
])
def test_a_change_to_the_tree_is_seen(repo: Path, change: Callable[[Path], object]) -> None:
    stamped(repo)
    change(repo)
    assert not matches(repo)


def test_a_checkout_of_another_branch_is_seen(repo: Path) -> None:
    git(repo, "stash", "-q")
    git(repo, "checkout", "-q", "-b", "other")
    (repo / "a.py").write_text("x = 9\n")
    git(repo, "commit", "-q", "-am", "other")
    git(repo, "checkout", "-q", "main")
    stamped(repo)
    git(repo, "checkout", "-q", "other")
    assert not matches(repo)


def test_an_edit_of_a_dirty_file_that_keeps_size_and_mtime_is_seen(repo: Path) -> None:
    target = repo / "dirty.py"
    before = target.stat()
    stamped(repo)
    target.write_text("z = 7\n")  # same size
    os.utime(target, ns=(before.st_atime_ns, before.st_mtime_ns))  # same mtime: only the ctime tells
    assert not matches(repo)


def test_a_claudeignore_that_git_ignores_is_still_watched(repo: Path) -> None:
    (repo / ".gitignore").write_text(".claudebuild/\n.claudeignore\n")
    (repo / ".claudeignore").write_text("")
    stamped(repo)
    (repo / ".claudeignore").write_text("lib/\n")
    assert not matches(repo)


def test_a_changed_setting_is_seen(repo: Path) -> None:
    stamped(repo)
    assert not matches(repo, Config(root=repo, model="claude-opus-5-5"))


def test_a_written_database_is_seen(repo: Path) -> None:
    stamped(repo)
    with open(repo / ".claudebuild" / "doit.sqlite", "ab") as handle:
        handle.write(b"one more row")
    assert not matches(repo)


def test_a_database_replaced_by_a_copy_with_the_same_size_and_mtime_is_seen(repo: Path, tmp_path: Path) -> None:
    database = repo / ".claudebuild" / "doit.sqlite"
    stamped(repo)
    copy = tmp_path / "other.sqlite"
    copy.write_bytes(b"forged!")
    shutil.copystat(database, copy)
    os.replace(copy, database)
    assert not matches(repo)


def test_a_new_day_is_seen(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stamped(repo)

    class Tomorrow(real_datetime.date):
        @classmethod
        def today(cls) -> Tomorrow:
            return cls.fromordinal(real_datetime.date.today().toordinal() + 1)

    monkeypatch.setattr(noop_stamp, "date", Tomorrow)  # a suppression may have expired
    assert not matches(repo)


def test_no_stamp_outside_git(tmp_path: Path) -> None:
    root = write_files(tmp_path / "plain", {"a.py": "x = 1\n"})
    (root / ".claudebuild").mkdir()
    stamp = NoopStamp(Config(root=root))
    assert stamp.look() is None
    assert not stamp.record(OUTCOME, discovered_newest_ns=0, skip_reasons=set())


def test_no_stamp_when_the_run_saw_a_file_changed_after_the_look(repo: Path) -> None:
    stamp = NoopStamp(Config(root=repo))
    stamp.look()
    assert not stamp.record(OUTCOME, discovered_newest_ns=stamp.tick, skip_reasons=set())


def test_no_stamp_with_a_file_git_does_not_look_at(repo: Path) -> None:
    git(repo, "update-index", "--assume-unchanged", "a.py")
    stamp = NoopStamp(Config(root=repo))
    stamp.look()
    assert not stamp.record(OUTCOME, discovered_newest_ns=0, skip_reasons=set())


def test_no_stamp_with_an_unreadable_file(repo: Path) -> None:
    stamp = NoopStamp(Config(root=repo))
    stamp.look()
    assert not stamp.record(OUTCOME, discovered_newest_ns=0, skip_reasons={"binary", "unreadable"})


def test_a_refused_record_drops_the_old_stamp(repo: Path) -> None:
    stamped(repo)
    stamp = NoopStamp(Config(root=repo))
    assert stamp.look() == OUTCOME
    assert not stamp.record(OUTCOME, discovered_newest_ns=stamp.tick, skip_reasons=set())
    assert not matches(repo)


def test_a_change_in_the_same_clock_tick_as_the_look_is_never_trusted() -> None:
    assert not settled(5_000_000_123, 5_000_000_123)
    assert settled(5_000_000_122, 5_000_000_123)


def test_whole_second_timestamps_are_trusted_only_two_seconds_on() -> None:
    assert not settled(5_000_000_000, 5_500_000_000)
    assert not settled(4_000_000_000, 5_000_000_000)
    assert settled(5_000_000_000, 5_000_000_000 + COARSE_NS)


def test_status_paths_names_both_sides_of_a_rename_and_keeps_spaces() -> None:
    output = (b"# branch.oid abc\0# branch.head main\0"
              b"1 .M N... 100644 100644 100644 aaa aaa dir/a file.py\0"
              b"2 R. N... 100644 100644 100644 aaa aaa R100 new name.py\0old name.py\0"
              b"? untracked dir/x.py\0")
    assert status_paths(output) == ["dir/a file.py", "new name.py", "old name.py", "untracked dir/x.py"]


def test_the_tree_state_lists_dirty_and_untracked_files_from_the_top_of_the_work_tree(repo: Path) -> None:
    write_files(repo, {"lib/c.py": "c = 1\n"})
    state = read_tree_state(repo / "lib")
    assert state is not None
    assert [path for path, _ in state.files] == ["lib/c.py"]

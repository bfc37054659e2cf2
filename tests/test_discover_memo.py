"""The discovery memo: a verdict is reused only for the same file signature under the same settings."""

from __future__ import annotations

import os
from pathlib import Path

from claudebuild.model import SkippedFile, SourceFile
from claudebuild.pipeline.discover import discover_files
from claudebuild.pipeline.discover_memo import RACY_NS, DiscoveryMemo


def old_file(root: Path, name: str, text: str) -> Path:
    """A file whose mtime and ctime lie outside the racy window (ctime is now; the memo's start is moved on)."""
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def memo_after(memo_path: Path, settings: str = "s", *, later_ns: int = 2 * RACY_NS) -> DiscoveryMemo:
    memo = DiscoveryMemo.load(memo_path, settings)
    memo.started_ns += later_ns  # as if the run started well after the files were written
    return memo


def test_an_unchanged_file_gets_its_remembered_verdict(tmp_path: Path) -> None:
    path = old_file(tmp_path, "a.py", "x = 1\n")
    memo = memo_after(tmp_path / "memo.json")
    memo.bind(k=1)
    memo.remember("a.py", os.lstat(path), SourceFile("a.py", 6), "digest")
    memo.save()
    again = DiscoveryMemo.load(tmp_path / "memo.json", "s")
    again.bind(k=1)
    assert again.verdict("a.py", os.lstat(path)) == SourceFile("a.py", 6)
    assert again.digest("a.py") == "digest" and again.reused == 1


def test_a_rewritten_file_is_not_reused(tmp_path: Path) -> None:
    path = old_file(tmp_path, "a.py", "x = 1\n")
    memo = memo_after(tmp_path / "memo.json")
    memo.bind(k=1)
    memo.remember("a.py", os.lstat(path), SourceFile("a.py", 6), "digest")
    memo.save()
    before = os.lstat(path)
    path.write_text("x = 2\n")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # same size and mtime; ctime moves
    again = DiscoveryMemo.load(tmp_path / "memo.json", "s")
    again.bind(k=1)
    assert again.verdict("a.py", os.lstat(path)) is None


def test_a_file_changed_within_the_racy_window_is_not_remembered(tmp_path: Path) -> None:
    path = old_file(tmp_path, "a.py", "x = 1\n")
    memo = DiscoveryMemo.load(tmp_path / "memo.json", "s")  # started just now: the file is seconds old
    memo.bind(k=1)
    memo.remember("a.py", os.lstat(path), SourceFile("a.py", 6), "digest")
    memo.save()
    again = DiscoveryMemo.load(tmp_path / "memo.json", "s")
    again.bind(k=1)
    assert again.verdict("a.py", os.lstat(path)) is None


def test_other_settings_drop_every_verdict(tmp_path: Path) -> None:
    path = old_file(tmp_path, "a.py", "x = 1\n")
    memo = memo_after(tmp_path / "memo.json")
    memo.bind(k=1)
    memo.remember("a.py", os.lstat(path), SkippedFile("a.py", "generated"), "d")
    memo.remember_name("b.lock", "lockfile")
    memo.save()
    for caller, discovery in (("other", {"k": 1}), ("s", {"k": 2})):
        again = DiscoveryMemo.load(tmp_path / "memo.json", caller)
        again.bind(**discovery)
        assert again.verdict("a.py", os.lstat(path)) is None and again.name_verdict("b.lock") is None


def test_a_flag_is_remembered_with_its_verdict(tmp_path: Path) -> None:
    path = old_file(tmp_path, "a.py", "password = 'x'\n")
    memo = memo_after(tmp_path / "memo.json")
    memo.bind(k=1)
    memo.flag("a.py")
    memo.remember("a.py", os.lstat(path), SourceFile("a.py", 15), "d")
    memo.save()
    again = DiscoveryMemo.load(tmp_path / "memo.json", "s")
    again.bind(k=1)
    assert again.verdict("a.py", os.lstat(path)) is not None and again.flagged() == {"a.py": True}


def test_an_unreadable_memo_is_an_empty_one(tmp_path: Path) -> None:
    (tmp_path / "memo.json").write_bytes(b"\0not json")
    memo = DiscoveryMemo.load(tmp_path / "memo.json", "s")
    memo.bind(k=1)
    assert memo.verdict("a.py", os.lstat(tmp_path / "memo.json")) is None


def test_discovery_with_a_memo_gives_the_same_answer_as_without(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    for name, text in {"a.py": "x = 1\n", "b.min.js": "x", "c.bin": "\0\0", "yarn.lock": "l", "e.py": ""}.items():
        old_file(root, name, text)
    plain = discover_files(root, max_file_bytes=1000)
    memo = memo_after(tmp_path / "memo.json")
    first = discover_files(root, max_file_bytes=1000, memo=memo)
    memo.save()
    again = memo_after(tmp_path / "memo.json")
    second = discover_files(root, max_file_bytes=1000, memo=again)
    assert first == plain and second == plain
    assert again.reused == 3  # a.py, c.bin, e.py: the name-only verdicts are not counted


def test_a_file_name_that_is_not_utf8_is_skipped_and_the_memo_is_still_written(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    old_file(root, "a.py", "x = 1\n")
    (root / os.fsdecode(b"bad\xff.py")).write_text("y = 2\n")
    memo = memo_after(tmp_path / "memo.json")
    found = discover_files(root, max_file_bytes=1000, memo=memo)
    memo.save()
    assert [s.reason for s in found.skipped] == ["not-utf8"]
    again = memo_after(tmp_path / "memo.json")
    assert discover_files(root, max_file_bytes=1000, memo=again) == found

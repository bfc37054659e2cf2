"""Reads of repository content cannot be redirected outside the repository (issue: symlink swaps)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from claudebuild.contained import OutsideRepository, read_contained


@pytest.fixture
def root(tmp_path: Path) -> Path:
    repo = tmp_path / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "pkg" / "a.py").write_text("x = 1\n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_text("top secret\n")
    return repo


def test_a_regular_file_inside_the_root_is_read_with_its_stat(root: Path) -> None:
    read = read_contained(root, "pkg/a.py")

    assert read.data == b"x = 1\n" and read.stat.st_size == 6


def test_a_limit_reads_only_the_head(root: Path) -> None:
    assert read_contained(root, "pkg/a.py", limit=3).data == b"x ="


def test_a_file_replaced_by_a_symlink_is_refused(root: Path) -> None:
    (root / "pkg" / "a.py").unlink()
    (root / "pkg" / "a.py").symlink_to(root.parent / "outside" / "secret.txt")

    with pytest.raises(OutsideRepository):
        read_contained(root, "pkg/a.py")


def test_a_directory_replaced_by_a_symlink_is_refused(root: Path) -> None:
    (root / "pkg" / "a.py").unlink()
    (root / "pkg").rmdir()
    (root / "pkg").symlink_to(root.parent / "outside")
    (root.parent / "outside" / "a.py").write_text("outside\n")

    with pytest.raises(OutsideRepository):
        read_contained(root, "pkg/a.py")


def test_a_fifo_is_refused_without_blocking(root: Path) -> None:
    os.mkfifo(root / "pipe")

    with pytest.raises(OutsideRepository):
        read_contained(root, "pipe")


@pytest.mark.parametrize("path", ["../outside/secret.txt", "/etc/passwd", "pkg/../../outside/secret.txt", "a\0b", ""])
def test_paths_that_spell_a_way_out_are_refused_before_any_open(root: Path, path: str) -> None:
    with pytest.raises(OutsideRepository):
        read_contained(root, path)


def test_a_root_that_is_itself_a_symlink_still_reads_its_files(root: Path, tmp_path: Path) -> None:
    link = tmp_path / "link"
    link.symlink_to(root)

    assert read_contained(link, "pkg/a.py").data == b"x = 1\n"

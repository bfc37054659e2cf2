"""The plan memo: the stored plan is reused only when it is exactly the plan `plan_checks` would make."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from claudebuild.checks import Check
from claudebuild.model import SourceFile
from claudebuild.pipeline.check_plan import CheckChunk, plan_checks
from claudebuild.pipeline.chunk_memo import planned_with_memo

MAX_FILES, MAX_BYTES = 4, 1000


def plan(files: list[SourceFile], checks: tuple[Check, ...] = ()) -> tuple[CheckChunk, ...]:
    return plan_checks(files, checks=checks, rules=(), max_files=MAX_FILES, max_bytes=MAX_BYTES)


def memo_plan(memo: Path, files: list[SourceFile], checks: tuple[Check, ...] = ()) -> tuple[CheckChunk, ...]:
    return planned_with_memo(memo, files, repr(checks), lambda: plan(files, checks), max_bytes=MAX_BYTES)


def refuse() -> tuple[CheckChunk, ...]:
    raise AssertionError("planned afresh")


def tree(rng: random.Random, count: int) -> list[SourceFile]:
    paths = {f"{rng.choice('abc')}/{rng.choice('xyz')}/f{index}.py" for index in range(count)}
    return [SourceFile(path, rng.randint(1, MAX_BYTES // 3)) for path in sorted(paths)]


@pytest.mark.parametrize("seed", range(40))
def test_the_plan_after_files_grew_is_the_plan_made_afresh(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    files = tree(rng, 60)
    memo = tmp_path / "plan.json"
    memo_plan(memo, files)
    for _ in range(5):
        grown = rng.sample(range(len(files)), rng.randint(1, 3))
        files = [SourceFile(f.path, f.size + rng.randint(0, 400)) if index in grown else f for index, f in enumerate(files)]
        assert memo_plan(memo, files) == plan(files)


def test_a_grown_file_whose_chunk_still_fits_is_not_planned_again(tmp_path: Path) -> None:
    files = [SourceFile(f"a/f{index}.py", 100) for index in range(10)]
    memo = tmp_path / "plan.json"
    memo_plan(memo, files)
    files[3] = SourceFile("a/f3.py", 150)
    assert planned_with_memo(memo, files, repr(()), refuse, max_bytes=MAX_BYTES) == plan(files)


@pytest.mark.parametrize("change", ["shrunk", "past the cap", "added", "removed"])
def test_any_other_change_plans_afresh(tmp_path: Path, change: str) -> None:
    files = [SourceFile(f"a/f{index}.py", 100) for index in range(10)]
    memo = tmp_path / "plan.json"
    memo_plan(memo, files)
    if change == "shrunk":
        files[3] = SourceFile("a/f3.py", 50)
    elif change == "past the cap":
        files[3] = SourceFile("a/f3.py", MAX_BYTES + 1)
    elif change == "added":
        files.append(SourceFile("a/new.py", 10))
    else:
        files.pop(3)
    with pytest.raises(AssertionError, match="planned afresh"):
        planned_with_memo(memo, files, repr(()), refuse, max_bytes=MAX_BYTES)


def test_named_checks_reuse_the_plan_of_each_check(tmp_path: Path) -> None:
    checks = (Check(name="sec", instructions="x", paths=("a/**",)), Check(name="all", instructions="y"))
    rng = random.Random(7)
    files = tree(rng, 40)
    memo = tmp_path / "plan.json"
    memo_plan(memo, files, checks)
    files[5] = SourceFile(files[5].path, files[5].size + 30)
    assert memo_plan(memo, files, checks) == plan(files, checks)


def test_the_hooks_loose_plan_keeps_the_chunks_of_a_shrunk_file_and_stores_nothing(tmp_path: Path) -> None:
    files = [SourceFile(f"a/f{index}.py", 300) for index in range(10)]
    memo = tmp_path / "plan.json"
    before = memo_plan(memo, files)
    stored = memo.read_bytes()
    files[3] = SourceFile("a/f3.py", 10)
    assert planned_with_memo(memo, files, repr(()), refuse, max_bytes=MAX_BYTES, loose=True) == before
    assert memo.read_bytes() == stored


def test_the_hooks_loose_plan_chunks_afresh_when_a_chunk_would_pass_the_cap(tmp_path: Path) -> None:
    files = [SourceFile(f"a/f{index}.py", 300) for index in range(10)]
    memo = tmp_path / "plan.json"
    memo_plan(memo, files)
    files[3] = SourceFile("a/f3.py", 900)
    with pytest.raises(AssertionError, match="planned afresh"):
        planned_with_memo(memo, files, repr(()), refuse, max_bytes=MAX_BYTES, loose=True)

"""Tests for claudebuild.pipeline.chunk: caps, parts, stability, order independence and ids.

The stability tests run on generated trees shaped like real repositories
(40 directories of various depth holding 1-80 files each, 1,000 files) so the
measured change counts mean something for real projects.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable

import pytest

from claudebuild.pipeline import chunk as chunk_module
from claudebuild.pipeline.chunk import chunk_id_escape, make_chunks, part_line_ranges, sort_key
from claudebuild.text_lines import split_lines
from claudebuild.model import Chunk, ChunkPart, SourceFile

NO_BYTE_CAP = 10**12
WORDS = (
    "api core db models views services handlers auth users billing search index cache queue jobs "
    "tasks io net http proto schema migrations admin cli config logging metrics storage events "
    "parser lexer codegen runtime fixtures docs"
).split()
EXTENSIONS = (".py", ".js", ".ts", ".go", ".md", ".json", ".yaml", ".css", ".html")


class Tree:
    """A random repository-like file tree; deterministic for a seed."""

    def __init__(self, seed: int, *, dirs: int = 40, files: int = 1000, max_size: int = 60_000) -> None:
        self.rng = random.Random(seed)
        self.max_size = max_size
        self.dirs = [""]
        while len(self.dirs) < dirs + 1:
            parent = self.rng.choice(self.dirs)
            if parent.count("/") >= 5:
                continue
            name = self.rng.choice(WORDS) + (str(self.rng.randrange(10)) if self.rng.random() < 0.3 else "")
            path = f"{parent}/{name}" if parent else name
            if path not in self.dirs:
                self.dirs.append(path)
        self.sizes: dict[str, int] = {}
        for directory in self.dirs:
            for _ in range(self.rng.randint(1, 80) if self.rng.random() < 0.3 else self.rng.randint(1, 25)):
                self.add(directory)
        while len(self.sizes) > files:
            self.sizes.pop(self.rng.choice(sorted(self.sizes)))
        while len(self.sizes) < files:
            self.add(self.rng.choice(self.dirs))

    def new_path(self, directory: str) -> str:
        while True:
            name = f"{self.rng.choice(WORDS)}_{self.rng.choice(WORDS)}{self.rng.randrange(100)}"
            path = f"{directory}/{name}" if directory else name
            path += self.rng.choice(EXTENSIONS)
            if path not in self.sizes:
                return path

    def new_size(self) -> int:
        return max(1, min(self.max_size, int(self.rng.lognormvariate(math.log(3000), 1.0))))

    def add(self, directory: str) -> str:
        path = self.new_path(directory)
        self.sizes[path] = self.new_size()
        return path

    def files(self, sizes: dict[str, int] | None = None) -> list[SourceFile]:
        return [SourceFile(path, size) for path, size in (sizes or self.sizes).items()]


def chunk_bytes(chunk: Chunk, sizes: dict[str, int]) -> int:
    return sum(sizes[p.path] for p in chunk.parts)


def new_chunk_count(old: Iterable[Chunk] | set[tuple[ChunkPart, ...]], new: Iterable[Chunk]) -> int:
    """Chunks of `new` whose membership is not among `old`'s: the ones re-analyzed."""
    old_parts = old if isinstance(old, set) else {c.parts for c in old}
    return sum(1 for c in new if c.parts not in old_parts)


def single_change_counts(seed: int, trials: int, *, max_files: int, max_bytes: int) -> dict[str, list[int]]:
    """Apply `trials` random single additions/removals to a fresh tree; new-chunk counts by kind."""
    tree = Tree(seed)
    base = {c.parts for c in make_chunks(tree.files(), max_files=max_files, max_bytes=max_bytes)}
    counts: dict[str, list[int]] = {"add": [], "remove": []}
    for trial in range(trials):
        sizes = dict(tree.sizes)
        if trial % 2:
            sizes.pop(tree.rng.choice(sorted(sizes)))
            kind = "remove"
        else:
            directory = tree.rng.choice(tree.dirs)
            if tree.rng.random() < 0.1:  # sometimes the file starts a new subdirectory
                directory = f"{directory}/fresh{trial}" if directory else f"fresh{trial}"
            sizes[tree.new_path(directory)] = tree.new_size()
            kind = "add"
        new = make_chunks(tree.files(sizes), max_files=max_files, max_bytes=max_bytes)
        counts[kind].append(new_chunk_count(base, new))
    return counts


# --- caps and parts -------------------------------------------------------------


@pytest.mark.parametrize(("seed", "max_files", "max_bytes"), [(1, 20, 100_000), (2, 5, 30_000), (3, 50, 400_000)])
def test_every_chunk_respects_both_caps_unless_single_file(seed: int, max_files: int, max_bytes: int) -> None:
    tree = Tree(seed, max_size=80_000)
    chunks = make_chunks(tree.files(), max_files=max_files, max_bytes=max_bytes)
    for chunk in chunks:
        if len(chunk.parts) > 1:
            assert len(chunk.parts) <= max_files
            assert chunk_bytes(chunk, tree.sizes) <= max_bytes
    covered = [p.path for c in chunks for p in c.parts if p.part == 1]
    assert sorted(covered) == sorted(tree.sizes)


def test_file_larger_than_max_bytes_becomes_one_chunk_per_part() -> None:
    files = [SourceFile("a.py", 10), SourceFile("big.py", 2501), SourceFile("c.py", 10)]
    chunks = make_chunks(files, max_files=20, max_bytes=1000)
    assert [c.id for c in chunks] == ["a.py", "big.py#1of3", "big.py#2of3", "big.py#3of3", "c.py"]
    assert [c.parts for c in chunks[1:4]] == [(ChunkPart("big.py", part=k, parts=3),) for k in (1, 2, 3)]
    exactly = make_chunks([SourceFile("x.py", 2000)], max_files=20, max_bytes=1000)
    assert [c.id for c in exactly] == ["x.py#1of2", "x.py#2of2"]
    fits = make_chunks([SourceFile("x.py", 1000)], max_files=20, max_bytes=1000)
    assert [c.id for c in fits] == ["x.py"] and fits[0].parts[0].is_whole_file


def test_oversized_file_splits_its_neighbours_only_once() -> None:
    files = [SourceFile(f"d/{n}.py", 10) for n in "abcdef"] + [SourceFile("d/m.py", 5000)]
    chunks = make_chunks(files, max_files=20, max_bytes=1000)
    assert [c.id for c in chunks] == ["d/a.py+5", "d/m.py#1of5", "d/m.py#2of5", "d/m.py#3of5", "d/m.py#4of5", "d/m.py#5of5"]


def test_empty_input_and_invalid_arguments() -> None:
    assert make_chunks([], max_files=20, max_bytes=1000) == ()
    with pytest.raises(ValueError):
        make_chunks([SourceFile("a", 1)], max_files=0, max_bytes=1000)
    with pytest.raises(ValueError):
        make_chunks([SourceFile("a", 1)], max_files=1, max_bytes=0)
    with pytest.raises(ValueError, match="duplicate"):
        make_chunks([SourceFile("a", 1), SourceFile("a", 2)], max_files=5, max_bytes=1000)


def reference_bounds(files: list[SourceFile], max_files: int, max_bytes: int) -> list[tuple[int, int]]:
    """The definition, naively: cut around files over `max_bytes`, then split every other
    run at its highest-priority gap until every piece fits."""
    def priority(index: int) -> int:
        before, after = files[index - 1].path.rpartition("/")[0], files[index].path.rpartition("/")[0]
        if before == after:
            return chunk_module._hash(files[index].path)
        return chunk_module._dir_gap_priority(before, after)

    def fits(lo: int, hi: int) -> bool:
        return hi - lo == 1 or (hi - lo <= max_files and sum(f.size for f in files[lo:hi]) <= max_bytes)

    pieces: list[tuple[int, int]] = []
    cuts = sorted({0, len(files)} | {i + k for i, f in enumerate(files) if f.size > max_bytes for k in (0, 1)})
    pending = list(zip(cuts, cuts[1:]))
    while pending:
        lo, hi = pending.pop()
        if fits(lo, hi):
            pieces.append((lo, hi))
            continue
        cut = max(range(lo + 1, hi), key=priority)
        pending += [(lo, cut), (cut, hi)]
    return sorted(pieces)


@pytest.mark.parametrize(("seed", "max_files", "max_bytes"), [(51, 20, NO_BYTE_CAP), (52, 20, 100_000), (53, 7, 20_000)])
def test_linear_algorithm_equals_recursive_splitting(seed: int, max_files: int, max_bytes: int) -> None:
    files = sorted(Tree(seed, files=400).files(), key=lambda f: sort_key(f.path))
    chunks = [c for c in make_chunks(files, max_files=max_files, max_bytes=max_bytes) if c.parts[0].part == 1]
    assert [c.paths for c in chunks] == [
        tuple(f.path for f in files[lo:hi]) for lo, hi in reference_bounds(files, max_files, max_bytes)
    ]


# --- part_line_ranges -----------------------------------------------------------


@pytest.mark.parametrize("parts", [1, 2, 3, 7, 50])
def test_part_line_ranges_cover_every_line_once_with_similar_bytes(parts: int) -> None:
    rng = random.Random(parts)
    lines = ["x" * rng.randrange(0, 120) for _ in range(400)]
    text = "\n".join(lines) + "\n"
    ranges = part_line_ranges(text, parts)
    assert len(ranges) == parts
    assert ranges[0][0] == 1 and ranges[-1][1] == 400
    for (_, end), (start, _) in zip(ranges, ranges[1:]):
        assert start == end + 1
    assert all(start <= end for start, end in ranges)
    weights = [sum(len(line) + 1 for line in lines[s - 1 : e]) for s, e in ranges]
    ideal = sum(weights) / parts
    assert max(abs(w - ideal) for w in weights) <= 121 + 1e-9  # off by at most about one line


def test_part_line_ranges_edge_cases() -> None:
    assert part_line_ranges("", 3) == []
    assert part_line_ranges("only\n", 3) == [(1, 1)]
    assert part_line_ranges("a\nb", 5) == [(1, 1), (2, 2)]
    assert part_line_ranges("a\r\nb\r\nc\r\n", 3) == [(1, 1), (2, 2), (3, 3)]
    assert part_line_ranges("\n\n\n", 2) == [(1, 2), (3, 3)]
    assert part_line_ranges("x" * 1000 + "\nshort\n", 2) == [(1, 1), (2, 2)]
    with pytest.raises(ValueError):
        part_line_ranges("a", 0)


def test_part_line_ranges_never_empty_when_one_line_dominates() -> None:
    text = "\n".join(["y" * 10_000] + ["z"] * 5)
    ranges = part_line_ranges(text, 4)
    assert len(ranges) == 4
    assert [r for r in ranges if r[0] > r[1]] == []
    assert ranges[0] == (1, 1) and ranges[-1][1] == 6


# --- stability ------------------------------------------------------------------


@pytest.mark.parametrize("seed", [11, 12])
def test_membership_depends_only_on_paths_when_no_cap_is_crossed(seed: int) -> None:
    tree = Tree(seed)
    before = make_chunks(tree.files(), max_files=20, max_bytes=NO_BYTE_CAP)
    resized = {path: tree.rng.randrange(1, 500_000) for path in tree.sizes}
    assert make_chunks(tree.files(resized), max_files=20, max_bytes=NO_BYTE_CAP) == before


@pytest.mark.parametrize("seed", [13, 14])
def test_growing_a_file_within_its_chunks_headroom_changes_no_chunk(seed: int) -> None:
    tree = Tree(seed)
    max_bytes = 100_000
    before = make_chunks(tree.files(), max_files=20, max_bytes=max_bytes)
    tried = 0
    for chunk in tree.rng.sample(before, 20):
        headroom = max_bytes - chunk_bytes(chunk, tree.sizes)
        if len(chunk.parts) < 2 or headroom < 2:
            continue
        path = tree.rng.choice(chunk.parts).path
        edited = dict(tree.sizes)
        edited[path] += tree.rng.randrange(1, headroom)
        assert make_chunks(tree.files(edited), max_files=20, max_bytes=max_bytes) == before
        shrunk = dict(tree.sizes)
        shrunk[path] = max(1, shrunk[path] // 2)  # may un-cross a cap elsewhere: then only merges
        assert new_chunk_count(before, make_chunks(tree.files(shrunk), max_files=20, max_bytes=max_bytes)) <= 1
        tried += 1
    assert tried > 10


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_adding_one_file_changes_at_most_two_chunks(seed: int) -> None:
    """Guaranteed under the file-count cap: the spans holding the new file are nested,
    so at most one of them crosses the cap (see the chunk module docstring)."""
    counts = single_change_counts(seed, 80, max_files=20, max_bytes=NO_BYTE_CAP)
    assert max(counts["add"]) <= 2
    # Removals can exceed 2 when two chunks merge and re-split: measured 0.9 % of
    # 12,000 removals on 60 trees, at most 6 chunks; the bounds hold for any seed tried.
    assert max(counts["remove"]) <= 8
    assert sum(c > 2 for c in counts["remove"]) <= 4  # of 40


def test_single_changes_under_a_binding_byte_cap_rarely_touch_more_than_two_chunks() -> None:
    """With the byte cap binding, both directions can exceed 2 in rare overflow cases.
    Measured over 12,000 changes on 30 trees at the default caps (20 files, 100 kB):
    0.85 % touch 3-7 chunks (0.5 % of additions, 1.2 % of removals)."""
    all_counts: list[int] = []
    for seed in (4, 5):
        counts = single_change_counts(seed, 50, max_files=20, max_bytes=100_000)
        all_counts += counts["add"] + counts["remove"]
    assert max(all_counts) <= 8
    assert sum(c > 2 for c in all_counts) <= 6  # of 100
    assert sum(c <= 1 for c in all_counts) >= 0.8 * len(all_counts)


def test_result_does_not_depend_on_input_order() -> None:
    tree = Tree(21)
    files = tree.files()
    expected = make_chunks(files, max_files=20, max_bytes=100_000)
    for _ in range(5):
        tree.rng.shuffle(files)
        assert make_chunks(files, max_files=20, max_bytes=100_000) == expected


def test_chunks_are_not_needlessly_small() -> None:
    tree = Tree(31)
    chunks = make_chunks(tree.files(), max_files=20, max_bytes=NO_BYTE_CAP)
    assert len(tree.sizes) / len(chunks) >= 9  # measured 11.0 on average over 30 trees


# --- order, directories and ids -------------------------------------------------


def test_directory_first_order() -> None:
    paths = ["b/z.py", "a/sub/x.py", "a/y.py", "top.py", "a/b.py", "a/sub/deeper/w.py", "a.py", "ab/c.py"]
    chunks = make_chunks([SourceFile(p, 1) for p in paths], max_files=100, max_bytes=1000)
    assert [p.path for c in chunks for p in c.parts] == [
        "a.py", "top.py", "a/b.py", "a/y.py", "a/sub/x.py", "a/sub/deeper/w.py", "ab/c.py", "b/z.py",
    ]  # fmt: skip
    assert sorted(paths, key=sort_key) == sorted(paths, key=lambda p: (tuple(p.split("/")[:-1]), p.split("/")[-1]))


def test_chunks_break_at_directory_boundaries_when_a_cap_forces_a_break() -> None:
    files = [SourceFile(f"pkg/alpha/m{i:02}.py", 100) for i in range(12)]
    files += [SourceFile(f"pkg/beta/m{i:02}.py", 100) for i in range(12)]
    chunks = make_chunks(files, max_files=20, max_bytes=100_000)
    assert [c.id for c in chunks] == ["pkg/alpha/m00.py+11", "pkg/beta/m00.py+11"]
    by_bytes = make_chunks(files, max_files=100, max_bytes=2000)
    assert [c.paths for c in by_bytes] == [c.paths for c in chunks]
    small = make_chunks(files[:5] + files[12:17], max_files=20, max_bytes=100_000)
    assert [c.id for c in small] == ["pkg/alpha/m00.py+9"]


def test_ids_are_readable_and_unique() -> None:
    tree = Tree(41, max_size=150_000)
    chunks = make_chunks(tree.files(), max_files=20, max_bytes=100_000)
    ids = [c.id for c in chunks]
    assert len(set(ids)) == len(ids)
    for chunk in chunks:
        first = chunk.parts[0]
        if first.parts > 1:
            assert chunk.id == f"{first.path}#{first.part}of{first.parts}"
        elif len(chunk.parts) == 1:
            assert chunk.id == first.path
        else:
            assert chunk.id == f"{first.path}+{len(chunk.parts) - 1}"


def test_ids_escape_characters_that_break_task_names_or_uniqueness() -> None:
    assert chunk_id_escape("a=b%c+d#e\nf") == "a%3Db%25c%2Bd%23e%0Af"
    files = [SourceFile("x.py+1", 10), SourceFile("x.py", 10), SourceFile("y.py", 10), SourceFile("z=1.py", 5000)]
    ids = [c.id for c in make_chunks(files, max_files=2, max_bytes=1000)]
    assert all("=" not in i for i in ids)
    assert len(set(ids)) == len(ids)
    assert "z%3D1.py#1of5" in ids


def test_split_lines_counts_newlines_only() -> None:
    assert split_lines("a\fb\x85c\u2028d\n") == ["a\fb\x85c\u2028d"]
    assert split_lines("a\r\nb\r\n") == ["a", "b"]
    assert split_lines("a\n\nb") == ["a", "", "b"]
    assert split_lines("") == []
    assert part_line_ranges("a\fb\nc\n", 2) == [(1, 1), (2, 2)]

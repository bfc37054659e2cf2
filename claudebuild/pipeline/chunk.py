"""Group discovered files into stable chunks; each chunk is one cached `claude -p` call.

Why stability matters: a chunk's id and membership are its doit task's identity.
If adding one file reshuffled many chunks, every reshuffled chunk would be sent
to Claude again - slow and paid for. So membership is a pure function of the
set of paths (sizes matter only where a cap forces a split), and a one-file
change touches as few chunks as possible.

How (a treap over the gaps between files, cut only where a cap forces it):

1. Files are ordered "directory first": key `(parent-path parts, name)`, so a
   directory's own files are contiguous and come before its subdirectories,
   and every subtree is one contiguous run.
2. Every gap between two neighbouring files gets a priority derived only from
   the paths next to it. A gap that crosses a directory boundary outranks any
   gap inside a directory, shallower boundaries outrank deeper ones, and
   within each class a seeded 128-bit xxh3 hash decides: of the subtree the
   gap starts, or, inside a directory, of the file after the gap. Inserting
   a file therefore adds exactly one gap and changes no other gap's priority.
3. A gap's *span* is the run of files between the nearest higher-priority gaps
   on either side (its subtree in the treap). The gap is a chunk boundary
   exactly when its span breaks a cap (more than `max_files` files or more
   than `max_bytes` bytes). This equals "split at the highest gap until every
   piece fits", computed in O(n) with two monotonic stacks, and every piece
   between two boundaries fits (its highest inner gap's span contains it).

Consequences: chunks break at the shallowest directory boundaries first, are
as large as the caps allow along that hierarchy, and adding a file never
creates more than two new chunks while only the file-count cap is involved
(the spans that contain the new file are nested, so at most one of them
crosses the cap). Removing a file that sat on a boundary can merge two chunks
whose union is then re-split at an inner gap; in rare cases that yields three
or more new chunks - see tests/test_chunk.py for the measured rate.

Files larger than `max_bytes` are always cut out and become `n` one-part
chunks; `part_line_ranges` tells the prompt stage which lines each part holds.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Sequence
from itertools import accumulate

import xxhash

from claudebuild.text_lines import split_lines
from claudebuild.model import Chunk, ChunkPart, SourceFile

HASH_SEED = 0x636C_6175_6465_6275
"""Seed of the gap hashes. Changing it (or the priority rules) re-chunks every
repository, i.e. invalidates every cached analysis: treat it as a format version."""

# Gap priorities are ints: a 128-bit hash, plus a class above it. A directory
# gap outranks every file gap, and a shallower one every deeper one.
_DIR_GAP = 1 << 200
_MAX_DEPTH = (1 << 16) - 1
_FORCED_GAP = 1 << 300  # next to a file too large for any chunk: always a boundary


def sort_key(path: str) -> tuple[str, str]:
    """Directory-first order: a directory's files, then its subdirectories' subtrees.

    Equivalent to `(tuple of parent directories, name)`: NUL, which no path
    contains, sorts below every character, so comparing the joined parents
    compares them component by component, only faster.
    """
    parent, _, name = path.rpartition("/")
    return (parent.replace("/", "\0"), name)


def make_chunks(files: Sequence[SourceFile], *, max_files: int, max_bytes: int) -> tuple[Chunk, ...]:
    """Split `files` into chunks of at most `max_files` files and `max_bytes` bytes.

    The result is in directory-first order and depends only on the set of
    files, never on the input order. A file larger than `max_bytes` becomes
    `ceil(size / max_bytes)` one-part chunks. Callers chunk the full
    discovered set every time: ids computed from a subset would differ.
    """
    if max_files < 1 or max_bytes < 1:
        raise ValueError(f"max_files and max_bytes must be >= 1, got {max_files} and {max_bytes}")
    _reject_duplicates(files)
    ordered = sorted(files, key=lambda f: sort_key(f.path))

    chunks: list[Chunk] = []
    for start, end in _chunk_bounds(ordered, max_files=max_files, max_bytes=max_bytes):
        group = ordered[start:end]
        if len(group) == 1 and group[0].size > max_bytes:
            chunks.extend(_part_chunks(group[0], max_bytes))
        else:
            chunks.append(_group_chunk(group))
    return tuple(chunks)


def part_line_ranges(text: str, parts: int) -> list[tuple[int, int]]:
    """Split `text`'s lines into `parts` contiguous 1-based inclusive ranges of similar byte size.

    Called when a part is sent, on the content actually sent, so the line
    numbers Claude sees are always true. Lines are those of `split_lines`;
    the prompt stage must number lines the same way. Returns fewer ranges
    than `parts` when the text has fewer lines, and no range for empty text;
    ranges are never empty and cover every line exactly once.
    """
    if parts < 1:
        raise ValueError(f"parts must be >= 1, got {parts}")
    lines = split_lines(text)
    count = min(parts, len(lines))
    if count == 0:
        return []
    cumulative = list(accumulate(len(line.encode("utf-8", "surrogatepass")) + 1 for line in lines))
    total = cumulative[-1]
    ranges: list[tuple[int, int]] = []
    first = 0  # 0-based index of the current range's first line
    for index in range(1, count):
        target = total * index / count
        end = bisect_left(cumulative, target) + 1  # exclusive; first end reaching the target
        if end >= 2 and target - cumulative[end - 2] < cumulative[end - 1] - target:
            end -= 1  # the shorter cut is closer to an even split
        end = max(first + 1, min(end, len(lines) - (count - index)))
        ranges.append((first + 1, end))
        first = end
    ranges.append((first + 1, len(lines)))
    return ranges


def chunk_id_escape(text: str) -> str:
    """Make a path safe inside a doit task name and unambiguous inside an id.

    doit task names may not contain "="; "+" and "#" are escaped so that the
    id suffixes ("+3", "#2of5") can never be confused with a path, which
    keeps ids unique; control characters would break logs and terminals.
    """
    return _ESCAPE_RE.sub(lambda m: f"%{ord(m.group()):02X}", text)


_ESCAPE_RE = re.compile(r"[%=+#\x00-\x1f\x7f]")


def _reject_duplicates(files: Sequence[SourceFile]) -> None:
    """A path twice would be analyzed twice and make the order ambiguous: a caller bug."""
    if len({f.path for f in files}) != len(files):
        duplicates = sorted(path for path, seen in Counter(f.path for f in files).items() if seen > 1)
        raise ValueError(f"duplicate paths in chunk input: {duplicates}")


def _chunk_bounds(files: Sequence[SourceFile], *, max_files: int, max_bytes: int) -> list[tuple[int, int]]:
    """Half-open index ranges of the chunks of `files` (already in sort order)."""
    count = len(files)
    if count == 0:
        return []
    sizes = [0 if f.size > max_bytes else f.size for f in files]
    prefix = [0, *accumulate(sizes)]
    parents = [f.path.rpartition("/")[0] for f in files]
    priority = [_FORCED_GAP]  # index 0: no gap before the first file
    for index in range(1, count):
        if files[index - 1].size > max_bytes or files[index].size > max_bytes:
            priority.append(_FORCED_GAP)
        elif parents[index - 1] == parents[index]:
            priority.append(_hash(files[index].path))
        else:
            priority.append(_dir_gap_priority(parents[index - 1], parents[index]))

    left, right = _span_bounds(priority)
    starts = [0]
    for gap in range(1, count):
        lo, hi = left[gap], right[gap]
        if priority[gap] >= _FORCED_GAP or hi - lo > max_files or prefix[hi] - prefix[lo] > max_bytes:
            starts.append(gap)
    starts.append(count)
    return list(zip(starts, starts[1:]))


def _dir_gap_priority(before: str, after: str) -> int:
    """Priority of the gap between files in directories `before` and `after` (parent paths).

    Depends only on the two neighbouring paths, and inserting a file between
    two others keeps one of the two new gaps at the old gap's exact priority
    (the outer pair's common depth is the smaller of the two new ones), so an
    insertion adds exactly one gap and changes no other.
    """
    before_dirs = before.split("/") if before else []
    after_dirs = after.split("/") if after else []
    depth = 0
    while depth < min(len(before_dirs), len(after_dirs)) and before_dirs[depth] == after_dirs[depth]:
        depth += 1
    # In directory-first order `after` is never an ancestor of `before`, so it
    # has a component at `depth`: the first directory of the subtree it starts.
    subtree = "/".join(after_dirs[: depth + 1]) + "/"
    return _DIR_GAP + ((_MAX_DEPTH - min(depth, _MAX_DEPTH)) << 128) + _hash(subtree)


def _hash(text: str) -> int:
    """128 bits, so two gaps practically never tie (a tie could only cost stability)."""
    return xxhash.xxh3_128_intdigest(text.encode("utf-8", "surrogatepass"), seed=HASH_SEED)


def _span_bounds(priority: Sequence[int]) -> tuple[list[int], list[int]]:
    """For each gap, the nearest higher-priority gap on its left and on its right.

    Index i names the gap before file i, so gap g's span is the files
    `left[g]:right[g]`; 0 and len(priority) stand for the ends. Two monotonic
    stacks make this O(n). Equal priorities (forced gaps, or a hash tie)
    count the later gap as higher: a strict total order keeps "every piece
    between boundaries fits" true even then.
    """
    count = len(priority)
    left, right = [0] * count, [count] * count
    stack: list[int] = []
    for gap in range(1, count):
        while stack and priority[stack[-1]] <= priority[gap]:
            stack.pop()
        left[gap] = stack[-1] if stack else 0
        stack.append(gap)
    stack = []
    for gap in range(count - 1, 0, -1):
        while stack and priority[stack[-1]] < priority[gap]:
            stack.pop()
        right[gap] = stack[-1] if stack else count
        stack.append(gap)
    return left, right


def _group_chunk(group: Sequence[SourceFile]) -> Chunk:
    first = chunk_id_escape(group[0].path)
    chunk_id = first if len(group) == 1 else f"{first}+{len(group) - 1}"
    return Chunk(id=chunk_id, parts=tuple(ChunkPart(f.path) for f in group))


def _part_chunks(file: SourceFile, max_bytes: int) -> list[Chunk]:
    parts = math.ceil(file.size / max_bytes)
    escaped = chunk_id_escape(file.path)
    return [
        Chunk(id=f"{escaped}#{part}of{parts}", parts=(ChunkPart(file.path, part=part, parts=parts),))
        for part in range(1, parts + 1)
    ]

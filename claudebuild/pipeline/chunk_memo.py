"""The last chunk plan, reused while the files, their sizes and the settings are exactly the same.

Planning (`plan_checks`, i.e. `make_chunks` per check and rule set) is a pure
function of (paths, sizes, checks, rules, caps), so its answer can be kept: on a
30,000-file repository with nothing changed, recomputing it is a noticeable
share of a no-op run. The key is a digest of every input (and of the chunking
format), so any added, removed or other settings miss and plan afresh. A file
that cannot be read or does not match is a miss too.

One change is carried over without planning: files that only grew (the usual
edit, the usual commit), none past the byte cap, each chunk holding one still
within it. That is exactly the plan `make_chunks` would make: a gap between two
files becomes a chunk boundary when the span it splits is too large, spans
depend only on the paths, and a grown file only enlarges the spans that hold
it; those of the gaps inside its chunk lie inside the chunk (a boundary inside
a non-boundary's span would have a smaller span, that fits), so while the chunk
fits, so do they, and every boundary stays one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import orjson

from claudebuild.atomic_write import write_atomic
from claudebuild.hashing import digest_json
from claudebuild.model import Chunk, ChunkPart, SourceFile
from claudebuild.pipeline.check_plan import CheckChunk
from claudebuild.pipeline.chunk import HASH_SEED

PLAN_FILE = "plan.json"
"""The memo's name inside the state directory."""
FORMAT = 2


def planned_with_memo(path: Path, files: Sequence[SourceFile], settings: str,
                      make: Callable[[], tuple[CheckChunk, ...]], *, max_bytes: int = 0,
                      loose: bool = False) -> tuple[CheckChunk, ...]:
    """`make()` (the plan for `files` under `settings`, a stable text of every other input), or the
    answer stored for the very same inputs, or for the same files some of which only grew (with
    `max_bytes`, the byte cap `make` chunks with; see the module doc).

    `loose` is the pre-commit hook's: the same files with other sizes (a file shrank) keep the stored
    chunks as long as every chunk holding a changed file fits the cap, although chunking afresh could
    move a boundary; such a plan is not stored (a run plans those files exactly)."""
    listed: list[list[Any]] = [[file.path, file.size] for file in files]
    inputs = digest_json({"format": FORMAT, "seed": HASH_SEED, "settings": settings})
    key = digest_json({"inputs": inputs, "files": listed})
    document = _load(path)
    stored = _plan(document) if document.get("key") == key else None
    if stored is not None:
        return stored
    if max_bytes and document.get("inputs") == inputs:
        stored = _plan(document)
        if stored is not None and loose and _changed_fit(document.get("files"), listed, stored, max_bytes, loose=True):
            return stored
        if stored is None or not _changed_fit(document.get("files"), listed, stored, max_bytes):
            stored = None
    planned = make() if stored is None else stored
    document = {"key": key, "inputs": inputs, "files": listed,
                "plan": [[item.check, item.chunk.id, [[p.path, p.part, p.parts] for p in item.chunk.parts],
                          list(item.rules)] for item in planned]}
    try:
        write_atomic(path, orjson.dumps(document).decode())
    except OSError:
        pass  # only a cache: the next run plans again
    return planned


def _changed_fit(before: object, after: list[list[Any]], planned: tuple[CheckChunk, ...], max_bytes: int, *,
                 loose: bool = False) -> bool:
    """True when `after` lists the files of `before` (path and size pairs) in the same order, some of them
    larger (or, `loose`, of any other size), none past `max_bytes`, and every chunk of `planned` that holds
    a changed file still within it."""
    if not isinstance(before, list) or len(before) != len(after):
        return False
    if before == after:
        return True
    grown: set[str] = set()
    for old, new in zip(before, after):
        if old == new:
            continue
        if not isinstance(old, list) or len(old) != 2 or old[0] != new[0] or type(old[1]) is not int:
            return False
        if (new[1] < old[1] and not loose) or new[1] > max_bytes or old[1] > max_bytes:
            return False
        grown.add(new[0])
    sizes: dict[str, int] = dict(after)  # [path, size] pairs
    for item in planned:
        paths = [part.path for part in item.chunk.parts]
        if not grown.isdisjoint(paths) and sum(sizes.get(path, max_bytes + 1) for path in paths) > max_bytes:
            return False
    return True


def _load(path: Path) -> dict[str, Any]:
    try:
        document = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return {}
    return document if isinstance(document, dict) else {}


def _plan(document: dict[str, Any]) -> tuple[CheckChunk, ...] | None:
    try:
        return tuple(CheckChunk(str(check), Chunk(str(chunk_id), tuple(_part(*part) for part in parts_)),
                                tuple(int(rule) for rule in rules))
                     for check, chunk_id, parts_, rules in document["plan"])
    except (KeyError, TypeError, ValueError):
        return None


def _part(path: object, part: object, parts: object) -> ChunkPart:
    """A stored part, checked and filled in directly: a no-op run reads every one of them (tens of
    thousands), and the frozen dataclass's field-by-field `__init__` would be most of that cost."""
    if type(path) is not str or type(part) is not int or type(parts) is not int:
        raise TypeError("not a stored chunk part")
    made = object.__new__(ChunkPart)
    made.__dict__.update(path=path, part=part, parts=parts)
    return made

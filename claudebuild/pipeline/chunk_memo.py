"""The last chunk plan, reused while the files, their sizes and the settings are exactly the same.

Planning (`plan_checks`, i.e. `make_chunks` per check and rule set) is a pure
function of (paths, sizes, checks, rules, caps), so its answer can be kept: on a
30,000-file repository with nothing changed, recomputing it is a noticeable
share of a no-op run. The key is a digest of every input (and of the chunking
format), so any added, removed or resized file, or other settings, misses and
plans afresh. A file that cannot be read or does not match is a miss too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import orjson

from claudebuild.atomic_write import write_atomic
from claudebuild.hashing import digest_json
from claudebuild.model import Chunk, ChunkPart, SourceFile
from claudebuild.pipeline.check_plan import CheckChunk
from claudebuild.pipeline.chunk import HASH_SEED

PLAN_FILE = "plan.json"
"""The memo's name inside the state directory."""
FORMAT = 1


def planned_with_memo(path: Path, files: Sequence[SourceFile], settings: str,
                      make: Callable[[], tuple[CheckChunk, ...]]) -> tuple[CheckChunk, ...]:
    """`make()` (the plan for `files` under `settings`, a stable text of every other input), or the
    answer stored for the very same inputs."""
    key = digest_json({"format": FORMAT, "seed": HASH_SEED, "settings": settings,
                       "files": [[file.path, file.size] for file in files]})
    stored = _read(path, key)
    if stored is not None:
        return stored
    planned = make()
    document = {"key": key, "plan": [[item.check, item.chunk.id, [[p.path, p.part, p.parts] for p in item.chunk.parts],
                                      list(item.rules)] for item in planned]}
    try:
        write_atomic(path, orjson.dumps(document).decode())
    except OSError:
        pass  # only a cache: the next run plans again
    return planned


def _read(path: Path, key: str) -> tuple[CheckChunk, ...] | None:
    try:
        document = orjson.loads(path.read_bytes())
        if document["key"] != key:
            return None
        return tuple(CheckChunk(str(check), Chunk(str(chunk_id), tuple(_part(*part) for part in parts_)),
                                tuple(int(rule) for rule in rules))
                     for check, chunk_id, parts_, rules in document["plan"])
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def _part(path: object, part: object, parts: object) -> ChunkPart:
    """A stored part, checked and filled in directly: a no-op run reads every one of them (tens of
    thousands), and the frozen dataclass's field-by-field `__init__` would be most of that cost."""
    if type(path) is not str or type(part) is not int or type(parts) is not int:
        raise TypeError("not a stored chunk part")
    made = object.__new__(ChunkPart)
    made.__dict__.update(path=path, part=part, parts=parts)
    return made

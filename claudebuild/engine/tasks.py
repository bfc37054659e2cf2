"""Chunks -> doit task dicts: `analyze:<chunk-id>` per chunk, the `analyze` group, and `report`.

A chunk is up to date only when (a) doit's xxhash checker sees its files
unchanged, (b) `config_changed` sees the same answer key (prompt, schema,
model, flags, prompt version), and (c) its stored value is an "ok" result
whose recorded hashes match the files now. (c) reruns failed chunks and
catches a file edited while its chunk was being analyzed: doit records the
file's state after the action, but the result belongs to the bytes sent.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from claudebuild.errors import StepFailed
from claudebuild.hashing import ContentHasher
from claudebuild.model import ANALYZE_PREFIX, Chunk

ANALYZE = "analyze"
REPORT = "report"


def analyze_task_name(chunk_id: str) -> str:
    return ANALYZE_PREFIX + chunk_id


def working_tree_hash(root: str, hasher: ContentHasher) -> Callable[[str], str]:
    return lambda path: hasher.hash_file(f"{root}/{path}")


def result_is_current(hash_of: Callable[[str], str], answer_digest: str) -> Callable[[Any, dict[str, Any]], bool]:
    """doit `uptodate` callable: the stored result is ok, made with these settings, from
    the files as they are now (`hash_of` gives a file's current content hash)."""

    def uptodate(task: Any, values: dict[str, Any]) -> bool:
        if values.get("status") != "ok" or values.get("answer_digest") != answer_digest:
            return False
        sent = values.get("sent") or []
        if not sent:
            return False
        try:
            if task is not None and {item["path"] for item in sent} != set(task.file_dep):
                return False
            return all(hash_of(item["path"]) == item["hash"] for item in sent)
        except (OSError, KeyError, TypeError):
            return False

    return uptodate


def reusable(chunk: Chunk, values: dict[str, Any], hash_of: Callable[[str], str], answer_digest: str) -> bool:
    """The one test of "may this stored result stand in for a call": ok, made with these settings
    (`answer_digest`), from exactly this chunk's files with the contents `hash_of` gives now (the
    working tree for a run and `merge`, the git index for the pre-commit hook). Asked for every chunk
    of a no-op run, so the file set is compared before any file is hashed."""
    if values.get("status") != "ok" or values.get("answer_digest") != answer_digest:
        return False
    sent = values.get("sent") or []
    try:
        if not sent or {item["path"] for item in sent} != set(chunk.paths):
            return False
        return all(hash_of(item["path"]) == item["hash"] for item in sent)
    except (OSError, KeyError, TypeError):
        return False


def doit_action(action: Callable[[], Any]) -> Callable[[], Any]:
    """The task action doit runs: `action`'s value, or doit's `TaskFailed` for a `StepFailed`
    (a failed task, the run goes on); the rest of the code never sees doit's types."""

    from doit.exceptions import TaskFailed  # here, not at the top: a no-op run never builds a task

    @functools.wraps(action)
    def run() -> Any:
        try:
            return action()
        except StepFailed as failed:
            return TaskFailed(str(failed))

    return run


def describe(chunk: Chunk) -> str:
    shown = ", ".join(chunk.paths[:3])
    more = len(chunk.paths) - 3
    return shown + (f" and {more} more" if more > 0 else "")


def analyze_tasks(
    chunks: Sequence[Chunk],
    *,
    answer_key: dict[str, Any],
    action_for: Callable[[Chunk], Callable[[], Any]],
    uptodate: Callable[[Any, dict[str, Any]], bool],
) -> Iterator[dict[str, Any]]:
    """The body of `task_analyze`: the group's doc first, then one subtask per chunk."""
    from doit.tools import config_changed

    yield {"basename": ANALYZE, "name": None, "doc": "analyze every chunk with claude -p (cached by content)"}
    for chunk in chunks:
        yield {
            "name": chunk.id,
            "actions": [doit_action(action_for(chunk))],
            "file_dep": list(chunk.paths),
            "uptodate": [config_changed(answer_key), uptodate],
            "doc": describe(chunk),
            "io": {"capture": False},
            "verbosity": 2,
        }


def report_task(action: Callable[[], Any]) -> dict[str, Any]:
    """Always runs (it is cheap) and after every chunk, so it sees fresh and cached results."""
    return {
        "actions": [doit_action(action)],
        "task_dep": [ANALYZE],
        "uptodate": [False],
        "doc": "merge every chunk's result into .claudebuild/report.{json,md}",
        "io": {"capture": False},
        "verbosity": 2,
    }

"""Jobs -> doit task dicts: one task family per check, and `analyze` running them all.

Without `[[checks]]` the tasks are exactly today's `analyze:<chunk>` (see `tasks.analyze_tasks`).
With checks, each check is a group task of its own name (`doit security`) whose subtasks are
`security:<chunk>`, and `analyze` is a group depending on every check, so `doit -n 5 analyze` runs
them all and `doit list` shows each check with its doc.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

from claudebuild.checks import Check
from claudebuild.engine.tasks import ANALYZE, describe, doit_action
from claudebuild.run.jobs import Job

VERIFY = "verify"
ANALYZE_DOC = "analyze every chunk with claude -p (cached by content)"


def check_tasks(
    jobs: Sequence[Job],
    checks: Sequence[Check],
    *,
    action_for: Callable[[Job], Callable[[], Any]],
    uptodate_for: Callable[[Job], Callable[[Any, dict[str, Any]], bool]],
    verify_action_for: Callable[[Job], Callable[[], Any]] | None = None,
    verify_uptodate_for: Callable[[Job], Callable[[Any, dict[str, Any]], bool]] | None = None,
) -> Iterator[dict[str, Any]]:
    """The body of `task_analyze`: group docs first, then one subtask per job (and per verified job)."""
    from doit.tools import config_changed  # here, not at the top: a no-op run never builds a task

    verifying = [job for job in jobs if job.verify is not None] if verify_action_for and verify_uptodate_for else []
    also = [VERIFY] if verifying else []
    if not checks:
        yield {"basename": ANALYZE, "name": None, "doc": ANALYZE_DOC, "task_dep": also}
    else:
        for check in checks:
            paths = ", ".join(check.paths) if check.paths else "every file"
            yield {"basename": check.name, "name": None, "doc": f"check {check.name!r} on {paths} (cached by content)"}
        yield {"basename": ANALYZE, "name": None, "doc": "run every check: " + ", ".join(c.name for c in checks),
               "task_dep": [check.name for check in checks] + also}
    if verifying:
        yield {"basename": VERIFY, "name": None, "doc": "verify findings with a second, independent call (cached per finding)"}
    for job in jobs:
        basename, _, name = job.task.partition(":")
        yield {
            "basename": basename,
            "name": name,
            "actions": [doit_action(action_for(job))],
            "file_dep": list(job.chunk.paths),
            "uptodate": [config_changed(job.answer_key), uptodate_for(job)],
            "doc": describe(job.chunk),
            "io": {"capture": False},
            "verbosity": 2,
        }
    for job in verifying:
        assert verify_action_for is not None and verify_uptodate_for is not None
        yield {
            "basename": VERIFY,
            "name": job.chunk.id,
            "actions": [doit_action(verify_action_for(job))],
            "task_dep": [job.task],
            "uptodate": [verify_uptodate_for(job)],
            "doc": f"verify the findings of {job.chunk.id}",
            "io": {"capture": False},
            "verbosity": 2,
        }

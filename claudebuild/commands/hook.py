"""`claudebuild hook run|install`: review what is about to be committed, block only on serious findings.

The hook reads the staged blobs (the commit records the index, not the
working tree), analyzes only the chunks that hold staged files (given file
names with nothing staged, as CI's `pre-commit run --all-files` passes them:
those files as they are on disk), reuses any
stored result made from the same content (no call), and stores fresh results
in the same database as normal runs, so `claudebuild analyze` afterwards
reuses them too. With `verify` on, the findings are verified as the verify
tasks do (verdicts stored under the same task names), so a refuted one never
blocks. Only findings in staged files at or above the gate block the
commit; an API outage never does (it is reported and the commit goes on).

Its output lands in terminals and, under the pre-commit framework in CI, in build
logs, so every path, title, category and error is `untrusted_text.terminal_text`.
"""

from __future__ import annotations

import os
import shlex
import stat
import sys
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path
from typing import Any, TextIO, TypeVar

from claudebuild.run.analyze import analyze_chunk
from claudebuild.run.build import Build
from claudebuild.run.plan import Plan
from claudebuild.run.jobs import Job, check_view
from claudebuild.run.verify import verified_report, verify_chunk
from claudebuild.config import Config
from claudebuild.errors import ClaudebuildError
from claudebuild.model import Chunk, ChunkResult, Finding
from claudebuild.pipeline.report import build_report, normalize_path
from claudebuild.secrets.scan import scanned_view
from claudebuild.repo.staged import GitIndex, git_output, staged_paths, staged_removals
from claudebuild.contained import read_contained
from claudebuild.hashing import hash_bytes
from claudebuild.engine.store import read_task_value, result_to_values, save_values, values_to_result
from claudebuild.engine.tasks import reusable
from claudebuild.run.throttle import RunAborted
from claudebuild.pipeline.triage import gate_failures
from claudebuild.untrusted_text import terminal_text

HOOK_MARKER = "# installed by claudebuild"
Done = TypeVar("Done")


def run_hook(config: Config, files: Sequence[str], *, fail_on: str, jobs: int, out: TextIO | None = None) -> int:
    with Build(config, out=out) as build:
        return _review_staged(build, files, fail_on=fail_on, workers=jobs, out=build.out)


class WorkingTreeFiles:
    """The files as they are on disk, for a hook given file names with nothing staged (CI's
    `pre-commit run --all-files` / `--files`): the same reads as a normal run."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def has(self, path: str) -> bool:
        return os.path.lexists(self.root / path)

    def read(self, path: str) -> bytes:
        return read_contained(self.root, path).data

    def hash_of(self, path: str) -> str:
        return hash_bytes(self.read(path))


LISTING_FILES = frozenset({".gitignore", ".claudeignore"})
"""Files that change which other files are candidates: staging one plans from a full listing."""


def _plan(build: Build, touched: set[str]) -> Plan:
    """The plan from the last run's view of the tree with the touched files looked at afresh (cost in
    proportion to what is staged); a full discovery when there is no such view, or when the commit
    deletes or renames a file or changes an ignore file (either moves other files between chunks)."""
    if touched and not any(path.rpartition("/")[2] in LISTING_FILES for path in touched) \
            and not staged_removals(build.config.root):
        plan = build.plan_touching(touched)
        if plan is not None:
            return plan
    return build.plan()


def _in_parallel(call: Callable[..., Done], workers: int, *items: Iterable[Any]) -> list[Done]:
    """`call` over `items` on `workers` threads; a stop of the whole run (Ctrl-C, a bad login) as one line."""
    try:
        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            return list(pool.map(call, *items))
    except RunAborted as aborted:
        raise ClaudebuildError(str(aborted)) from None


def _review_staged(build: Build, files: Sequence[str], *, fail_on: str, workers: int, out: TextIO) -> int:
    root = build.config.root
    staged = set(staged_paths(root))
    given = {normalize_path(os.path.relpath(Path(name).resolve(), root)) for name in files}
    from_index = not (files and not staged)  # CI runs the hook on named files without a commit: review them as they are
    plan = _plan(build, staged if from_index else set())
    if from_index:
        candidates, what = (staged & given if files else staged), "staged file(s)"
    else:
        candidates, what = {name for name in given if name}, "given file(s), as in the working tree (nothing is staged)"
    reviewable = candidates & {file.path for file in plan.discovery.files}
    jobs = [job for job in plan.jobs if reviewable & set(job.chunk.paths)]  # each check's chunks, with its rules
    if not jobs:
        print("claudebuild: no staged files to review" if from_index else
              "claudebuild: none of the given files is reviewed (ignored, skipped or outside the repository)", file=out)
        return 0
    source: GitIndex | WorkingTreeFiles
    if from_index:
        source = index = GitIndex(root)
        index.load(path for job in jobs for path in job.chunk.paths)
        build.context.source = index  # before any job's context is made: they copy it
    else:
        source = WorkingTreeFiles(root)
    committed = [Chunk(job.chunk.id, tuple(part for part in job.chunk.parts if source.has(part.path))) for job in jobs]

    def review(job: Job, chunk: Chunk) -> tuple[ChunkResult | None, bool]:
        """As the job's analyze task does: its check's prompt, model and rules, stored under its task name."""
        context = build.job_context(job)
        previous = read_task_value(build.config.db_path, job.task)
        if previous and reusable(chunk, previous, source.hash_of, context.answer_digest):
            return values_to_result(previous), True
        result = analyze_chunk(context, chunk)
        if result is not None:
            result = job.tagged(result)
            save_values(build.config.db_path, job.task, result_to_values(result))
        return result, False

    outcomes = _in_parallel(review, workers, jobs, committed)
    results = {chunk.id: check_view(result, build.config)
               for chunk, (result, _) in zip(committed, outcomes) if result is not None}
    verifying = [replace(job, chunk=chunk) for job, chunk in zip(jobs, committed)
                 if job.verify is not None and chunk.id in results]

    def verify(job: Job) -> tuple[str, dict[str, Any]]:
        """As the job's verify task does: stored verdicts reused, the rest asked for, stored under its name."""
        assert job.verify is not None
        previous = read_task_value(build.config.db_path, job.verify_task)
        values = verify_chunk(build.job_context(job), job.chunk, results[job.chunk.id], job.verify, previous).values
        save_values(build.config.db_path, job.verify_task, values)
        return job.verify_task, values

    verify_values = dict(_in_parallel(verify, workers, verifying))
    reused = sum(1 for _, from_cache in outcomes if from_cache)
    config = build.config
    lines: dict[str, list[str]] = {}
    local: list[Finding] = []  # the secret scan's, from the staged content: lines are what Claude was shown
    for path in sorted({path for chunk in committed for path in chunk.paths}):
        found, lines[path] = scanned_view(build.scanner, path, source.read(path))
        local += found
    build.scanner.save()
    judged = build.judgement(lines)
    report = build_report(committed, results, plan.discovery, run_id=build.run_id, min_severity=config.min_severity,
                          lines_by_file=lines, baseline=judged.baseline, suppressions=judged.suppressions,
                          trusted_markers=judged.trusted_markers, local_findings=local)
    if verifying:  # refuted findings leave the report, and so the gate, as in `analyze`
        report = verified_report(report, verifying, results, verify_values, run_id=build.run_id)
    print(f"claudebuild: reviewed {len(committed)} chunk(s) holding {len(reviewable)} {what}: "
          f"{len(committed) - reused} analyzed, {reused} from cache, ${report.cost_this_run:.4f}", file=out)
    for failed in report.failed:
        print(f"claudebuild: warning: {terminal_text(failed.chunk)} could not be reviewed "
              f"({terminal_text(failed.kind)}: {terminal_text(failed.message)[:160]})", file=out)
    blocking = [finding for finding in gate_failures(report, fail_on, build.config.fail_on_by_check) if finding.file in reviewable]
    for finding in report.findings:
        if finding.file in reviewable:
            note = "" if finding.verified else " (unverified: the quoted code is not in the file)"
            note += f" ({terminal_text(finding.suppression_ignored)})" if finding.suppression_ignored else ""
            print(f"{terminal_text(finding.file)}:{finding.line}: {finding.severity}: {terminal_text(finding.title)} "
                  f"[{terminal_text(finding.category)}]{note}", file=out)
    if blocking:
        print(f"claudebuild: commit blocked: {len(blocking)} finding(s) at or above {fail_on!r} "
              "(fix them, or bypass once with `git commit --no-verify`)", file=out)
        return 1
    return 0


def install_hook(root: Path, *, force: bool = False) -> Path:
    """Write .git/hooks/pre-commit for plain git (pre-commit framework users use .pre-commit-hooks.yaml).

    The hook names the root (`cd` to it, `-C .`): git runs hooks at the top of the work tree, and
    searching from there would find a different root when this one holds no claudebuild.toml."""
    hooks_dir = Path(git_output(root, "rev-parse", "--git-path", "hooks", repository_hooks_path=True).decode().strip())
    if not hooks_dir.is_absolute():
        hooks_dir = root / hooks_dir
    hook = hooks_dir / "pre-commit"
    if hook.exists() and HOOK_MARKER not in hook.read_text(errors="replace") and not force:
        raise ClaudebuildError(f"{hook} already exists and is not claudebuild's: add "
                               f"`{sys.executable} -m claudebuild hook run` to it, or rerun with --force to replace it")
    top = git_output(root, "rev-parse", "--show-toplevel").decode().strip()
    relative = os.path.relpath(root, top)
    cd = "" if relative == "." else f"cd {shlex.quote(relative)} && "
    hooks_dir.mkdir(parents=True, exist_ok=True)
    hook.write_text(f"#!/bin/sh\n{HOOK_MARKER}: review staged changes with Claude before each commit\n"
                    f"{cd}exec {shlex.quote(sys.executable)} -m claudebuild -C . hook run\n", encoding="utf-8")
    hook.chmod(hook.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return hook

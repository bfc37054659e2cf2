"""`claudebuild analyze|report|<any doit command>`: doit on claudebuild's tasks, with our exit codes."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import TextIO

from claudebuild.run.budget import Budget, PendingChunk, select_within
from claudebuild.publish.publisher import for_output, print_annotations, publish
from claudebuild.run.build import Build
from claudebuild.run.noop_stamp import UP_TO_DATE, NoopStamp, Outcome
from claudebuild.run.plan import Shard
from claudebuild.config import Config
from claudebuild.errors import ClaudebuildError
from claudebuild.render import terminal
from claudebuild.pipeline.report import exit_status
from claudebuild.engine.tasks import analyze_task_name
from claudebuild.untrusted_text import terminal_text

SHOWN = 20


def run_tasks(config: Config, targets: Sequence[str], jobs: int, doit_args: Sequence[str] = (),
              *, max_cost: float | None = None, shard: Shard | None = None, print_format: str | None = None,
              analyze: bool = True, changed_since: str | None = None, out: TextIO | None = None,
              stamp: NoopStamp | None = None) -> int:
    """`doit run -n JOBS <targets>`; the exit code comes from the stored results, not from doit.

    Progress and summaries go to `out` (stdout by default); with `print_format` to stderr, so
    stdout carries only that format (and, for `github`, the annotations are that format: they
    are not printed a second time). Without `analyze` (`report --no-analyze`) nothing is
    analyzed: the report is what is stored. With `stamp`, which `main` gives only to a plain `claudebuild
    analyze` (no budget, shard, changed-since or format) after `commands.noop.look_noop` looked, a run that
    finds nothing to do records its outcome for the next one."""
    stream = sys.stderr if print_format else out or sys.stdout
    with Build(config, shard=shard, changed_since=changed_since, out=stream) as build:  # the whole command, publishing included
        build.annotate = print_format != "github"
        code = _run(build, list(targets), jobs, doit_args, max_cost, stamp) if analyze else \
            _report_stored(build, list(targets), jobs, doit_args, max_cost)
        if print_format:
            from claudebuild.render.formats import FORMATS

            sys.stdout.write(FORMATS[print_format][1](for_output(build, build.last_report or build.current_report())))
            sys.stdout.flush()
        return code


def _run(build: Build, targets: list[str], jobs: int, doit_args: Sequence[str], max_cost: float | None,
         stamp: NoopStamp | None = None) -> int:
    config = build.config
    try:
        _announce_scope(build)
        if not build.plan().chunks:
            return _nothing_to_do(build)
        pending = build.pending_chunks()
        build.doit_chunks = frozenset(item.chunk for item in pending)  # the rest are current: doit need not see them
        noop = not pending and targets == ["analyze"]
        if noop:
            targets = []  # nothing for doit to do
        _announce(build, pending)
        if pending:
            build.runner.ensure_supported()  # a missing or old CLI is one line here, not one per chunk
        if max_cost is not None:
            targets = _apply_budget(build, pending, max_cost, targets)
        build.workers = jobs
        build.share_calls(pending)
        doit_code = 0
        if targets:
            from claudebuild.engine.loader import run_doit  # doit itself only when there is work for it

            doit_code = run_doit(build, ["run", "-n", str(jobs), *doit_args, *targets])
    except KeyboardInterrupt:
        report = build.current_report()
        print(f"claudebuild: interrupted; the {report.fresh} chunks finished this run are saved: rerun to do the rest",
              file=sys.stderr)
        return 130
    if build.gate.abort_reason:
        raise ClaudebuildError(build.gate.abort_reason)
    _remote_summary(build)
    if max_cost is not None:
        report, paths = publish(build)
        build.say(terminal.render(report, paths=paths))
        _remaining(build, report.pending)
    else:
        report = build.current_report()
        if "report" not in targets:
            build.say(terminal.render(report))
    code = exit_status(report, fail_on_error=config.fail_on_error, fail_on=config.fail_on, by_check=config.fail_on_by_check)
    if stamp is not None and noop and not report.failed and not report.pending:
        build.record_noop(stamp, Outcome(f"{UP_TO_DATE}\n{terminal.render(report)}", code))
    if doit_code not in (0, 1) or (doit_code == 1 and not report.failed and not code):
        return doit_code
    return code


def _report_stored(build: Build, targets: list[str], jobs: int, doit_args: Sequence[str], max_cost: float | None) -> int:
    """`report --no-analyze`: the report from the stored results alone; `claude` is never started
    (the merge job of a sharded CI run has none). A chunk without a current result is listed as
    not analyzed and, like a failed one, fails the run unless `fail_on_error` is off."""
    config = build.config
    _announce_scope(build)
    if not build.plan().chunks:
        return _nothing_to_do(build)
    report, paths = publish(build)
    build.say(terminal.render(report, paths=paths, fail_on=config.fail_on, by_check=config.fail_on_by_check))
    if report.pending:
        build.say(f"claudebuild: {len(report.pending)} chunks have no current result (--no-analyze analyzes nothing):")
        _say_first(build, [f"   not analyzed {terminal_text(chunk)}" for chunk in report.pending])
    print_annotations(build, report)
    return exit_status(report, fail_on_error=config.fail_on_error, fail_on=config.fail_on, missing_fails=True,
                       by_check=config.fail_on_by_check)


def _announce_scope(build: Build) -> None:
    """PR mode: say which files the run reports on (the report lists them too)."""
    if build.changed is None:
        return
    plan = build.plan()
    reviewed = sorted(build.changed.paths & {file.path for file in plan.discovery.files})
    build.say(f"claudebuild: changed since {build.describe_scope()}: {len(reviewed)} reviewed files in scope "
              f"({len(build.changed.paths) - len(reviewed)} other changed files are not reviewed), {len(plan.chunks)} chunks")
    _say_first(build, [f"   in scope {terminal_text(path)}" for path in reviewed])


def _say_first(build: Build, lines: Sequence[str]) -> None:
    """The first SHOWN lines of a list and how many more there are: a summary, never a dump."""
    for line in lines[:SHOWN]:
        build.say(line)
    if len(lines) > SHOWN:
        build.say(f"   ... and {len(lines) - SHOWN} more")


def _remote_summary(build: Build) -> None:
    """One line on what the shared cache did this run (nothing without one)."""
    remote = build.context.remote
    if remote is None or not (remote.hits or remote.misses or remote.uploads):
        return
    line = f"claudebuild: remote cache: {remote.hits} hits, {remote.misses} misses, {remote.uploads} uploaded"
    if remote.ignored:
        line += f", {remote.ignored} invalid entries ignored"
    if remote.read_only:
        line += " (read-only)"
    build.say(line)


def _nothing_to_do(build: Build) -> int:
    if build.changed is not None:
        build.say(f"claudebuild: no reviewed file changed since {build.describe_scope()}: nothing to analyze or report")
    else:
        skipped = build.plan().discovery.skipped_by_reason()
        detail = ", ".join(f"{count} {reason}" for reason, count in skipped.items())
        build.say(f"claudebuild: no files to analyze in {build.config.root}" + (f" (skipped: {detail})" if detail else ""))
    publish(build)
    return 0


def _announce(build: Build, pending: Sequence[PendingChunk]) -> None:
    if not pending:
        build.say(UP_TO_DATE)
        return
    changed = sum(item.reason == "changed" for item in pending)
    verify = sum(item.reason == "verify" for item in pending)
    total = sum(item.estimate_usd for item in pending)
    analyze = len(pending) - verify
    build.say(f"claudebuild: {analyze} chunks to analyze ({changed} changed, {analyze - changed} new)"
              + (f", {verify} to verify" if verify else "") + f", estimated ${total:.4f}")


def _apply_budget(build: Build, pending: Sequence[PendingChunk], max_cost: float, targets: list[str]) -> list[str]:
    """Only the most valuable chunks that fit, in that order; the report is written afterwards."""
    chosen, _ = select_within(pending, max_cost)
    build.context.budget = Budget(max_cost)
    build.context.estimates = {item.chunk: item.estimate_usd for item in chosen}
    build.say(f"claudebuild: budget ${max_cost:.4f} covers {len(chosen)} of them "
              f"(estimated ${sum(item.estimate_usd for item in chosen):.4f}):")
    _say_first(build, [f"   {item.reason:<8} {item.chunk}  ~${item.estimate_usd:.4f}" for item in chosen])
    tasks = {job.chunk.id: job.task for job in build.plan().jobs}
    verify = {job.chunk.id: job.verify_task for job in build.plan().jobs if job.verify is not None}
    names: list[str] = []
    for item in chosen:  # a verify item is its own task; an analyzed chunk's verification follows it
        names += [item.chunk] if item.reason == "verify" else [tasks.get(item.chunk, analyze_task_name(item.chunk))]
        names += [verify[item.chunk]] if item.chunk in verify else []
    return names


def _remaining(build: Build, pending: Sequence[str]) -> None:
    budget = build.context.budget
    spent = budget.spent if budget else 0.0
    if not pending:
        build.say(f"claudebuild: budget: spent ${spent:.4f}; nothing remains")
        return
    build.say(f"claudebuild: budget: spent ${spent:.4f}; {len(pending)} chunks remain (rerun, or raise --max-cost):")
    for chunk in pending:
        build.say(f"   remaining {chunk}")


DOIT_USAGE_ERROR = 3
"""doit's exit code for a command line it cannot use; ours for that is 2 (3 means a crash)."""
NAMES_TASKS = ("info", "forget")


def run_passthrough(config: Config, argv: Sequence[str]) -> int:
    """Any other doit command (list, info, forget, dumpdb, ...) exactly as doit runs it, except that
    a task name that does not exist is one line (doit's `info` prints a traceback) and doit's
    usage errors exit 2."""
    from claudebuild.engine.loader import run_doit

    with Build(config) as build:
        if argv and argv[0] in NAMES_TASKS:
            known = {"analyze", "report", *(check.name for check in config.checks),
                     *(job.task for job in build.plan().jobs)}
            unknown = [name for name in argv[1:] if not name.startswith("-") and name not in known]
            if unknown:
                raise ClaudebuildError(f"no task named {unknown[0]!r}: `claudebuild list --all` shows the task names")
        code = run_doit(build, argv)
    return 2 if code == DOIT_USAGE_ERROR else code

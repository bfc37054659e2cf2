"""Publishing one build's report: garbage-collect stale results, write every configured format, and the CI
outputs (GitHub annotations and step summary), each once per command.

A step after the run: it reads what the build stored and writes files and lines, and nothing in run/ calls it
(the doit `report` task gets `report_action` from the engine, the commands call `publish` themselves). The
per-command "once" flags live on the `Build`, which owns the command's output stream.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from claudebuild.atomic_write import write_atomic
from claudebuild.engine.store import drop_stale_tasks
from claudebuild.errors import StepFailed
from claudebuild.pipeline.report import Report, exit_status
from claudebuild.pipeline.triage import load_previous_report
from claudebuild.render import github, terminal
from claudebuild.render.paths import with_path_prefix
from claudebuild.repo.git import worktree_prefix
from claudebuild.run.build import Build


def publish(build: Build, *, ci: bool = True) -> tuple[Report, tuple[str, ...]]:
    """Build the report, drop results of chunks that no longer exist, write the configured formats.

    `ci`: also append the step summary on GitHub Actions (once per command; `merge` leaves it to `report`)."""
    from claudebuild.render.formats import FORMATS  # every renderer: loaded only by a command that writes reports

    config = build.config
    plan = build.plan()
    build.forget_stored()  # chunks may have finished since the last look (the report task runs inside doit)
    root = config.root
    drop_stale_tasks(config.db_path, plan.all_tasks or [job.task for job in plan.jobs],
                     exists=lambda path: os.path.lexists(os.path.join(root, path)))
    previous_path = config.state_path / FORMATS["json"][0]
    previous = load_previous_report(previous_path) if "json" in config.formats else None
    report = build.current_report(previous=previous)
    build.last_report = report
    build.scanner.save()  # scans made while building payloads
    written: list[str] = []
    shown = for_output(build, report)
    for name in config.formats:
        filename, render = FORMATS[name]
        target = config.state_path / filename
        write_atomic(target, render(shown))
        written.append(os.path.relpath(target, root))
    if ci and not build.summary_written and os.environ.get("GITHUB_ACTIONS") == "true":
        build.summary_written = github.write_step_summary(shown, os.environ)
    return report, tuple(written)


def for_output(build: Build, report: Report) -> Report:
    """`report` with paths relative to the repository root (the git work tree's top), as every written
    format and CI output shows them, also when `-C` names a project inside a monorepo."""
    if build.path_prefix is None:
        build.path_prefix = worktree_prefix(build.config.root)
    return with_path_prefix(report, build.path_prefix)


def print_annotations(build: Build, report: Report) -> None:
    """GitHub workflow annotations, once, on the command's output (stdout unless it carries a format)."""
    if build.annotate and os.environ.get("GITHUB_ACTIONS") == "true":
        build.annotate = False
        text = github.render(for_output(build, report)).rstrip("\n")
        if text:
            build.say(text)


def report_action(build: Build) -> Callable[[], None]:
    """The doit `report` task's action: publish, print the summary and annotations, fail the task on
    failed chunks (with `fail_on_error`) or on findings at or above `fail_on`."""

    def action() -> None:
        config = build.config
        report, paths = publish(build)
        build.say(terminal.render(report, paths=paths, fail_on=config.fail_on, by_check=config.fail_on_by_check))
        print_annotations(build, report)
        where = paths[-1] if paths else "the report"
        if report.failed and config.fail_on_error:
            raise StepFailed(f"{len(report.failed)} chunk(s) failed; see {where}")
        if exit_status(report, fail_on_error=False, fail_on=config.fail_on, by_check=config.fail_on_by_check):
            raise StepFailed(f"findings at or above {config.fail_on!r}; see {where}")

    return action

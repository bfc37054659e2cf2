"""The doit adapter: the content checker, DOIT_CONFIG, and running doit for both entry points.

A user's dodo.py is two lines (`from claudebuild.engine import dodo_tasks` /
`globals().update(dodo_tasks(__file__))`), and the `claudebuild` command runs
the very same namespace through `DoitMain`, so `doit list/info/forget` and
`claudebuild list/info/forget` see identical tasks. Only public doit extension
points are used: a `FileChangedChecker`, a backend plugin, `ModuleTaskLoader`.
"""

from __future__ import annotations

import os
import sys
from contextlib import redirect_stdout
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from doit.cmd_base import DoitCmdBase, ModuleTaskLoader, opt_cwd, opt_dodo, opt_seek_file
from doit.cmd_run import Run
from doit.cmdparse import CmdOption, CmdParse, CmdParseError
from doit.doit_cmd import DoitMain
from doit.exceptions import InvalidDodoFile

from claudebuild.publish.publisher import report_action
from claudebuild.run.build import Build
from claudebuild.config_sources import load_config
from claudebuild.errors import ClaudebuildError
from claudebuild.engine.reporter import ProgressReporter
from claudebuild.engine.store import check_database
from claudebuild.engine.checker import XxhashChecker

BACKEND_NAME = "claudebuild"  # registered under the entry point group doit.BACKEND


def doit_config(build: Build) -> dict[str, Any]:
    return {
        "backend": BACKEND_NAME,
        "dep_file": str(build.config.db_path),
        "check_file_uptodate": XxhashChecker,
        "par_type": "thread",
        "default_tasks": ["analyze", "report"],
        "verbosity": 2,
        "reporter": ProgressReporter,
        "outfile": build.out,  # the command's stream (stderr when stdout carries a report format)
    }


def namespace(build: Build) -> dict[str, Any]:
    return {"DOIT_CONFIG": doit_config(build), **build.task_creators(report_action(build))}


def dodo_tasks(dodo_file: str, **overrides: Any) -> dict[str, Any]:
    """For a user's dodo.py: the DOIT_CONFIG and task creators for the repository holding it."""
    root = Path(dodo_file).resolve().parent
    try:
        build = Build(load_config(root, overrides))
    except ClaudebuildError as error:
        raise InvalidDodoFile(str(error)) from None
    build.install_signal_handlers()
    names = groups_run(sys.argv, build.group_names())
    build.workers = parallel_calls(sys.argv, build.group_names())
    build.stale_only = names is not None
    build.may_repeat_noop = bool(names) and "report" not in (names or ())  # `doit -n 5 analyze`: see `Build.may_repeat_noop`
    creators = build.task_creators(report_action(build))

    def guarded(creator: Any) -> Any:
        def task_creator() -> Any:
            try:
                result = creator()
                if isinstance(result, dict):
                    return result
                items = list(result)
            except ClaudebuildError as error:
                raise InvalidDodoFile(str(error)) from None
            return (item for item in items)  # doit wants a generator, not a list

        task_creator.__name__ = creator.__name__
        task_creator.__doc__ = creator.__doc__
        return task_creator

    return {"DOIT_CONFIG": doit_config(build), **{name: guarded(c) for name, c in creators.items()}}


def runs_only_groups(argv: Sequence[str], groups: frozenset[str]) -> bool:
    """True when this process is doit's command line running group tasks (`doit -n 5 analyze`, `doit`,
    `doit run report`): then doit need be shown only the chunks that can be stale, and a no-op does not
    make it check every file of every chunk. Any other command (`list`, `info`, `forget`, ...), a
    named subtask, `--always-execute`, or a command line this cannot read with doit's own parser: all.
    """
    return groups_run(argv, groups) is not None


def groups_run(argv: Sequence[str], groups: frozenset[str]) -> tuple[str, ...] | None:
    """The group tasks this doit command line runs (() for doit's default tasks), or None when it is not
    one that only runs group tasks (see `runs_only_groups`)."""
    command = _run_command(argv, groups)
    if command is None:
        return None
    options, names = command
    return tuple(names) if not options.get("always") and all(name in groups for name in names) else None


def parallel_calls(argv: Sequence[str], groups: frozenset[str]) -> int:
    """doit's `-n` on this command line (1 when it gives none, as doit runs then), for `Build.workers`."""
    command = _run_command(argv, groups)
    number = command[0].get("num_process") if command is not None else None
    return number if isinstance(number, int) and number > 0 else 1


def _run_command(argv: Sequence[str], groups: frozenset[str]) -> tuple[dict[str, Any], list[str]] | None:
    """doit's options and task names when this process is doit's `run` command (said or implied)."""
    if not argv or not (os.path.basename(argv[0]) == "doit" or argv[0].endswith(os.path.join("doit", "__main__.py"))):
        return None
    loader_options = [CmdOption(option) for option in (opt_dodo, opt_cwd, opt_seek_file)]
    run_options = [CmdOption(option) for option in (*DoitCmdBase.base_options, opt_dodo, opt_cwd, opt_seek_file,
                                                    *Run.cmd_options)]
    try:
        _, words = CmdParse(loader_options).parse_only(list(argv[1:]))
    except CmdParseError:
        words = list(argv[1:])  # as doit does: the run command's options come first (`-n 5`)
    words = [word for word in words if "=" not in word]  # doit's `NAME=value` variables
    try:
        if words and words[0] == "run":
            words = words[1:]
        elif words and not words[0].startswith("-") and words[0] not in groups:
            return None  # another command, or a task by name
        options, names = CmdParse(run_options).parse(words)
    except CmdParseError:
        return None
    return dict(options), list(names)


def run_doit(build: Build, argv: Sequence[str]) -> int:
    """Run a doit command on this build's tasks; the user's doit.cfg cannot override ours.

    Inside the caller's `with build:` if it is in one (so what it does after doit, e.g.
    publishing, stays locked too), else in one for just this doit run."""
    with build:
        build.plan()  # discovery errors surface here, as clean one-line errors
        previous = os.getcwd()
        try:
            check_database(build.config.db_path)
            os.chdir(build.config.root)
            build.forget_stored()  # files may change while doit runs: its checks stat them again
            loader = ModuleTaskLoader(namespace(build))
            with redirect_stdout(build.out):  # doit's commands write to sys.stdout (`forgetting ...`, `list`): the build's stream
                status: int = DoitMain(loader, config_filenames=(), extra_config={"GLOBAL": {}}).run(list(argv))
            return status
        finally:
            build.forget_stored()  # doit stored results
            os.chdir(previous)

"""The `claudebuild` command: parse, find the repository root, dispatch, and the one error boundary.

Exit codes: 0 ok; 1 a failed chunk, a finding at or above --fail-on, a user
error (message names the fix) or a failed doit task; 2 a command line that
cannot be used (argparse's own code, a file name that looks like an option, or
a doit command line doit rejects); 3 an unexpected crash (traceback saved to
<root>/.claudebuild/crash.log with versions, one line printed); 130 Ctrl-C.

Without -C the root is found from the current directory (`repo_root`), so
every command run from a subdirectory uses the repository's settings, ignore
rules and cache; paths on the command line stay relative to the current directory.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shlex
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from claudebuild import CLAUDE_CODE_VERSION, __version__
from claudebuild.config import FORMATS
from claudebuild.errors import ClaudebuildError
from claudebuild.model import SEVERITIES
from claudebuild.prices import DEFAULT_MODEL
from claudebuild.repo.root import GIVEN, RepoRoot, current_directory, find_root, given_root

OWN_COMMANDS = ("init", "analyze", "report", "demo", "hook", "merge", "config", "ask", "sessions", "baseline", "estimate")
ASK_OPTIONS = ("--no-fork", "--reanalyze", "--help", "-h")
"""The options of `ask` (as in build_parser): anything else starting with '-' before `--` is not one."""
_NEGATIVE_NUMBER = re.compile(r"-\d+|-\d*\.\d+")
"""What argparse itself reads as a positional, not an option."""


class UsageError(ClaudebuildError):
    """A command line argparse would refuse, with a better message: exit 2 like argparse's own errors."""


class _Crashed(Exception):
    """An unexpected error after the root was found: its crash log goes into that root's state directory."""

    def __init__(self, root: Path, claude_bin: str | None) -> None:
        super().__init__(root, claude_bin)
        self.root = root
        self.claude_bin = claude_bin

DESCRIPTION = """\
AI code analysis with the Claude Code CLI as an incremental doit build.

commands:
  init                   write dodo.py, .claudeignore and claudebuild.toml in the repository
  analyze [-n N]         analyze new or changed chunks, N claude calls at a time
  report [-n N]          analyze what is out of date, then write the reports in .claudebuild/
  report --format F      ... and print one format (json, md, sarif, html, junit, gitlab, rdjson, github)
  report --no-analyze    write the reports from the stored results only, never starting claude
  report --changed-since REF   PR mode: analyze, report and gate only files changed since the merge base with REF
  hook run|install       pre-commit: review the staged content of staged files
  merge DIR...           combine sharded CI runs (--shard K/N) into one cache and report
  config                 show every effective setting and where it came from
  ask FILE|CHUNK "Q"     ask a follow-up question on a chunk's stored Claude session (--no-fork, --reanalyze)
  sessions [--json]      list chunks with their Claude session id, age, cost and whether it can be resumed
  estimate [--history N] expected tokens and cost (list prices) of a cold run, of what is stale now and, with
                         --history N, of a run on each of the last N commits, for runs with -n N (default 5); no API call (--json)
  baseline               record the current findings in claudebuild-baseline.json: only new ones fail --fail-on
  demo                   copy the bundled sample repo, run it against the local fake API, edit, rerun
  list|info|forget|...   any other doit command, on claudebuild's tasks (e.g. `claudebuild info analyze:<id>`)
  CHECK [-n N]           one [[checks]] entry's tasks (e.g. `claudebuild security -n 5`), N claude calls at a time
"""


def _run_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("-n", "--jobs", type=int, default=5, help="parallel claude calls (default 5)")
    command.add_argument("--no-fail-on-error", dest="fail_on_error", action="store_false", default=None,
                         help="exit 0 even when some chunks failed")
    command.add_argument("--fail-on", choices=SEVERITIES, help="exit 1 when a finding is at least this severe")
    command.add_argument("--max-cost", type=float, metavar="USD",
                         help="run budget: analyze the most valuable chunks that fit, list the rest")
    command.add_argument("--tpm", type=int, metavar="TOKENS", help="tokens-per-minute limit shared by all workers")
    command.add_argument("--shard", metavar="K/N", help="analyze only shard K of N (CI matrix); combine with `merge`")
    command.add_argument("--changed-since", metavar="REF",
                         help="PR mode: analyze, report and gate only the files changed since the merge base with "
                              "REF (e.g. origin/main); other chunks keep their cached results")
    _cache_options(command)


def _cache_options(command: argparse.ArgumentParser) -> None:
    command.add_argument("--cache-url", metavar="URL",
                         help="shared remote cache: http(s)://host/path (Bazel HTTP cache layout) or file:///dir "
                              "(default $CLAUDEBUILD_CACHE_URL; token from $CLAUDEBUILD_CACHE_TOKEN)")
    command.add_argument("--cache-read-only", action="store_true", default=None,
                         help="use the remote cache's results but upload nothing (for untrusted code)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="claudebuild", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"claudebuild {__version__} (claude-code {CLAUDE_CODE_VERSION} pinned)")
    parser.add_argument("-C", "--root", type=Path, default=None,
                        help="repository to analyze (default: the nearest directory up with claudebuild.toml or "
                             "[tool.claudebuild], else the top of the git work tree, else the current directory)")
    parser.add_argument("--model", help=f"Claude model, kept exactly in the cache key (default from config: {DEFAULT_MODEL})")
    parser.add_argument("--claude", dest="claude_bin", help="path of the claude CLI (default: claude on PATH)")
    parser.add_argument("--config-from", metavar="REF",
                        help="read the repository's settings, ignore, suppressions, baseline and instructions files "
                             "from this git ref (e.g. the pull request's base), not from the working tree")
    sub = parser.add_subparsers(dest="command", metavar="command")
    init = sub.add_parser("init", help="set up a repository")
    init.add_argument("--force", action="store_true", help="overwrite existing dodo.py/.claudeignore/claudebuild.toml")
    _run_options(sub.add_parser("analyze", help="analyze new or changed chunks"))
    report = sub.add_parser("report", help="analyze what is stale, then write the report")
    _run_options(report)
    report.add_argument("--format", choices=FORMATS, help="also print this format to stdout (progress goes to stderr)")
    report.add_argument("--formats", metavar="LIST",
                        help="report files to write to .claudebuild/, comma-separated (overrides `formats`), e.g. json,md,sarif")
    report.add_argument("--no-analyze", dest="analyze", action="store_false",
                        help="never start claude: report what is stored (e.g. after `merge`); chunks without a "
                             "result are listed and fail the run like failed ones (unless --no-fail-on-error)")
    hook = sub.add_parser("hook", help="pre-commit hook")
    hook_sub = hook.add_subparsers(dest="hook_command", metavar="run|install", required=True)
    hook_run = hook_sub.add_parser("run", help="review the staged content of staged files")
    hook_run.add_argument("files", nargs="*", help="limit to these staged files (pre-commit passes them)")
    hook_run.add_argument("--fail-on", choices=SEVERITIES, help="block the commit at this severity (default: fail_on, else high)")
    hook_run.add_argument("-n", "--jobs", type=int, default=4)
    _cache_options(hook_run)
    hook_install = hook_sub.add_parser("install", help="install .git/hooks/pre-commit for plain git")
    hook_install.add_argument("--force", action="store_true", help="replace an existing pre-commit hook")
    merge = sub.add_parser("merge", help="combine shard results")
    merge.add_argument("sources", nargs="+", type=Path, help="each shard's .claudebuild/ directory (or its repository)")
    merge.add_argument("--no-fail-on-error", dest="fail_on_error", action="store_false", default=None,
                       help="exit 0 even when a shard had failed chunks (the report still lists them)")
    show = sub.add_parser("config", help="show the effective settings")
    show.add_argument("--json", action="store_true", help="as JSON")
    ask = sub.add_parser("ask", help="ask a follow-up question on a chunk's stored Claude session")
    ask.add_argument("target", help="a file (repo-relative, relative to the current directory, or absolute) or a chunk id")
    ask.add_argument("question", help="the question (quote it)")
    ask.add_argument("--no-fork", dest="fork", action="store_false",
                     help="continue the stored session instead of a fork (later questions then see this answer)")
    ask.add_argument("--reanalyze", action="store_true",
                     help="analyze the chunk again first when its session is gone, failed or out of date")
    sub.add_parser("baseline", help="record the current findings as known (commit the file); only new ones fail --fail-on")
    sessions = sub.add_parser("sessions", help="list chunks with their session id, age, cost and transcript")
    sessions.add_argument("--json", action="store_true", help="as JSON, for tools")
    estimate = sub.add_parser("estimate", help="expected tokens and cost, without any API call")
    estimate.add_argument("--history", type=int, default=0, metavar="N",
                          help="also: the cost of running claudebuild on each of the last N commits")
    estimate.add_argument("--json", action="store_true", help="as JSON, for tools")
    estimate.add_argument("-n", "--jobs", type=int, default=5, help="the -n of the runs estimated (default 5): with many "
                          "stale chunks, one call carries several")
    demo = sub.add_parser("demo", help="run the offline demo")
    demo.add_argument("--dir", type=Path, help="where to put the sample repository (default: a new temp dir)")
    demo.add_argument("--latency", type=float, default=0.3, help="fake API latency per call in seconds")
    demo.add_argument("-n", "--jobs", type=int, default=5)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    if argv is None:  # the real command line, not a test calling main([...])
        from claudebuild.output_guard import guard_standard_streams

        guard_standard_streams()
    try:
        return _dispatch(args_list)
    except ClaudebuildError as error:
        from claudebuild.untrusted_text import terminal_text  # errors may quote the CLI, the API or a file name

        print(f"claudebuild: error: {terminal_text(str(error))}", file=sys.stderr)
        return 2 if isinstance(error, UsageError) else 1
    except KeyboardInterrupt:
        print("claudebuild: interrupted", file=sys.stderr)
        return 130
    except _Crashed as crashed:  # the outer boundary: anything else is our bug
        return _crash_exit(crashed.__cause__ or crashed, crashed.root, crashed.claude_bin)
    except Exception as error:  # before the root is known
        return _crash_exit(error, Path.cwd(), None)


def _crash_exit(error: BaseException, directory: Path, claude_bin: str | None) -> int:
    log = _write_crash_log("".join(traceback.format_exception(error)), directory, claude_bin)
    print(f"claudebuild: unexpected error ({error!r}); details in {log}", file=sys.stderr)
    return 3


def _dispatch(argv: list[str]) -> int:
    parser = build_parser()
    split = _first_positional(argv)
    doit_command = split is not None and argv[split] not in OWN_COMMANDS and not argv[split].startswith("-")
    if split is not None and argv[split] == "ask":
        _check_ask_arguments(argv[split + 1:])
    options = parser.parse_args(argv[:split] if doit_command else argv)
    if not doit_command and options.command is None:
        parser.print_help()
        return 0
    found = _repository_root(options)
    if found.reason != GIVEN and found.path != Path.cwd().resolve() and options.command != "config":
        print(f"claudebuild: repository root {found.path} ({found.reason}); "
              "pass -C . to use this directory alone", file=sys.stderr)
    try:
        if doit_command:
            return _passthrough(options, found.path, argv[split:])
        return _command(options, found)
    except (ClaudebuildError, KeyboardInterrupt):
        raise
    except Exception as error:
        raise _Crashed(found.path, options.claude_bin) from error


def _repository_root(options: argparse.Namespace) -> RepoRoot:
    """-C exactly (an existing directory); `init` and `demo` the current directory; else the search of `repo_root`."""
    if options.root is not None:
        return given_root(options.root)
    if options.command in ("init", "demo"):
        return current_directory(Path.cwd())
    return find_root(Path.cwd())


def _check_ask_arguments(words: list[str]) -> None:
    """argparse takes `ask -dash.py "q"` for an unknown option, then says only that the question is missing."""
    for word in words:
        if word == "--":
            return
        if not word.startswith("-") or word == "-" or " " in word or _NEGATIVE_NUMBER.fullmatch(word):
            continue  # what argparse reads as a positional anyway
        if word in ASK_OPTIONS or (word.startswith("--") and any(option.startswith(word) for option in ASK_OPTIONS)):
            continue
        raise UsageError(f"ask: {word!r} is not an option of ask ({', '.join(ASK_OPTIONS[:2])}): a file, chunk or "
                         f"question that starts with '-' goes after --, e.g. "
                         f"claudebuild ask -- {shlex.quote(word)} \"your question\"")


def _command(options: argparse.Namespace, found: RepoRoot) -> int:
    from claudebuild.config_sources import load_config

    root = found.path
    overrides = _global_overrides(options)
    for key in ("fail_on_error", "tpm", "fail_on", "cache_url", "cache_read_only", "formats"):
        overrides[key] = getattr(options, key, None)
    if getattr(options, "jobs", 1) < 1:
        raise ClaudebuildError("-n must be at least 1")
    command = options.command
    if command == "init":
        from claudebuild.commands.init import init_repository

        changed = init_repository(root, force=options.force)
        print("claudebuild: " + (f"wrote {', '.join(changed)}" if changed else "already set up") +
              "; next: `doit -n 5 analyze` then `doit report`")
        return 0
    if command == "demo":
        from claudebuild.commands.demo import run_demo

        return run_demo(directory=options.dir, latency=options.latency, jobs=options.jobs)
    if command == "config":
        from claudebuild.commands.show_config import show_config

        return show_config(root, overrides, as_json=options.json, found=found)
    config = load_config(root, overrides)
    if command == "hook":
        from claudebuild.commands.hook import install_hook, run_hook

        if options.hook_command == "install":
            print(f"claudebuild: installed {install_hook(root, force=options.force)}")
            return 0
        return run_hook(config, options.files, fail_on=options.fail_on or config.fail_on or "high", jobs=options.jobs)
    if command == "ask":
        from claudebuild.commands.ask import run_ask

        return run_ask(config, options.target, options.question, fork=options.fork, reanalyze=options.reanalyze)
    if command == "sessions":
        from claudebuild.commands.sessions import run_sessions

        return run_sessions(config, as_json=options.json)
    if command == "estimate":
        from claudebuild.commands.estimate import run_estimate

        if options.history < 0:
            raise ClaudebuildError("--history must be 0 or more commits")
        return run_estimate(config, history=options.history, as_json=options.json, workers=options.jobs)
    if command == "baseline":
        from claudebuild.commands.baseline import record_baseline

        return record_baseline(config)
    if command == "merge":
        from claudebuild.commands.merge import run_merge

        return run_merge(config, [Path(os.path.abspath(source)) for source in options.sources])  # from the cwd
    if options.max_cost is not None and options.max_cost <= 0:
        raise ClaudebuildError("--max-cost must be a positive amount in USD, e.g. --max-cost 2.50")
    stamp = None
    if (command == "analyze" and options.max_cost is None and not options.shard and not options.changed_since
            and getattr(options, "format", None) is None):
        from claudebuild.commands.noop import look_noop

        stamp, known = look_noop(config)
        if known is not None and known.text is not None:
            print(known.text, flush=True)
            return known.code
    from claudebuild.run.plan import Shard
    from claudebuild.commands.run import run_tasks

    return run_tasks(config, ["analyze"] if command == "analyze" else ["report"], options.jobs,
                     max_cost=options.max_cost, shard=Shard.parse(options.shard) if options.shard else None,
                     print_format=getattr(options, "format", None), analyze=getattr(options, "analyze", True),
                     changed_since=options.changed_since, stamp=stamp)


def _passthrough(options: argparse.Namespace, root: Path, doit_argv: list[str]) -> int:
    from claudebuild.commands.run import run_passthrough
    from claudebuild.config_sources import load_config

    config = load_config(root, _global_overrides(options))
    if doit_argv and doit_argv[0] in {check.name for check in config.checks}:
        doit_argv = _check_command(doit_argv)
    return run_passthrough(config, doit_argv)


def _check_command(argv: list[str]) -> list[str]:
    """`claudebuild security -n 5`: one check's tasks with `-n`/`--jobs` parallel calls, as on `analyze`.
    doit takes its options only before the task names (`doit -n 5 security`); after one it reads them as
    that task's parameters and fails, so `-n` is moved in front."""
    jobs: str | None = None
    rest: list[str] = []
    words = iter(argv[1:])
    for word in words:
        if word in ("-n", "--jobs"):
            jobs = next(words, "")
        elif word.startswith("--jobs="):
            jobs = word.removeprefix("--jobs=")
        elif word.startswith("-n") and word[2:].isdigit():
            jobs = word[2:]
        else:
            rest.append(word)
    if jobs is None:
        return argv
    if not jobs.isdigit() or int(jobs) < 1:
        raise UsageError(f"{argv[0]}: -n must be a whole number of at least 1, got {jobs!r}")
    return ["run", "-n", jobs, argv[0], *rest]


def _global_overrides(options: argparse.Namespace) -> dict[str, Any]:
    """The settings given as global options (None: not given)."""
    return {"model": options.model, "claude_bin": options.claude_bin, "config_from": options.config_from}


def _first_positional(argv: list[str]) -> int | None:
    """Index of the command word, skipping our global options and their values."""
    takes_value = {"-C", "--root", "--model", "--claude", "--config-from"}
    index = 0
    while index < len(argv):
        item = argv[index]
        if item in takes_value:
            index += 2
            continue
        if item.startswith("-"):
            if item in ("-h", "--help", "--version") or "=" in item:
                index += 1
                continue
            return None
        return index
    return None


def _write_crash_log(text: str, directory: Path | None = None, claude_bin: str | None = None) -> Path:
    """Write `directory`/.claudebuild/crash.log (the repository root once known, else the current directory)."""
    from claudebuild.claude.runner import claude_version

    directory = directory or Path.cwd()
    try:  # the user's CLI (--claude, environment or PATH), never one the repository names
        cli = claude_version(claude_bin or os.environ.get("CLAUDEBUILD_CLAUDE") or "claude")
    except ClaudebuildError as error:
        cli = f"unavailable ({error})"
    path = directory / ".claudebuild" / "crash.log"
    header = f"claudebuild {__version__}, Python {platform.python_version()}, {platform.platform()}, claude: {cli}\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if not Path(os.path.realpath(path.parent)).is_relative_to(os.path.realpath(directory)):
            raise OSError("the state directory leads out of the repository")  # a symlink: do not follow it
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(header + text)
    except OSError:
        path = Path("/dev/stderr")
        sys.stderr.write(header + text)
    return path

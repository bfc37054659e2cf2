"""The `claudebuild` command: parse, dispatch, and the one error boundary with fixed exit codes.

Exit codes: 0 ok; 1 a failed chunk, a user error (message names the fix) or a
doit failure; 130 Ctrl-C; 3 an unexpected crash (traceback saved to
.claudebuild/crash.log with versions, one line printed).
"""

from __future__ import annotations

import argparse
import platform
import sys
import traceback
from pathlib import Path
from typing import Any, Sequence

from claudebuild import CLAUDE_CODE_VERSION, __version__
from claudebuild.config import FORMATS
from claudebuild.errors import ClaudebuildError
from claudebuild.model import SEVERITIES

OWN_COMMANDS = ("init", "analyze", "report", "demo", "hook", "merge", "config", "ask", "sessions", "baseline")

DESCRIPTION = """\
AI code analysis with the Claude Code CLI as an incremental doit build.

commands:
  init                   write dodo.py, .claudeignore and claudebuild.toml in the repository
  analyze [-n N]         analyze new or changed chunks, N claude calls at a time
  report [-n N]          analyze what is out of date, then write the reports in .claudebuild/
  report --format F      ... and print one format (json, md, sarif, html, junit, gitlab, rdjson, github)
  hook run|install       pre-commit: review the staged content of staged files
  merge DIR...           combine sharded CI runs (--shard K/N) into one cache and report
  config                 show every effective setting and where it came from
  ask FILE|CHUNK "Q"     ask a follow-up question on a chunk's stored Claude session (--no-fork, --reanalyze)
  sessions [--json]      list chunks with their Claude session id, age, cost and whether it can be resumed
  baseline               record the current findings in claudebuild-baseline.json: only new ones fail --fail-on
  demo                   copy the bundled sample repo, run it against the local fake API, edit, rerun
  list|info|forget|...   any other doit command, on claudebuild's tasks (e.g. `claudebuild info analyze:<id>`)
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="claudebuild", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action="version", version=f"claudebuild {__version__} (claude-code {CLAUDE_CODE_VERSION} pinned)")
    parser.add_argument("-C", "--root", type=Path, default=Path.cwd(), help="repository to analyze (default: current directory)")
    parser.add_argument("--model", help="Claude model (default from config: claude-sonnet-4-5)")
    parser.add_argument("--claude", dest="claude_bin", help="path of the claude CLI (default: claude on PATH)")
    sub = parser.add_subparsers(dest="command", metavar="command")
    init = sub.add_parser("init", help="set up a repository")
    init.add_argument("--force", action="store_true", help="overwrite existing dodo.py/.claudeignore/claudebuild.toml")
    _run_options(sub.add_parser("analyze", help="analyze new or changed chunks"))
    report = sub.add_parser("report", help="analyze what is stale, then write the report")
    _run_options(report)
    report.add_argument("--format", choices=FORMATS, help="also print this format to stdout (progress goes to stderr)")
    hook = sub.add_parser("hook", help="pre-commit hook")
    hook_sub = hook.add_subparsers(dest="hook_command", metavar="run|install", required=True)
    hook_run = hook_sub.add_parser("run", help="review the staged content of staged files")
    hook_run.add_argument("files", nargs="*", help="limit to these staged files (pre-commit passes them)")
    hook_run.add_argument("--fail-on", choices=SEVERITIES, help="block the commit at this severity (default: fail_on, else high)")
    hook_run.add_argument("-n", "--jobs", type=int, default=4)
    hook_install = hook_sub.add_parser("install", help="install .git/hooks/pre-commit for plain git")
    hook_install.add_argument("--force", action="store_true", help="replace an existing pre-commit hook")
    merge = sub.add_parser("merge", help="combine shard results")
    merge.add_argument("sources", nargs="+", type=Path, help="each shard's .claudebuild/ directory (or its repository)")
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
    demo = sub.add_parser("demo", help="run the offline demo")
    demo.add_argument("--dir", type=Path, help="where to put the sample repository (default: a new temp dir)")
    demo.add_argument("--latency", type=float, default=0.3, help="fake API latency per call in seconds")
    demo.add_argument("-n", "--jobs", type=int, default=5)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        return _dispatch(args_list)
    except ClaudebuildError as error:
        print(f"claudebuild: error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("claudebuild: interrupted", file=sys.stderr)
        return 130
    except Exception:  # the outer boundary: anything else is our bug
        log = _write_crash_log(traceback.format_exc())
        print(f"claudebuild: unexpected error ({sys.exc_info()[1]!r}); details in {log}", file=sys.stderr)
        return 3


def _dispatch(argv: list[str]) -> int:
    parser = build_parser()
    split = _first_positional(argv)
    if split is not None and argv[split] not in OWN_COMMANDS and not argv[split].startswith("-"):
        options = parser.parse_args(argv[:split])
        return _passthrough(options, argv[split:])
    options = parser.parse_args(argv)
    if options.command is None:
        parser.print_help()
        return 0
    from claudebuild.config import load_config

    root = options.root.resolve()
    if not root.is_dir():
        raise ClaudebuildError(f"{options.root} is not a directory: pass the repository with -C DIR")
    overrides: dict[str, Any] = {"model": options.model, "claude_bin": options.claude_bin}
    for key in ("fail_on_error", "tpm", "fail_on"):
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

        return show_config(root, overrides, as_json=options.json)
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
    if command == "baseline":
        from claudebuild.commands.baseline import record_baseline

        return record_baseline(config)
    if command == "merge":
        from claudebuild.commands.merge import run_merge

        return run_merge(config, options.sources)
    if options.max_cost is not None and options.max_cost <= 0:
        raise ClaudebuildError("--max-cost must be a positive amount in USD, e.g. --max-cost 2.50")
    from claudebuild.build import Shard
    from claudebuild.commands.run import run_tasks

    return run_tasks(config, ["analyze"] if command == "analyze" else ["report"], options.jobs,
                     max_cost=options.max_cost, shard=Shard.parse(options.shard) if options.shard else None,
                     print_format=getattr(options, "format", None))


def _passthrough(options: argparse.Namespace, doit_argv: list[str]) -> int:
    from claudebuild.commands.run import run_passthrough
    from claudebuild.config import load_config

    config = load_config(options.root, {"model": options.model, "claude_bin": options.claude_bin})
    return run_passthrough(config, doit_argv)


def _first_positional(argv: list[str]) -> int | None:
    """Index of the command word, skipping our global options and their values."""
    takes_value = {"-C", "--root", "--model", "--claude"}
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


def _write_crash_log(text: str) -> Path:
    from claudebuild.claude import claude_version

    try:
        cli = claude_version("claude")
    except ClaudebuildError as error:
        cli = f"unavailable ({error})"
    path = Path.cwd() / ".claudebuild" / "crash.log"
    header = f"claudebuild {__version__}, Python {platform.python_version()}, {platform.platform()}, claude: {cli}\n"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(header + text, encoding="utf-8")
    except OSError:
        path = Path("/dev/stderr")
        sys.stderr.write(header + text)
    return path

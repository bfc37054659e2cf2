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
from typing import Sequence

from claudebuild import CLAUDE_CODE_VERSION, __version__
from claudebuild.errors import ClaudebuildError

OWN_COMMANDS = ("init", "analyze", "report", "demo")

DESCRIPTION = """\
AI code analysis with the Claude Code CLI as an incremental doit build.

commands:
  init                 write dodo.py, .claudeignore and claudebuild.toml in the repository
  analyze [-n N]       analyze new or changed chunks, N claude calls at a time
  report [-n N]        analyze what is out of date, then write .claudebuild/report.{json,md}
  demo                 copy the bundled sample repo, run it against the local fake API, edit, rerun
  list|info|forget|... any other doit command, on claudebuild's tasks (e.g. `claudebuild info analyze:<id>`)
"""


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
    for name, text in (("analyze", "analyze new or changed chunks"), ("report", "analyze what is stale, then write the report")):
        command = sub.add_parser(name, help=text)
        command.add_argument("-n", "--jobs", type=int, default=5, help="parallel claude calls (default 5)")
        command.add_argument("--no-fail-on-error", dest="fail_on_error", action="store_false", default=None,
                             help="exit 0 even when some chunks failed")
        command.add_argument("--max-cost", type=float, metavar="USD",
                             help="run budget: analyze the most valuable chunks that fit, list the rest")
        command.add_argument("--tpm", type=int, metavar="TOKENS", help="tokens-per-minute limit shared by all workers")
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
    if options.command == "init":
        from claudebuild.commands.init import init_repository

        changed = init_repository(root, force=options.force)
        print("claudebuild: " + (f"wrote {', '.join(changed)}" if changed else "already set up") +
              "; next: `doit -n 5 analyze` then `doit report`")
        return 0
    if options.command == "demo":
        from claudebuild.commands.demo import run_demo

        return run_demo(directory=options.dir, latency=options.latency, jobs=options.jobs)
    overrides = {"model": options.model, "claude_bin": options.claude_bin, "fail_on_error": options.fail_on_error,
                 "tpm": options.tpm}
    config = load_config(root, overrides)
    if options.jobs < 1:
        raise ClaudebuildError("-n must be at least 1")
    if options.max_cost is not None and options.max_cost <= 0:
        raise ClaudebuildError("--max-cost must be a positive amount in USD, e.g. --max-cost 2.50")
    from claudebuild.commands.run import run_tasks

    targets = ["analyze"] if options.command == "analyze" else ["report"]
    return run_tasks(config, targets, options.jobs, max_cost=options.max_cost)


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

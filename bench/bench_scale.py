"""Scale benchmark: claudebuild's own overhead at 1,000 / 10,000 / 30,000 (and 100,000) files.

A stub `claude` (a few lines of sh that answer at once with a valid, empty
result; written into the work directory) stands in for the CLI, so every figure
is claudebuild's own cost: discovery, chunking, task building, doit's checks,
the database, the report. The stub is for measuring overhead only, never for
behaviour tests. Each repository comes from bench/generate.py, committed in git
(discovery by `git ls-files`), with the two-line dodo.py committed too.

Per size, after one cold run that fills the cache:

  no-op        `claudebuild analyze` with nothing changed: wall (median of --repeat),
               CPU (user+system of the process and its children) and peak RSS
  doit no-op   `doit -n 5 analyze` in the repository, nothing changed (median)
  1 edit       a line appended to one file, then `claudebuild analyze` (1 stub call)
  hook         a line appended to one file, `git add`, then `claudebuild hook run`
               (1 stub call); the file is committed afterwards with --no-verify
  git status   `git status --porcelain`, for scale: the floor any no-op pays

and a table with the per-1,000-file slope between the smallest and largest size.
CPU and peak RSS come from `os.wait4` on each process (its own and its waited-for
children's). It prints figures and asserts nothing about time; exit status 2 means
a count was wrong (a no-op made calls, an edit called for an old chunk other than its own).

    .venv/bin/python bench/bench_scale.py                        # 1k, 10k, 30k (~10 min on 2 cores, most of it generating)
    .venv/bin/python bench/bench_scale.py --sizes 1000,10000     # quicker
    .venv/bin/python bench/bench_scale.py --huge                 # also 100,000 files
    .venv/bin/python bench/bench_scale.py --work DIR             # keep repos in DIR and reuse them next time
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import call_log_lines, load_note, make_workdir, read_calls, remove_workdir
from generate import GIT_ENV, generate_repo, git_commit_all

STUB = r"""#!/bin/sh
# Stub claude for bench_scale.py: answers at once with an empty, valid result. Overhead measurement only.
sid=00000000-0000-4000-8000-000000000000
while [ $# -gt 0 ]; do
  case "$1" in
    --version) echo "2.1.332 (Claude Code)"; exit 0 ;;
    --session-id) sid="$2"; shift ;;
  esac
  shift
done
cat >/dev/null
printf '{"type":"result","subtype":"success","is_error":false,"api_error_status":null,"result":"",'
printf '"structured_output":{"findings":[]},"session_id":"%s","num_turns":2,"total_cost_usd":0.0001,' "$sid"
printf '"usage":{"input_tokens":100,"output_tokens":10},"duration_ms":1}\n'
"""

DODO = "from claudebuild.engine import dodo_tasks\n\nglobals().update(dodo_tasks(__file__))\n"


@dataclass
class Measure:
    wall: float
    cpu: float
    rss_mb: float
    code: int
    output: str = ""


@dataclass
class SizeFigures:
    files: int
    chunks: int = 0
    cold: float = 0.0
    noop: list[float] = field(default_factory=list)
    noop_cpu: list[float] = field(default_factory=list)
    noop_rss_mb: float = 0.0
    doit_noop: list[float] = field(default_factory=list)
    doit_noop_cpu: list[float] = field(default_factory=list)
    edit: list[float] = field(default_factory=list)
    edit_cpu: list[float] = field(default_factory=list)
    hook: list[float] = field(default_factory=list)
    hook_cpu: list[float] = field(default_factory=list)
    hook_rss_mb: float = 0.0
    git_status: float = 0.0
    wrong: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,10000,30000", help="comma-separated file counts (default 1000,10000,30000)")
    parser.add_argument("--huge", action="store_true", help="also 100,000 files")
    parser.add_argument("--repeat", type=int, default=3, help="runs per figure; the median is shown (default 3)")
    parser.add_argument("--jobs", "-n", type=int, default=4, help="parallel stub calls in the cold run (default 4)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--work", type=Path, metavar="DIR",
                        help="keep the repositories in DIR and reuse them when run again (default: a temp dir, removed)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    return parser.parse_args(argv)


def measure(argv: list[str], cwd: Path, env: dict[str, str]) -> Measure:
    """Run to completion; wall seconds, CPU seconds and peak RSS of it and its children (os.wait4)."""
    started = time.monotonic()
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    assert process.stdout is not None
    try:
        output = process.stdout.read()
        _, status, usage = os.wait4(process.pid, 0)
    except BaseException:
        process.kill()
        process.wait()
        raise
    process.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - started
    return Measure(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, process.returncode,
                   output.decode("utf-8", "replace"))


def prepare_repo(work: Path, files: int, seed: int) -> Path:
    """A committed generated repository with dodo.py; reused (reset to its last commit, state removed) when it exists."""
    repo = work / f"repo-{files}"
    if (repo / ".git").exists() and (repo / "dodo.py").exists():
        subprocess.run(["git", "-C", str(repo), "reset", "-q", "--hard"], check=True)
        subprocess.run(["git", "-C", str(repo), "clean", "-q", "-fdx"], check=True)  # .claudebuild/ too: a cold start
        return repo
    started = time.monotonic()
    generate_repo(repo, files, seed)
    (repo / "dodo.py").write_text(DODO, encoding="utf-8")
    (repo / ".gitignore").write_text(".claudebuild/\n", encoding="utf-8")
    git_commit_all(repo, "generated benchmark repository")
    print(f"  generated and committed {files} files in {time.monotonic() - started:.0f}s", flush=True)
    return repo


def claudebuild(repo: Path, env: dict[str, str], *args: str) -> Measure:
    return measure([sys.executable, "-m", "claudebuild", "-C", str(repo), *args], repo, env)


def bench_size(work: Path, files: int, args: argparse.Namespace, env: dict[str, str]) -> SizeFigures:
    print(f"== {files} files", flush=True)
    figures = SizeFigures(files)
    repo = prepare_repo(work, files, args.seed)
    manifest_paths = sorted(subprocess.run(["git", "-C", str(repo), "ls-files"], capture_output=True, text=True,
                                           check=True).stdout.split())
    cold = claudebuild(repo, env, "analyze", "-n", str(args.jobs))
    figures.cold = cold.wall
    if cold.code != 0:
        figures.wrong.append(f"cold run exited {cold.code}: {cold.output[-500:]}")
    figures.chunks = call_log_lines(repo)  # the first run on a new repo calls once per chunk
    print(f"  cold run {cold.wall:.1f}s ({figures.chunks} calls logged so far)", flush=True)
    for _ in range(args.repeat):
        before = call_log_lines(repo)
        run = claudebuild(repo, env, "analyze")
        figures.noop.append(run.wall)
        figures.noop_cpu.append(run.cpu)
        figures.noop_rss_mb = max(figures.noop_rss_mb, run.rss_mb)
        if call_log_lines(repo) != before or run.code != 0:
            figures.wrong.append(f"no-op made {call_log_lines(repo) - before} calls, exit {run.code}")
    for _ in range(args.repeat):
        before = call_log_lines(repo)
        run = measure([sys.executable, "-m", "doit", "-n", "5", "analyze"], repo, env)
        figures.doit_noop.append(run.wall)
        figures.doit_noop_cpu.append(run.cpu)
        if call_log_lines(repo) != before or run.code != 0:
            figures.wrong.append(f"doit no-op made {call_log_lines(repo) - before} calls, exit {run.code}: {run.output[-300:]}")
    candidates = _Edits(repo, manifest_paths)
    for index in range(args.repeat):
        planned = planned_chunks(repo)
        path = candidates.edit(index)
        before = call_log_lines(repo)
        run = claudebuild(repo, env, "analyze")
        figures.edit.append(run.wall)
        figures.edit_cpu.append(run.cpu)
        judge_edit(figures, "1-edit rerun", read_calls(repo, before), path, planned)
    for index in range(args.repeat):
        planned = planned_chunks(repo)
        path = candidates.edit(100 + index)
        subprocess.run(["git", "-C", str(repo), "add", "--", path], check=True)
        before = call_log_lines(repo)
        run = claudebuild(repo, env, "hook", "run")
        figures.hook.append(run.wall)
        figures.hook_cpu.append(run.cpu)
        figures.hook_rss_mb = max(figures.hook_rss_mb, run.rss_mb)
        judge_edit(figures, "hook", read_calls(repo, before), path, planned)
        if run.code != 0:
            figures.wrong.append(f"hook exited {run.code}: {run.output[-300:]}")
        subprocess.run(["git", "-C", str(repo), "commit", "-q", "--no-verify", "--no-gpg-sign", "-m", "bench edit"],
                       check=True, env={**os.environ, **GIT_ENV})
    figures.git_status = statistics.median(
        measure(["git", "status", "--porcelain"], repo, env).wall for _ in range(args.repeat))
    return figures


def planned_chunks(repo: Path) -> set[str]:
    """The chunk ids of the last run's plan (claudebuild's plan memo), to tell a new chunk from an old one."""
    try:
        return {entry[1] for entry in json.loads((repo / ".claudebuild" / "plan.json").read_bytes())["plan"]}
    except (OSError, ValueError, KeyError, IndexError, TypeError):
        return set()


MOVED_BOUNDARIES = 2
"""Besides the edited file's chunk, at most this many new chunks: a chunk near the byte cap that an appended
line pushes over it splits, and the neighbour that takes its overflow is a new chunk too."""


def judge_edit(figures: SizeFigures, what: str, calls: list[dict[str, object]], path: str, planned: set[str]) -> None:
    """One call must hold the edited file. Any other call is accepted only for a chunk the last plan did not
    have (the edit grew a chunk past the byte cap, so its files were split anew): it is counted as a note,
    never hidden. An old chunk called again, or more new ones than a split can make, is a wrong count."""
    edited = [call for call in calls if path in (call.get("files") or ())]
    others = [str(call.get("chunk")) for call in calls if path not in (call.get("files") or ())]
    if len(edited) != 1 or len(others) > MOVED_BOUNDARIES or any(chunk in planned for chunk in others):
        figures.wrong.append(f"{what} after editing {path} made {len(calls)} calls: "
                             f"{[call.get('chunk') for call in calls]}")
    elif others:
        figures.notes.append(f"{what}: the edit of {path} split its chunk: {len(calls)} calls, new chunks {others}")


class _Edits:
    """Appends a line to the index-th problem-free Python file of a fixed pseudo-random order."""

    def __init__(self, repo: Path, paths: list[str]) -> None:
        self.repo = repo
        self.paths = [path for path in paths if path.endswith(".py") and path != "dodo.py"]  # generated files only

    def edit(self, index: int) -> str:
        path = self.paths[(index * 7919) % len(self.paths)]
        with open(self.repo / path, "a", encoding="utf-8") as handle:
            handle.write(f"\n\nEDITED_FOR_BENCHMARK_{index} = True\n")
        return path


def median(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def print_table(rows: list[SizeFigures]) -> None:
    """Wall seconds (median), CPU seconds in brackets: on a shared machine the CPU figure is the steadier one."""
    print()
    print("wall s (CPU s), median of the repeats")
    print()
    print("| files (chunks) | `claudebuild analyze` no-op | `doit -n 5 analyze` no-op | 1-edit rerun "
          "| hook, 1 staged file | peak RSS no-op / hook | `git status` | cold run |")
    print("|---|---|---|---|---|---|---|---|")

    def both(row: SizeFigures, pick: str) -> str:
        return f"{median(getattr(row, pick)):.2f} ({median(getattr(row, pick + '_cpu')):.2f})"

    for row in rows:
        print(f"| {row.files:,} ({row.chunks:,}) | {both(row, 'noop')} | {both(row, 'doit_noop')} | {both(row, 'edit')} "
              f"| {both(row, 'hook')} | {row.noop_rss_mb:.0f} / {row.hook_rss_mb:.0f} MB | {row.git_status:.2f} "
              f"| {row.cold:.0f} |")
    if len(rows) >= 2:
        low, high = rows[0], rows[-1]
        span = (high.files - low.files) / 1000

        def slope(pick: str) -> str:
            def per(name: str) -> float:
                return (median(getattr(high, name)) - median(getattr(low, name))) / span * 1000
            return f"{per(pick):.0f} ms ({per(pick + '_cpu'):.0f} ms)"

        print(f"| per 1,000 files ({low.files:,} → {high.files:,}) | {slope('noop')} | {slope('doit_noop')} "
              f"| {slope('edit')} | {slope('hook')} | {(high.noop_rss_mb - low.noop_rss_mb) / span:.1f} MB | | |")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = [int(item) for item in args.sizes.split(",") if item]
    if args.huge and 100_000 not in sizes:
        sizes.append(100_000)
    work = args.work.resolve() if args.work else make_workdir(None, "claudebuild-bench-scale-")
    work.mkdir(parents=True, exist_ok=True)
    stub = work / "stub-claude"
    stub.write_text(STUB, encoding="utf-8")
    stub.chmod(0o755)
    env = {**os.environ, "CLAUDEBUILD_CLAUDE": str(stub), "TERM": "dumb"}
    env.pop("CLAUDEBUILD_CONFIG_FROM", None)
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # users have compiled bytecode: do not pay compiling on every run
    print(f"bench_scale: sizes {sizes}, repeat {args.repeat}; {load_note()}", flush=True)
    rows: list[SizeFigures] = []
    try:
        for files in sorted(sizes):
            rows.append(bench_size(work, files, args, env))
    finally:
        if args.work is None:
            remove_workdir(work, None)
    print_table(rows)
    print(f"\n{load_note()}")
    for row in rows:
        for note in row.notes:
            print(f"NOTE: {row.files} files: {note}")
    wrong = [f"{row.files} files: {problem}" for row in rows for problem in row.wrong]
    for problem in wrong:
        print(f"WRONG COUNT: {problem}")
    if args.json:
        args.json.write_text(json.dumps([asdict(row) for row in rows], indent=2), encoding="utf-8")
    return 2 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())

"""Replay a real history: claudebuild after each of the last N commits of any local git repository.

The repository is cloned into a temporary directory (never modified, nothing of it is kept),
checked out at the commit before the window and analyzed cold; then each of the N commits is
checked out in turn and `python -m claudebuild analyze` runs again, stub-free: the real `claude`
CLI against the local fake API (`FakeAnthropicServer`, no latency). Per chunk-size setting
(`--settings BYTESxFILES,...`, each written into the clone's claudebuild.toml) it prints:

  cold             request bytes and calls of the first run
  per commit       reviewable files changed, calls (chunks re-analyzed), request bytes
  chunks/file      chunks re-analyzed per changed reviewable file
  totals           cold + replay bytes, against
    naive loop     a script that sends every changed reviewable file alone after each commit
                   (its bytes: the file at this run's content rate + this run's per-call overhead)
    cold per commit  a run with no cache after every commit (the cold run's bytes x N)

The per-call overhead (system prompt, tools/schema, instructions, metadata: everything that is
not fenced file content) and the content rate (request bytes per file byte inside the fences,
line numbers and JSON escaping included) are measured from the cold run's requests.

    .venv/bin/python bench/bench_replay.py /path/to/repo --commits 30
    .venv/bin/python bench/bench_replay.py /path/to/repo --commits 20 --settings 100000x20,50000x10,25000x6
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import fenced_part, load_note, make_workdir, offline_env, plan_chunks, remove_workdir, run_claudebuild, write_config

from claudebuild.fakeapi import FakeAnthropicServer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repo", type=Path, help="a local git repository (work tree or bare); it is cloned, never changed")
    parser.add_argument("--commits", type=int, default=30, help="commits to replay (default 30; first-parent history)")
    parser.add_argument("--settings", default="100000x20,50000x10",
                        help="chunk settings to compare, max_chunk_bytes x max_files_per_chunk (default 100000x20,50000x10)")
    parser.add_argument("--jobs", "-n", type=int, default=4, help="parallel claude calls (default 4)")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="work in DIR (empty) and keep it")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    return parser.parse_args(argv)


def git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True,
                          env={"GIT_CONFIG_GLOBAL": "/dev/null", "GIT_CONFIG_NOSYSTEM": "1", "PATH": "/usr/bin:/bin",
                               "GIT_ADVICE": "0"})
    return done.stdout


@dataclass
class Replay:
    setting: str
    chunks: int = 0
    cold_bytes: int = 0
    cold_calls: int = 0
    overhead_per_call: float = 0.0
    content_rate: float = 0.0
    commits: list[dict[str, Any]] = field(default_factory=list)


def measure_overhead(api: FakeAnthropicServer, content_bytes: int) -> tuple[float, float]:
    """(bytes per call that are not fenced content, request bytes per byte of file content) of the last run."""
    requests = api.message_requests()
    fenced = [len(json.dumps(fenced_part(request.user_text), ensure_ascii=False).encode()) - 2 for request in requests]
    overhead = [request.body_bytes - size for request, size in zip(requests, fenced)]
    return (sum(overhead) / len(overhead) if overhead else 0.0, sum(fenced) / content_bytes if content_bytes else 0.0)


def reviewable_sizes(clone: Path) -> dict[str, int]:
    return {path: (clone / path).stat().st_size for chunk in plan_chunks(clone) for path in chunk.paths}


def replay(source: Path, setting: str, commits: list[str], work: Path, jobs: int) -> Replay:
    max_bytes, max_files = (int(part) for part in setting.split("x"))
    clone = work / f"clone-{setting}"
    git(work, "clone", "-q", "--no-checkout", str(source), str(clone))
    git(clone, "checkout", "-q", "--detach", commits[0])
    (clone / ".git" / "info" / "exclude").write_text(".claudebuild/\nclaudebuild.toml\n")
    write_config(clone, {"max_chunk_bytes": max_bytes, "max_files_per_chunk": max_files})
    result = Replay(setting)
    with FakeAnthropicServer() as api:
        env = offline_env(api.url, work / f"claude-config-{setting}")
        sizes = reviewable_sizes(clone)
        result.chunks = len(plan_chunks(clone))
        cold = run_claudebuild("cold", clone, jobs, env, api)
        result.cold_bytes, result.cold_calls = cold.extra["request_bytes"], cold.api_calls
        result.overhead_per_call, result.content_rate = measure_overhead(api, sum(sizes.values()))
        print(f"  {setting}: {result.chunks} chunks, cold {result.cold_calls} calls {result.cold_bytes:,} bytes "
              f"(per call {result.overhead_per_call:,.0f} bytes of overhead; {result.content_rate:.3f} bytes per content byte)",
              flush=True)
        previous = commits[0]
        for commit in commits[1:]:
            changed = git(clone, "diff", "--name-only", "--no-renames", previous, commit).splitlines()
            git(clone, "checkout", "-q", "--detach", commit)
            sizes = reviewable_sizes(clone)
            run = run_claudebuild(commit[:10], clone, jobs, env, api)
            reviewable = [path for path in changed if path in sizes]
            naive = sum(sizes[path] * result.content_rate + result.overhead_per_call for path in reviewable)
            result.commits.append({"commit": commit, "changed_files": len(reviewable), "calls": run.api_calls,
                                   "bytes": run.extra["request_bytes"], "naive_bytes": round(naive),
                                   "changed_bytes": sum(sizes[path] for path in reviewable), "exit": run.exit_code})
            previous = commit
    return result


def summary(result: Replay) -> dict[str, Any]:
    commits = result.commits
    changed = sum(item["changed_files"] for item in commits)
    calls = sum(item["calls"] for item in commits)
    replay_bytes = sum(item["bytes"] for item in commits)
    naive = sum(item["naive_bytes"] for item in commits)
    cold_each = result.cold_bytes * len(commits)
    return {"setting": result.setting, "chunks": result.chunks, "cold_bytes": result.cold_bytes,
            "cold_calls": result.cold_calls, "overhead_bytes_per_call": round(result.overhead_per_call),
            "content_rate": round(result.content_rate, 3), "commits": len(commits), "changed_files": changed,
            "replay_calls": calls, "replay_bytes": replay_bytes,
            "chunks_per_changed_file": calls / changed if changed else 0.0,
            "total_bytes": result.cold_bytes + replay_bytes, "naive_loop_bytes": naive,
            "cold_per_commit_bytes": cold_each,
            "replay_vs_naive": replay_bytes / naive if naive else 0.0,
            "replay_vs_cold_per_commit": replay_bytes / cold_each if cold_each else 0.0,
            "failed_runs": sum(1 for item in commits if item["exit"] not in (0,))}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    source = args.repo.resolve()
    name = source.parent.name if source.name in ("repo", ".git") else source.name  # a mirror's or bare clone's folder
    work = make_workdir(args.keep, "claudebuild-bench-replay-")
    try:
        commits = list(reversed(git(source, "rev-list", "--first-parent", f"--max-count={args.commits + 1}", "HEAD").split()))
        print(f"replay: {name}, {len(commits) - 1} commits after {commits[0][:10]}; -n {args.jobs}; {load_note()}",
              flush=True)
        rows = []
        for setting in args.settings.split(","):
            rows.append(summary(replay(source, setting, commits, work, args.jobs)))
            row = rows[-1]  # at once, so a long run that is stopped keeps what it measured
            print(f"  {setting}: {row['replay_calls']} replay calls for {row['changed_files']} changed files, replay "
                  f"{row['replay_bytes']:,} bytes, cold + replay {row['total_bytes']:,} bytes", flush=True)
        print()
        print(f"== {name}: cold run at {commits[0][:10]}, then {len(commits) - 1} commits")
        header = (f"{'setting':>12} {'chunks':>6} {'cold KB':>8} {'ovh B/call':>10} {'rate':>5} {'files chg':>9} "
                  f"{'calls':>5} {'chunks/file':>11} {'replay KB':>9} {'total KB':>9} {'naive KB':>9} "
                  f"{'cold/commit KB':>14} {'vs naive':>8} {'vs cold':>7}")
        print(header)
        for row in rows:
            print(f"{row['setting']:>12} {row['chunks']:>6} {row['cold_bytes'] / 1e3:>8.0f} {row['overhead_bytes_per_call']:>10} "
                  f"{row['content_rate']:>5.2f} {row['changed_files']:>9} {row['replay_calls']:>5} "
                  f"{row['chunks_per_changed_file']:>11.2f} {row['replay_bytes'] / 1e3:>9.0f} {row['total_bytes'] / 1e3:>9.0f} "
                  f"{row['naive_loop_bytes'] / 1e3:>9.0f} {row['cold_per_commit_bytes'] / 1e3:>14.0f} "
                  f"{row['replay_vs_naive']:>8.2f} {row['replay_vs_cold_per_commit']:>7.3f}"
                  + (f"  ({row['failed_runs']} runs exited non-zero)" if row["failed_runs"] else ""))
        print(f"machine: {load_note()}")
        if args.json:
            args.json.write_text(json.dumps({"repo": name, "rows": rows}, indent=2), encoding="utf-8")
        return 0
    finally:
        remove_workdir(work, args.keep)


if __name__ == "__main__":
    sys.exit(main())

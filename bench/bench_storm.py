"""Storm benchmark: more workers than the API will serve at once.

The in-process `FakeAnthropicServer(latency=0.5, max_concurrent=2)` answers a third
request in flight with 429 at once. `claudebuild analyze -n 8` runs over a generated
200-file repository cut into ~50 chunks (max_files_per_chunk picked to land in
40..60 unless given). claudebuild's shared backoff and adaptive concurrency limit
should bring the 8 workers down to what the server serves, so that most chunks need
one call. Printed, from the server's request log and `.claudebuild/calls.ndjson`:

  chunks, claude calls (processes), API requests (200 / 429), calls per chunk,
  retries (calls whose outcome was not ok), most attempts by one chunk, failed chunks,
  wall time vs the ideal chunks x latency / 2 (the server serves 2 at a time) and the
  ratio, CPU seconds of all processes started, and how many claude processes ran at once.

It prints figures and asserts nothing about time; exit status 2 means a chunk failed.

    .venv/bin/python bench/bench_storm.py
    .venv/bin/python bench/bench_storm.py --backoff-base 0.5 --backoff-max 5
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    call_log_lines, concurrency_profile, load_note, make_workdir, offline_env, outcomes_by_chunk, plan_chunks, read_calls,
    remove_workdir, run_claudebuild, write_config,
)
from generate import generate_repo

from claudebuild.fakeapi import FakeAnthropicServer

TARGET_CHUNKS = (40, 60)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=200, help="files in the generated repository (default 200)")
    parser.add_argument("--latency", type=float, default=0.5, help="fake API seconds per call (default 0.5)")
    parser.add_argument("--jobs", "-n", type=int, default=8, help="claudebuild workers (default 8)")
    parser.add_argument("--max-concurrent", type=int, default=2, help="requests the server serves at once (default 2)")
    parser.add_argument("--retry-after", type=float, default=1.0, help="server's retry-after on its 429s (default 1.0)")
    parser.add_argument("--max-files-per-chunk", type=int, help="default: the value giving 40..60 chunks (nearest 50)")
    parser.add_argument("--backoff-base", type=float, help="claudebuild.toml backoff_base (default: claudebuild's)")
    parser.add_argument("--backoff-max", type=float, help="claudebuild.toml backoff_max (default: claudebuild's)")
    parser.add_argument("--retry-patience", type=float, help="claudebuild.toml retry_patience (default: claudebuild's)")
    parser.add_argument("--timeout", type=float, default=900, help="stop the run (SIGTERM) after this many seconds")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--git", action="store_true", help="make the repository a git work tree")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="work in DIR (empty) and keep it")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    return parser.parse_args(argv)


def settings(args: argparse.Namespace, max_files: int | None) -> dict[str, object]:
    return {"max_files_per_chunk": max_files, "backoff_base": args.backoff_base, "backoff_max": args.backoff_max,
            "retry_patience": args.retry_patience}


def choose_chunking(repo: Path, args: argparse.Namespace) -> tuple[int | None, int]:
    """The max_files_per_chunk to use and the resulting chunk count."""
    if args.max_files_per_chunk:
        write_config(repo, settings(args, args.max_files_per_chunk))
        return args.max_files_per_chunk, len(plan_chunks(repo))
    best: tuple[int, int] | None = None
    for candidate in range(1, 21):
        write_config(repo, settings(args, candidate))
        count = len(plan_chunks(repo))
        if best is None or abs(count - sum(TARGET_CHUNKS) / 2) < abs(best[1] - sum(TARGET_CHUNKS) / 2):
            best = (candidate, count)
        if count < TARGET_CHUNKS[0]:
            break
    assert best is not None
    write_config(repo, settings(args, best[0]))
    return best


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = make_workdir(args.keep, "claudebuild-bench-storm-")
    repo = work / "repo"
    try:
        manifest = generate_repo(repo, args.files, args.seed, git=args.git)
        max_files, chunks = choose_chunking(repo, args)
        config_text = (repo / "claudebuild.toml").read_text().strip().replace("\n", ", ")
        print(f"repository: {args.files} files ({manifest.total_bytes / 1e6:.2f} MB), {chunks} chunks "
              f"(claudebuild.toml: {config_text}); {os.cpu_count()} CPU cores")
        print(f"server: latency {args.latency:.2f}s, max_concurrent {args.max_concurrent}, retry-after "
              f"{args.retry_after:.1f}s; claudebuild analyze -n {args.jobs}", flush=True)
        load_before = load_note()
        print(f"before: {load_before}", flush=True)

        with FakeAnthropicServer(latency=args.latency, max_concurrent=args.max_concurrent,
                                 retry_after=args.retry_after) as api:
            env = offline_env(api.url, work / "claude-config")
            mark = call_log_lines(repo)
            started = time.monotonic()
            run = run_claudebuild("storm", repo, args.jobs, env, api, log_dir=work / "logs", timeout=args.timeout)
            print(f"run done in {time.monotonic() - started:.1f}s (exit {run.exit_code})", flush=True)
            statuses = Counter(entry.status for entry in api.message_requests())
            peak = api.peak_in_flight
        records = read_calls(repo, mark)

        per_chunk = outcomes_by_chunk(records)
        outcomes = Counter(record["outcome"] for record in records)
        http = Counter(record.get("http_status") for record in records if record["outcome"] != "ok")
        final = {chunk: max(items, key=lambda r: r["attempt"])["outcome"] for chunk, items in per_chunk.items()}
        failed = sorted(chunk for chunk, outcome in final.items() if outcome != "ok")
        never_called = chunks - len(per_chunk)
        attempts = Counter(len(items) for items in per_chunk.values())
        profile = concurrency_profile(records)
        calls = len(records)
        retries = calls - outcomes.get("ok", 0)
        ideal = chunks * args.latency / args.max_concurrent
        cores = os.cpu_count() or 1

        print()
        print(f"== storm: {args.files} files, {chunks} chunks, -n {args.jobs} vs a server serving "
              f"{args.max_concurrent} at once, latency {args.latency:.2f}s")
        print(f"chunks:            {chunks}")
        print(f"claude calls:      {calls} ({outcomes.get('ok', 0)} ok, {retries} retries: "
              + (", ".join(f"{n} {kind}" for kind, n in sorted(outcomes.items()) if kind != "ok") or "none")
              + (f"; HTTP {dict(sorted(http.items(), key=str))}" if http else "") + ")")
        print(f"API requests:      {sum(statuses.values())} ("
              + ", ".join(f"{n}x {status}" for status, n in sorted(statuses.items(), key=str)) + ")")
        print(f"calls per chunk:   {calls / chunks:.2f} claude calls, {sum(statuses.values()) / chunks:.2f} API requests; "
              f"attempts per chunk {dict(sorted(attempts.items()))}, most {max(attempts, default=0)}")
        print(f"failed chunks:     {len(failed) + never_called}" + (f" ({never_called} never called)" if never_called else "")
              + (f": {failed[:5]}" if failed else ""))
        print(f"wall time:         {run.wall:8.2f} s" + (" (stopped by --timeout)" if run.extra.get("timed_out") else ""))
        print(f"  ideal:           {ideal:8.2f} s = {chunks} chunks x {args.latency:.2f} s / {args.max_concurrent} served at once")
        print(f"  wall / ideal:    {run.wall / ideal:8.2f}")
        print(f"  CPU:             {run.cpu:8.2f} s of child processes ({run.cpu / max(1, calls):.2f} s per claude call); "
              f"CPU floor on {cores} cores {run.cpu / cores:.2f} s")
        print(f"  concurrency:     max {profile['max_in_flight']} claude processes at once, mean "
              f"{profile['mean_in_flight']:.2f}; {profile['idle_s']:.2f} s with none running; server peak in flight {peak}")

        print(f"machine: before {load_before}; after {load_note()}")
        problems = []
        if failed or never_called or run.exit_code != 0:
            problems.append(f"exit {run.exit_code}, {len(failed) + never_called} failed chunks")
        for problem in problems:
            print(f"UNEXPECTED: {problem}")
        if args.json:
            figures = {
                "files": args.files, "chunks": chunks, "max_files_per_chunk": max_files, "jobs": args.jobs,
                "latency": args.latency, "max_concurrent": args.max_concurrent, "cores": cores,
                "claude_calls": calls, "outcomes": dict(outcomes), "api_requests": dict(Counter({str(k): v for k, v in statuses.items()})),
                "calls_per_chunk": calls / chunks, "attempts": {str(k): v for k, v in attempts.items()},
                "failed_chunks": len(failed) + never_called, "wall": run.wall, "ideal": ideal, "cpu": run.cpu,
                "concurrency": profile, "timed_out": run.extra.get("timed_out"), "exit_code": run.exit_code,
                "load_before": load_before, "load_after": load_note(),
            }
            args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        return 2 if problems else 0
    finally:
        remove_workdir(work, args.keep)


if __name__ == "__main__":
    sys.exit(main())

"""Core benchmark: cold run, no-op rerun and one-edit rerun of `claudebuild analyze`, and the naive loop.

A generated repository (bench/generate.py) is analyzed by the real `claude` CLI,
driven by `python -m claudebuild -C <repo> analyze -n JOBS` in a subprocess,
against an in-process `FakeAnthropicServer(latency=L)` on 127.0.0.1. Printed:

  cold run   wall time, API calls, the ideal calls x L / JOBS and the ratio,
             CPU seconds of all processes it started (getrusage RUSAGE_CHILDREN)
  no-op      wall time (median of three) and API calls of an immediate rerun (0 expected)
  1 edit     wall time and API calls after appending a line to one file (1 expected)
  bytes      request bytes per reviewable byte: request body bytes the fake API received in the cold
             run / bytes of the files sent (what the prompt format and the CLI's overhead cost), and
             per call the request bytes and input tokens that are not file content
  naive      the same chunks sent by a plain `xargs -P JOBS`-style loop of `claude -p`
             (same flags, same stdin), cold and again with nothing changed

It prints figures and asserts nothing about time. Exit status 2 means a count
was wrong (no-op rerun made calls, the edit did not make exactly one, a chunk failed).

    .venv/bin/python bench/bench_core.py                  # 300 files, -n 5, 1.0 s latency (~1 min on 2 cores)
    .venv/bin/python bench/bench_core.py --files 1000     # the issue's 1,000-file figure (~3 min on 2 idle cores)
    .venv/bin/python bench/bench_core.py --files 200 --latency 0.5 --jobs 4
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    call_log_lines, call_overhead, concurrency_profile, load_note, make_workdir, offline_env, plan_chunks, ratio, read_calls,
    remove_workdir, report_findings, reviewable_bytes, run_claudebuild, run_naive, write_config,
)
from generate import edit_one_file, generate_repo

from claudebuild.fakeapi import FakeAnthropicServer


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=300,
                        help="files in the generated repository (default 300; the issue's figure is --files 1000)")
    parser.add_argument("--latency", type=float, default=1.0, help="fake API seconds per call (default 1.0)")
    parser.add_argument("--jobs", "-n", type=int, default=5, help="parallel claude calls (default 5)")
    parser.add_argument("--max-files-per-chunk", type=int, help="written into claudebuild.toml (default: claudebuild's)")
    parser.add_argument("--max-call-bytes", type=int, help="written into claudebuild.toml (default: claudebuild's; "
                        "0 gives every chunk its own call)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--git", action="store_true", help="make the repository a git work tree (discovery by git ls-files)")
    parser.add_argument("--no-naive", dest="naive", action="store_false", help="skip the naive loop")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="work in DIR (empty) and keep it: repo, logs, calls.ndjson")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    return parser.parse_args(argv)


def startup_baseline(env: dict[str, str]) -> float:
    """Seconds to start Python and import claudebuild's run path: the floor of any claudebuild command."""
    best = float("inf")
    for _ in range(3):  # the best of three: the first one also pays for a cold page cache
        start = time.monotonic()
        subprocess.run([sys.executable, "-c", "import claudebuild.main, claudebuild.commands.run, claudebuild.engine.loader"],
                       env=env, check=True)
        best = min(best, time.monotonic() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = make_workdir(args.keep, "claudebuild-bench-core-")
    repo, logs = work / "repo", work / "logs"
    problems: list[str] = []
    try:
        started = time.monotonic()
        manifest = generate_repo(repo, args.files, args.seed, git=args.git)
        generated_in = time.monotonic() - started
        settings = {key: value for key, value in (("max_files_per_chunk", args.max_files_per_chunk),
                                                   ("max_call_bytes", args.max_call_bytes)) if value is not None}
        if settings:
            write_config(repo, settings)
        chunks = plan_chunks(repo)
        print(f"repository: {args.files} files ({manifest.total_bytes / 1e6:.2f} MB; "
              + ", ".join(f"{n} .{lang}" for lang, n in sorted(manifest.by_language.items()))
              + f"), {len(manifest.problems)} planted problems, {'git' if args.git else 'no git'}, "
              f"generated in {generated_in:.1f}s at {repo}")
        print(f"settings: -n {args.jobs}, latency {args.latency:.2f}s, max_files_per_chunk "
              f"{args.max_files_per_chunk or 'default'}, max_call_bytes {'default' if args.max_call_bytes is None else args.max_call_bytes}"
              f" -> {len(chunks)} chunks; {os.cpu_count()} CPU cores", flush=True)
        load_before = load_note()
        print(f"before: {load_before}", flush=True)

        with FakeAnthropicServer(latency=args.latency) as api:
            env = offline_env(api.url, work / "claude-config")

            log_mark = call_log_lines(repo)
            cold = run_claudebuild("cold", repo, args.jobs, env, api, log_dir=logs)
            cold_records = read_calls(repo, log_mark)
            overhead_bytes, overhead_tokens = call_overhead(api.message_requests())
            profile = concurrency_profile(cold_records)
            print(f"cold run done in {cold.wall:.1f}s ({cold.api_calls} API calls)", flush=True)

            log_mark = call_log_lines(repo)
            # the median of three: a single no-op right after the cold run measures the machine's load as much as us
            noops = sorted((run_claudebuild("noop", repo, args.jobs, env, api, log_dir=logs) for _ in range(3)),
                           key=lambda run: run.wall)
            noop = noops[1]
            noop.api_calls = max(run.api_calls for run in noops)
            noop.extra["cli_calls"] = len(read_calls(repo, log_mark))
            print(f"no-op rerun done in {noop.wall:.2f}s ({noop.api_calls} API calls)", flush=True)
            baseline = startup_baseline(env)  # right after the no-op, under the same machine load

            edited = edit_one_file(repo, manifest, args.seed)
            log_mark = call_log_lines(repo)
            edit = run_claudebuild("edit", repo, args.jobs, env, api, log_dir=logs)
            edit.extra["cli_calls"] = len(read_calls(repo, log_mark))
            print(f"1-edit rerun done in {edit.wall:.2f}s ({edit.api_calls} API calls; edited {edited})", flush=True)

            run_claudebuild("report", repo, args.jobs, env, api, command="report", log_dir=logs)
            findings = report_findings(repo)
            found = {(f.get("file"), f.get("line")) for f in findings}
            planted = {(p.path, p.line) for p in manifest.problems}

            naive_cold = naive_noop = None
            if args.naive:
                naive_cold = run_naive("naive cold", repo, args.jobs, env, api, work)
                print(f"naive cold loop done in {naive_cold.wall:.1f}s ({naive_cold.api_calls} API calls)", flush=True)
                naive_noop = run_naive("naive rerun", repo, args.jobs, env, api, work)
                print(f"naive rerun done in {naive_noop.wall:.1f}s ({naive_noop.api_calls} API calls)", flush=True)

        ideal = cold.api_calls * args.latency / args.jobs
        cores = os.cpu_count() or 1
        failed_chunks = sorted({r["chunk"] for r in cold_records if r["outcome"] != "ok"} -
                               {r["chunk"] for r in cold_records if r["outcome"] == "ok"})
        print()
        print(f"== claudebuild, {args.files} files, {len(chunks)} chunks, -n {args.jobs}, latency {args.latency:.2f}s")
        print(f"cold run:          {cold.wall:8.2f} s wall   {cold.api_calls} API calls "
              f"({len(cold_records)} claude processes, exit {cold.exit_code})")
        print(f"  ideal:           {ideal:8.2f} s = {cold.api_calls} calls x {args.latency:.2f} s / {args.jobs} jobs")
        print(f"  cold / ideal:    {cold.wall / ideal if ideal else float('nan'):8.2f}")
        print(f"  CPU:             {cold.cpu:8.2f} s of child processes ({cold.cpu / max(1, len(cold_records)):.2f} s per "
              f"claude call); CPU floor on {cores} cores {cold.cpu / cores:.2f} s; fake server {cold.server_cpu:.2f} s")
        print(f"  concurrency:     max {profile['max_in_flight']} claude processes at once, "
              f"mean {profile['mean_in_flight']:.2f}; {profile['idle_s']:.2f} s with none running")
        print(f"no-op rerun:       {noop.wall:8.2f} s wall   {noop.api_calls} API calls (expected 0), "
              f"CPU {noop.cpu:.2f} s; Python + claudebuild import alone {baseline:.2f} s")
        print(f"1-edit rerun:      {edit.wall:8.2f} s wall   {edit.api_calls} API calls (expected 1), CPU {edit.cpu:.2f} s")
        sent_bytes = reviewable_bytes(repo, chunks)
        request_bytes = cold.extra["request_bytes"]
        print(f"request bytes:     {request_bytes / sent_bytes if sent_bytes else float('nan'):8.2f} per reviewable byte "
              f"({request_bytes:,} request body bytes for {sent_bytes:,} bytes of files; {cold.api_calls} calls)")
        print(f"  per call:        {overhead_bytes:8.0f} request bytes, {overhead_tokens:.0f} input tokens (fake API's count) "
              f"that are not file content (CLI, system prompt, schema, instructions, fences)")
        print(f"findings:          {len(found & planted)} of {len(planted)} planted problems reported "
              f"({len(findings)} findings in report.json)")
        if naive_cold and naive_noop:
            print(f"naive cold loop:   {naive_cold.wall:8.2f} s wall   {naive_cold.api_calls} API calls, "
                  f"{naive_cold.extra['ok']}/{naive_cold.extra['processes']} ok, CPU {naive_cold.cpu:.2f} s")
            print(f"naive rerun:       {naive_noop.wall:8.2f} s wall   {naive_noop.api_calls} API calls, CPU {naive_noop.cpu:.2f} s")
            print()
            print(f"claudebuild cold run: {cold.wall:.1f} s and {cold.api_calls} calls vs naive {naive_cold.wall:.1f} s and "
                  f"{naive_cold.api_calls} calls ({ratio(cold.wall, naive_cold.wall)} the naive wall time)")
            print(f"claudebuild no-op rerun: {noop.wall:.2f} s and {noop.api_calls} calls vs naive {naive_noop.wall:.1f} s and "
                  f"{naive_noop.api_calls} calls ({ratio(naive_noop.wall, noop.wall)} faster)")
            print(f"claudebuild 1-edit rerun: {edit.wall:.2f} s and {edit.api_calls} call vs naive {naive_noop.wall:.1f} s and "
                  f"{naive_noop.api_calls} calls ({ratio(naive_noop.wall, edit.wall)} faster)")

        print(f"machine: before {load_before}; after {load_note()}")
        if noop.api_calls != 0:
            problems.append(f"the no-op rerun made {noop.api_calls} API calls (expected 0)")
        if edit.api_calls != 1:
            problems.append(f"the 1-edit rerun made {edit.api_calls} API calls (expected 1)")
        if failed_chunks or cold.exit_code != 0:
            problems.append(f"cold run exit {cold.exit_code}, {len(failed_chunks)} failed chunks: {failed_chunks[:5]}")
        for problem in problems:
            print(f"UNEXPECTED: {problem}")

        if args.json:
            figures = {
                "files": args.files, "chunks": len(chunks), "jobs": args.jobs, "latency": args.latency, "cores": cores,
                "cold_wall": cold.wall, "cold_calls": cold.api_calls, "ideal": ideal, "cold_cpu": cold.cpu,
                "concurrency": profile, "noop_wall": noop.wall, "noop_calls": noop.api_calls, "startup": baseline,
                "request_bytes": request_bytes, "reviewable_bytes": sent_bytes,
                "request_bytes_per_reviewable_byte": request_bytes / sent_bytes if sent_bytes else None,
                "overhead_bytes_per_call": overhead_bytes, "overhead_tokens_per_call": overhead_tokens,
                "edit_wall": edit.wall, "edit_calls": edit.api_calls, "planted": len(planted), "found": len(found & planted),
                "naive_cold_wall": naive_cold.wall if naive_cold else None,
                "naive_cold_calls": naive_cold.api_calls if naive_cold else None,
                "naive_noop_wall": naive_noop.wall if naive_noop else None,
                "naive_noop_calls": naive_noop.api_calls if naive_noop else None,
                "load_before": load_before, "load_after": load_note(), "problems": problems,
            }
            args.json.write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")

        return 2 if problems else 0
    finally:
        remove_workdir(work, args.keep)


if __name__ == "__main__":
    sys.exit(main())

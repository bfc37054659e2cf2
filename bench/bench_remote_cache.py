"""Remote-cache benchmark: what a second clone pays when a first one filled the team's shared cache.

A generated git repository (bench/generate.py) is cloned twice. Clone A runs `claudebuild report` cold with
`CLAUDEBUILD_CACHE_URL` pointing at a real nginx (WebDAV PUT) on 127.0.0.1, which fills the cache; clone B,
a fresh clone with an empty `.claudebuild/`, runs the same command against the same cache. Then one file is
edited in B and the run repeated. Both drive the real `claude` CLI against an in-process
`FakeAnthropicServer(latency=L)`. Printed, as ratios within this one run:

  cold A        wall, API calls, uploads (PUTs)
  clone B       wall, API calls (0 expected), remote hits, B / A wall
  1 edit in B   wall, API calls (1 expected), uploads (1 expected)
  lookup        per chunk, measured in this process against the same nginx: the median ms of reading the
                chunk's files, keying them (sha256) and one GET with the strict check of the entry (a hit),
                and of a miss (404); and that median as a share of one call's latency

It prints figures and asserts nothing about time. Exit status 2 means a count was wrong (B made calls, the
edit did not make exactly one call and one upload, the reports differ). Without nginx (`apt-get install
nginx`) it uses a `file://` directory and says so.

    .venv/bin/python bench/bench_remote_cache.py                 # 1,000 files, -n 5, 1.0 s latency
    .venv/bin/python bench/bench_remote_cache.py --files 300 --latency 0.5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(1, str(Path(__file__).resolve().parents[1] / "tests"))  # the nginx the end-to-end tests run

from _common import load_note, make_workdir, offline_env, remove_workdir, run_claudebuild
from generate import GIT_ENV, edit_one_file, generate_repo

from claudebuild.config_sources import load_config
from claudebuild.fakeapi import FakeAnthropicServer
from claudebuild.hashing import DEFAULT_HASHER
from claudebuild.pipeline.prompt import WorkingTree, build_payload
from claudebuild.run.build import Build
from claudebuild.run.remote_cache import RemoteCache, open_store
from claudebuild.run.remote_entry import remote_key

SUMMARY_ONLY = ("run_id", "fresh", "cached", "remote_hits", "cost_usd_this_run", "cost_usd_saved_by_cache",
                "cost_usd_total", "input_tokens", "output_tokens")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000, help="files in the generated repository (default 1000)")
    parser.add_argument("--latency", type=float, default=1.0, help="fake API seconds per call (default 1.0)")
    parser.add_argument("--jobs", "-n", type=int, default=5, help="parallel claude calls (default 5)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="work in DIR (empty) and keep it")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    return parser.parse_args(argv)


def clone(origin: Path, target: Path) -> Path:
    subprocess.run(["git", "clone", "-q", str(origin), str(target)], check=True, env={**os.environ, **GIT_ENV})
    return target


def report(repo: Path) -> dict[str, Any]:
    return json.loads((repo / ".claudebuild/report.json").read_text(encoding="utf-8"))


def comparable(document: dict[str, Any]) -> dict[str, Any]:
    """The report without what differs between two runs by design (run id, counts, costs)."""
    summary = {key: value for key, value in document["summary"].items() if key not in SUMMARY_ONLY}
    return {**{key: value for key, value in document.items() if key != "run_id"}, "summary": summary}


def lookup_costs(repo: Path, url: str) -> tuple[list[float], list[float], list[float]]:
    """Seconds per chunk of: reading its files into the payload (done for the call anyway, so not the cache's
    cost; timed on a warm secret-scan cache, as in a run), then key + GET + check for a hit (the cache is
    full) and for a miss (a key nobody wrote)."""
    with Build(load_config(repo)) as build:
        chunks = build.plan().chunks
    cache = RemoteCache(open_store(url))
    source = WorkingTree(repo, DEFAULT_HASHER)
    reads: list[float] = []
    hits: list[float] = []
    misses: list[float] = []
    payloads = [build_payload(chunk, source, build.scanner) for chunk in chunks]  # warms the secret-scan cache
    try:
        for chunk in chunks:
            started = time.perf_counter()
            payload = build_payload(chunk, source, build.scanner)
            reads.append(time.perf_counter() - started)
            started = time.perf_counter()
            key = remote_key(build.config, chunk, payload)
            found = cache.find(key, chunk, payload.sent)
            hits.append(time.perf_counter() - started)
            if found is None:
                print(f"bench: no entry for chunk {chunk.id}", file=sys.stderr)
            started = time.perf_counter()
            cache.find("0" * 63 + "1", chunk, payload.sent)
            misses.append(time.perf_counter() - started)
    finally:
        cache.close()
    del payloads
    return reads, hits, misses


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.pop("CLAUDEBUILD_MODEL", None)  # the lookups here must key chunks as the runs (scrubbed env) do
    work = make_workdir(args.keep, "claudebuild-bench-remote-")
    problems: list[str] = []
    try:
        origin = work / "origin"
        manifest = generate_repo(origin, args.files, args.seed, git=True)
        a, b = clone(origin, work / "clone-a"), clone(origin, work / "clone-b")
        print(f"repository: {args.files} files ({manifest.total_bytes / 1e6:.2f} MB), cloned twice at {work}")
        print(f"settings: -n {args.jobs}, latency {args.latency:.2f}s; before: {load_note()}", flush=True)
        with ExitStack() as stack:
            from cache_servers import NGINX, running_nginx

            if NGINX is not None:
                server = stack.enter_context(running_nginx(work / "nginx"))
                url, where = server.url, f"nginx {server.url}"

                def uploads() -> int:
                    return len(server.requests("PUT"))
            else:
                shared = work / "shared-cache"
                url = shared.as_uri()
                where = f"{url} (nginx not installed)"

                def uploads() -> int:
                    return len(list((shared / "ac").iterdir())) if (shared / "ac").is_dir() else 0
            print(f"cache: {where}", flush=True)
            api = stack.enter_context(FakeAnthropicServer(latency=args.latency))
            env = {**offline_env(api.url, work / "claude-config"), "CLAUDEBUILD_CACHE_URL": url}

            cold = run_claudebuild("cold A", a, args.jobs, env, api, command="report")
            cold_uploads = uploads()
            print(f"cold A done in {cold.wall:.1f}s ({cold.api_calls} API calls, {cold_uploads} uploads)", flush=True)
            second = run_claudebuild("clone B", b, args.jobs, env, api, command="report")
            hits = report(b)["summary"]["remote_hits"]
            print(f"clone B done in {second.wall:.2f}s ({second.api_calls} API calls, {hits} remote hits)", flush=True)
            same = comparable(report(a)) == comparable(report(b))
            read_times, hit_times, miss_times = lookup_costs(b, url)
            before_edit = uploads()
            edited = edit_one_file(b, manifest, args.seed)
            edit = run_claudebuild("edit B", b, args.jobs, env, api, command="report")
            edit_uploads = uploads() - before_edit
            print(f"1 edit in B done in {edit.wall:.2f}s ({edit.api_calls} API calls, {edit_uploads} uploads)", flush=True)

        chunks = report(a)["summary"]["chunks"]
        hit_ms, miss_ms = statistics.median(hit_times) * 1000, statistics.median(miss_times) * 1000
        read_ms = statistics.median(read_times) * 1000
        print()
        print(f"== remote cache, {args.files} files, {chunks} chunks, -n {args.jobs}, latency {args.latency:.2f}s, {where}")
        print(f"cold A:            {cold.wall:8.2f} s wall   {cold.api_calls} API calls, {cold_uploads} uploads")
        print(f"clone B:           {second.wall:8.2f} s wall   {second.api_calls} API calls, {hits} remote hits; "
              f"B / A {second.wall / cold.wall:.3f} ({cold.wall / second.wall:.1f}x faster); same report: {same}")
        print(f"1 edit in B:       {edit.wall:8.2f} s wall   {edit.api_calls} API calls, {edit_uploads} uploads ({edited})")
        print(f"lookup per chunk:  {hit_ms:8.2f} ms median hit (sha256 key + GET + strict check; p90 "
              f"{statistics.quantiles(hit_times, n=10)[-1] * 1000:.2f} ms), {miss_ms:.2f} ms median miss (404); "
              f"{hit_ms / (args.latency * 1000):.4f} of one call's latency")
        print(f"  files:           {read_ms:8.2f} ms median to read, redact and number a chunk's files (needed for "
              "the call anyway; read once, shared by lookup and call)")
        print(f"after: {load_note()}")
        if second.api_calls != 0 or hits != chunks:
            problems.append(f"clone B made {second.api_calls} calls and {hits} remote hits for {chunks} chunks")
        if edit.api_calls != 1 or edit_uploads != 1:
            problems.append(f"the edit made {edit.api_calls} calls and {edit_uploads} uploads (1 and 1 expected)")
        if not same:
            problems.append("clone B's report differs from clone A's")
        if args.json:
            args.json.write_text(json.dumps({
                "files": args.files, "chunks": chunks, "jobs": args.jobs, "latency": args.latency, "cache": where,
                "cold_a": {"wall": cold.wall, "api_calls": cold.api_calls, "uploads": cold_uploads},
                "clone_b": {"wall": second.wall, "api_calls": second.api_calls, "remote_hits": hits, "same_report": same},
                "edit_b": {"wall": edit.wall, "api_calls": edit.api_calls, "uploads": edit_uploads},
                "lookup_ms": {"hit_median": hit_ms, "miss_median": miss_ms, "payload_median": read_ms},
            }, indent=2))
    finally:
        remove_workdir(work, args.keep)
    for problem in problems:
        print(f"bench: {problem}", file=sys.stderr)
    return 2 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

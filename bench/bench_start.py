"""What one `claude` start costs: CPU, wall, request bytes and input tokens per call, `--bare` against normal.

Every call is claudebuild's own review call (`ClaudeCall.argv`: `--tools ""`, `--setting-sources ""`,
`--strict-mcp-config`, the system prompt, the findings schema, a preset session id) with a
one-line file on stdin, sent to the local fake API with no latency, one at a time. The four
variants (pinned and newest CLI, each bare and normal) are interleaved round by round, so machine
load falls on all of them alike; figures are medians, and the bare/normal ratios come from the
same run. "Overhead" is everything in a request that is not the file: what each call pays whatever
the chunk's size (input tokens as the fake API counts them, 4 characters a token).

    .venv/bin/python bench/bench_start.py              # 8 rounds (~1 min on 2 idle cores)
    .venv/bin/python bench/bench_start.py --rounds 20
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO, children_cpu, load_note, make_workdir, offline_env, remove_workdir

from claudebuild.claude.calls import ClaudeCall
from claudebuild.config import Config
from claudebuild.fakeapi import FakeAnthropicServer
from claudebuild.model import Chunk, ChunkPart
from claudebuild.hashing import DEFAULT_HASHER
from claudebuild.pipeline.prompt import WorkingTree, build_payload, build_stdin, findings_schema_json, system_prompt

CLIS = {"2.1.197": REPO / "tools/node_modules/.bin/claude", "2.1.332": REPO / "tools-newest/node_modules/.bin/claude"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=8, help="calls per variant (default 8)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    return parser.parse_args(argv)


def review_call(work: Path) -> tuple[ClaudeCall, int]:
    """claudebuild's call for a one-file chunk, and the size of that file."""
    repo = work / "repo"
    repo.mkdir(parents=True, exist_ok=True)
    (repo / "a.py").write_text("import os\nos.system(input())\n", encoding="utf-8")
    config = Config(root=repo)
    chunk = Chunk("a.py", (ChunkPart("a.py"),))
    payload = build_payload(chunk, WorkingTree(repo, DEFAULT_HASHER))
    stdin = build_stdin(config, chunk, payload)
    call = ClaudeCall(stdin=stdin, schema_json=findings_schema_json(), system_prompt=system_prompt(config), model=config.model,
                      max_turns=config.max_turns, session_id="", cwd=work / "cwd", timeout=120)
    return call, (repo / "a.py").stat().st_size


def one(binary: Path, bare: bool, call: ClaudeCall, env: dict[str, str], api: FakeAnthropicServer) -> dict[str, Any]:
    api.reset()
    argv = ClaudeCall(**{**call.__dict__, "session_id": str(uuid.uuid4())}).argv(str(binary)) + (["--bare"] if bare else [])
    cpu0, start = children_cpu(), time.monotonic()
    done = subprocess.run(argv, input=call.stdin.encode(), cwd=call.cwd, env=env, capture_output=True, timeout=300, check=False)
    wall, cpu = time.monotonic() - start, children_cpu() - cpu0
    requests = api.message_requests()
    result = json.loads(done.stdout) if done.stdout.strip() else {}
    usage = result.get("usage") or {}
    return {"ok": done.returncode == 0 and isinstance(result.get("structured_output"), dict), "cpu": cpu, "wall": wall,
            "bytes": sum(request.body_bytes for request in requests), "requests": len(requests),
            "input_tokens": int(usage.get("input_tokens") or 0) + int(usage.get("cache_read_input_tokens") or 0)
            + int(usage.get("cache_creation_input_tokens") or 0)}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = make_workdir(None, "claudebuild-bench-start-")
    try:
        call, file_bytes = review_call(work)
        call.cwd.mkdir(parents=True, exist_ok=True)
        variants = [(version, bare) for version in CLIS for bare in (False, True) if CLIS[version].exists()]
        samples: dict[tuple[str, bool], list[dict[str, Any]]] = {variant: [] for variant in variants}
        print(f"start: {len(variants)} variants x {args.rounds} rounds, one call at a time; {load_note()}", flush=True)
        with FakeAnthropicServer() as api:
            for round_ in range(args.rounds + 1):
                for version, bare in variants:
                    env = offline_env(api.url, work / f"config-{version}-{bare}")
                    sample = one(CLIS[version], bare, call, env, api)
                    if round_:  # round 0 warms the page cache and the config dirs
                        samples[(version, bare)].append(sample)
        rows: dict[str, dict[str, float]] = {}
        print()
        print(f"== one review call of a {file_bytes}-byte file, medians of {args.rounds}")
        print(f"{'CLI':>8} {'start':>7} {'CPU s':>6} {'wall s':>7} {'req bytes':>9} {'in tokens':>9} {'ok':>4}")
        for (version, bare), items in samples.items():
            row = {key: statistics.median(item[key] for item in items) for key in ("cpu", "wall", "bytes", "input_tokens")}
            row["ok"] = sum(item["ok"] for item in items)
            rows[f"{version} {'bare' if bare else 'normal'}"] = row
            print(f"{version:>8} {'bare' if bare else 'normal':>7} {row['cpu']:>6.2f} {row['wall']:>7.2f} "
                  f"{row['bytes']:>9.0f} {row['input_tokens']:>9.0f} {row['ok']:>2}/{len(items)}")
        print()
        for version in CLIS:
            normal, lean = rows.get(f"{version} normal"), rows.get(f"{version} bare")
            if normal and lean:
                print(f"{version}: bare / normal  CPU {lean['cpu'] / normal['cpu']:.2f}x, wall {lean['wall'] / normal['wall']:.2f}x, "
                      f"request bytes {lean['bytes'] / normal['bytes']:.2f}x ({normal['bytes'] - lean['bytes']:.0f} bytes less), "
                      f"input tokens {lean['input_tokens'] / normal['input_tokens']:.2f}x")
        print(f"machine: {load_note()}; {os.cpu_count()} cores")
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2), encoding="utf-8")
        return 0
    finally:
        remove_workdir(work, None)


if __name__ == "__main__":
    sys.exit(main())

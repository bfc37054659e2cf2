"""Shared by the benchmarks: the offline CLI environment, timed runs, the call log, the naive loop.

Everything talks to a `FakeAnthropicServer` on 127.0.0.1 only; the real `claude` CLI
gets a fresh CLAUDE_CONFIG_DIR and a fake key, so nothing can reach the real API.
"""

from __future__ import annotations

import json
import os
import re
import resource
import shutil
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from claudebuild.claude.environment import offline_environment

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CLAUDE = REPO / "tools/node_modules/.bin/claude"


def claude_binary() -> str:
    binary = os.environ.get("CLAUDEBUILD_CLAUDE") or str(DEFAULT_CLAUDE)
    if not (Path(binary).is_file() and os.access(binary, os.X_OK)):
        sys.exit(f"bench: the claude CLI is not at {binary}: run scripts/setup.sh or set CLAUDEBUILD_CLAUDE")
    return binary


def offline_env(api_url: str, config_dir: Path) -> dict[str, str]:
    """The environment for claudebuild and the CLI: our loopback server, a fake key, a private config dir."""
    config_dir.mkdir(parents=True, exist_ok=True)
    env = offline_environment(api_url, config_dir)
    env.pop("CLAUDEBUILD_MODEL", None)
    env["CLAUDEBUILD_CLAUDE"] = claude_binary()
    return env


def write_config(repo: Path, settings: dict[str, Any]) -> None:
    """`claudebuild.toml` with these keys (numbers and strings only)."""
    lines = [f"{key} = {json.dumps(value)}" for key, value in settings.items() if value is not None]
    (repo / "claudebuild.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")


def children_cpu() -> float:
    """CPU seconds (user + system) of every waited-for descendant so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def self_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Run:
    """One timed phase: wall seconds, CPU seconds of its processes, API requests the server saw."""

    label: str
    wall: float = 0.0
    cpu: float = 0.0
    server_cpu: float = 0.0
    api_calls: int = 0
    exit_code: int = 0
    output: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def run_claudebuild(label: str, repo: Path, jobs: int, env: dict[str, str], api: Any, *, command: str = "analyze",
                    log_dir: Path | None = None, timeout: float = 1800) -> Run:
    """`python -m claudebuild -C repo <command> -n jobs`, timed; the server's request log is reset first."""
    api.reset()
    argv = [sys.executable, "-m", "claudebuild", "-C", str(repo), command, "-n", str(jobs)]
    cpu0, self0, start = children_cpu(), self_cpu(), time.monotonic()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    timed_out = False
    try:
        output, _ = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:  # SIGTERM: claudebuild stops its claude children and keeps finished chunks
        timed_out = True
        process.terminate()
        try:
            output, _ = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            output, _ = process.communicate()
    wall = time.monotonic() - start
    requests = api.message_requests()
    run = Run(label, wall=wall, cpu=children_cpu() - cpu0, server_cpu=self_cpu() - self0,
              api_calls=len(requests), exit_code=process.returncode, output=output)
    run.extra["timed_out"] = timed_out
    run.extra["request_bytes"] = sum(request.body_bytes for request in requests)
    if timed_out:
        print(f"bench: `{' '.join(argv[1:])}` was stopped after {timeout:.0f}s", file=sys.stderr)
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        (log_dir / f"{label.replace(' ', '-')}.log").write_text(run.output, encoding="utf-8")
    if process.returncode not in (0, 1) and not timed_out:
        print(f"bench: `{' '.join(argv[1:])}` exited {process.returncode}:\n{run.output[-3000:]}", file=sys.stderr)
    return run


# --- the per-call log ---------------------------------------------------------------------------


def call_log_lines(repo: Path, state_dir: str = ".claudebuild") -> int:
    path = repo / state_dir / "calls.ndjson"
    return len(path.read_bytes().splitlines()) if path.exists() else 0


def read_calls(repo: Path, skip: int = 0, state_dir: str = ".claudebuild") -> list[dict[str, Any]]:
    """The call records after the first `skip` lines (i.e. of the runs since that count was taken)."""
    path = repo / state_dir / "calls.ndjson"
    if not path.exists():
        return []
    records = []
    for line in path.read_bytes().splitlines()[skip:]:
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return records


def _stamp(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def concurrency_profile(records: list[dict[str, Any]]) -> dict[str, float]:
    """From the calls' start/end: most `claude` processes at once, seconds with none running, busy span."""
    if not records:
        return {"max_in_flight": 0, "idle_s": 0.0, "span_s": 0.0, "mean_in_flight": 0.0}
    events = sorted([(_stamp(r["start"]), 1) for r in records] + [(_stamp(r["end"]), -1) for r in records])
    level = peak = 0
    idle = area = 0.0
    previous = events[0][0]
    for moment, delta in events:
        if level == 0:
            idle += moment - previous
        area += level * (moment - previous)
        previous = moment
        level += delta
        peak = max(peak, level)
    span = events[-1][0] - events[0][0]
    return {"max_in_flight": peak, "idle_s": idle, "span_s": span, "mean_in_flight": area / span if span else 0.0}


def outcomes_by_chunk(records: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    chunks: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        chunks.setdefault(record["chunk"], []).append(record)
    return chunks


# --- the plan and the naive loop ----------------------------------------------------------------


def plan_chunks(repo: Path) -> list[Any]:
    """claudebuild's chunks for this repository and its claudebuild.toml (takes and releases the state lock)."""
    from claudebuild.run.build import Build
    from claudebuild.config_sources import load_config

    with Build(load_config(repo)) as build:
        return list(build.plan().chunks)


def reviewable_bytes(repo: Path, chunks: list[Any]) -> int:
    """Bytes on disk of every file the plan sends (each once): the denominator of "request bytes per
    reviewable byte", which shows what the prompt format, fences and the CLI's own overhead cost."""
    return sum((repo / path).stat().st_size for path in {path for chunk in chunks for path in chunk.paths})


def call_overhead(requests: list[Any]) -> tuple[float, float]:
    """(request bytes, fake-API input tokens) per call that are not fenced file content, averaged over `requests`:
    the system prompt, the schema as a tool, the instructions and what the CLI adds to every call."""
    from claudebuild.fakeapi.conversation import request_chars

    if not requests:
        return 0.0, 0.0
    fenced = [fenced_part(request.user_text) for request in requests]
    overhead_bytes = [request.body_bytes - (len(json.dumps(text, ensure_ascii=False).encode()) - 2)
                      for request, text in zip(requests, fenced)]
    overhead_tokens = [(request_chars(request.body) - len(text)) / 4 for request, text in zip(requests, fenced)]
    return sum(overhead_bytes) / len(requests), sum(overhead_tokens) / len(requests)


def fenced_part(text: str) -> str:
    """The user text from the first file fence on (file content with its marks and fences): the first line
    after the `Fence boundary:` declaration that starts with the declared boundary."""
    declared = re.search(r"^Fence boundary: (\S+)$", text, re.MULTILINE)
    if declared is None:
        return ""
    index = text.find(f"\n{declared[1]} ", declared.end())
    return text[index + 1:] if index >= 0 else ""


def naive_stdin(repo: Path, paths: tuple[str, ...]) -> str:
    """What a plain script would pipe in: each file fenced, every tenth line numbered (claudebuild's format)."""
    sections = ["Fence boundary: @@naive\n"]
    for path in paths:
        lines = (repo / path).read_bytes().decode("utf-8", errors="replace").splitlines()
        body = "".join(f"{number}|{line}\n" if number % 10 == 0 else f"{line}\n" for number, line in enumerate(lines, 1))
        sections.append(f'@@naive {json.dumps(path, ensure_ascii=False)}\n{body}')
    return "".join(sections) + "@@naive end\n"


def naive_calls(repo: Path) -> list[tuple[list[str], str]]:
    """(argv, stdin) per chunk of claudebuild's plan, with the flags claudebuild passes (spelled out here,
    as a script would, so the comparison does not depend on claudebuild's internals)."""
    from claudebuild.config_sources import load_config
    from claudebuild.pipeline.prompt import findings_schema_json

    config = load_config(repo)
    binary = claude_binary()
    schema = findings_schema_json()
    calls = []
    for chunk in plan_chunks(repo):
        prompt = f"{config.instructions}\n\nFiles in this review: {', '.join(chunk.paths)}"
        argv = [
            binary, "-p", prompt,
            "--output-format", "json",
            "--json-schema", schema,
            "--max-turns", str(config.max_turns),
            "--tools", "",
            "--setting-sources", "",
            "--strict-mcp-config",
            "--system-prompt", config.system_prompt,
            "--model", config.model,
            "--session-id", str(uuid.uuid4()),
        ]  # fmt: skip
        calls.append((argv, naive_stdin(repo, chunk.paths)))
    return calls


def run_naive(label: str, repo: Path, jobs: int, env: dict[str, str], api: Any, work: Path) -> Run:
    """`xargs -P jobs`-style: every chunk's `claude -p` at once, `jobs` at a time, no cache, no retry policy.

    Building the argv/stdin (reading the files) is part of the timed phase, as it would be for a script."""
    api.reset()
    cwd = work / "naive-cwd"
    cwd.mkdir(parents=True, exist_ok=True)
    cpu0, self0, start = children_cpu(), self_cpu(), time.monotonic()
    calls = naive_calls(repo)

    def one(item: tuple[list[str], str]) -> bool:
        argv, stdin = item
        done = subprocess.run(argv, input=stdin.encode(), cwd=cwd, env=env, capture_output=True, timeout=900, check=False)
        try:
            result = json.loads(done.stdout)
        except json.JSONDecodeError:
            return False
        return done.returncode == 0 and not result.get("is_error") and isinstance(result.get("structured_output"), dict)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        ok = sum(pool.map(one, calls))
    wall = time.monotonic() - start
    return Run(label, wall=wall, cpu=children_cpu() - cpu0, server_cpu=self_cpu() - self0,
               api_calls=len(api.message_requests()), extra={"processes": len(calls), "ok": ok})


def report_findings(repo: Path, state_dir: str = ".claudebuild") -> list[dict[str, Any]]:
    path = repo / state_dir / "report.json"
    if not path.exists():
        return []
    return list(json.loads(path.read_text(encoding="utf-8")).get("findings", []))


def make_workdir(keep: Path | None, prefix: str) -> Path:
    if keep is not None:
        keep = keep.resolve()
        if keep.exists() and any(keep.iterdir()):
            sys.exit(f"bench: --keep {keep} must be empty or absent")
        keep.mkdir(parents=True, exist_ok=True)
        return keep
    import tempfile

    return Path(tempfile.mkdtemp(prefix=prefix))


def remove_workdir(work: Path, keep: Path | None) -> None:
    if keep is None:
        shutil.rmtree(work, ignore_errors=True)


def load_note() -> str:
    """The 1-minute load average over the cores: the machine may be shared, and CPU-bound figures show it."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.1f} (1 min) / {five:.1f} (5 min) on {os.cpu_count()} cores"


def ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "n/a"

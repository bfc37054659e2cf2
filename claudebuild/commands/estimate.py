"""`claudebuild estimate [--history N] [--json]`: what analysis will cost, without a single API call.

Three figures, each in calls, tokens and dollars at list prices (`prices.py`), per-call
overhead included (the system prompt, instructions, schema and what the CLI adds to every
request, which a chunk pays whatever its size):

- a **cold run**: every chunk of the plan as it is now, nothing cached;
- **stale now**: the chunks `analyze` would call for at this moment (no result, or one made
  from other bytes or settings);
- with `--history N`, **the last N commits**: claudebuild run on each of them in turn, from the
  state of the commit before the window, so a team can set `--max-cost` and budgets from its own
  history. Each commit is exported with `git archive` into a temporary directory and planned
  exactly as now (same settings, same `.claudeignore`); a chunk is analyzed again when it is new
  or any of its files' bytes changed.

Calls are counted as `analyze -n JOBS` would make them: when many chunks are stale, one call
carries several (run/batching.py), and the overhead is paid per call. Per-call overhead and
answer length come from this repository's stored results when there are any (median input
tokens beyond the bytes sent, over the calls, results sharing a session being one call; median
output tokens per chunk), else from defaults.
"""

from __future__ import annotations

import statistics
import tempfile
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

import orjson

from claudebuild.config import Config
from claudebuild.engine.store import read_task_values, values_to_result
from claudebuild.hashing import hash_bytes
from claudebuild.model import Chunk, SourceFile
from claudebuild.pipeline.check_plan import plan_checks
from claudebuild.pipeline.discover import discover_files
from claudebuild.prices import is_alias, price_of
from claudebuild.repo.history import commit_subject, export_commit, recent_commits
from claudebuild.run.budget import BYTES_PER_TOKEN, EXPECTED_OUTPUT_TOKENS, OVERHEAD_INPUT_TOKENS
from claudebuild.run.batching import Candidate, planned_calls
from claudebuild.run.build import Build
from claudebuild.run.plan import own_ignores
from claudebuild.run.jobs import Job, make_jobs
from claudebuild.untrusted_text import json_strings


@dataclass(frozen=True)
class PerCall:
    """What every call costs beyond its content, and how long an answer is (per chunk: a call carrying
    several chunks answers for each)."""

    overhead_input_tokens: int
    output_tokens: int
    source: str  # "history (N results)" or "defaults"


@dataclass
class Tally:
    """Calls, content bytes, tokens and cost of a set of chunks."""

    calls: int = 0
    content_bytes: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    def add(self, model: str, size: int, per_call: PerCall, chunks: int = 1) -> None:
        """One call carrying `chunks` chunks of `size` bytes in all."""
        tokens_in = round(size / BYTES_PER_TOKEN) + per_call.overhead_input_tokens
        tokens_out = per_call.output_tokens * chunks
        self.calls += 1
        self.content_bytes += size
        self.input_tokens += tokens_in
        self.output_tokens += tokens_out
        self.cost_usd += price_of(model).cost(tokens_in, tokens_out)

    def add_calls(self, jobs: Sequence[PlannedJob], per_call: PerCall, config: Config, workers: int) -> None:
        """The calls a run makes for these stale jobs (`planned_calls`)."""
        by_task = {job.task: job for job in jobs}
        candidates = [Candidate(job.task, job.size, job.digest, job.paths) for job in jobs]
        for call in planned_calls(candidates, max_bytes=config.max_call_bytes, workers=workers,
                                  share_from=config.share_calls_from):
            carried = [by_task[task] for task in call]
            self.add(carried[0].model, sum(job.size for job in carried), per_call, len(carried))

    def merge(self, other: Tally) -> None:
        for name in ("calls", "content_bytes", "input_tokens", "output_tokens", "cost_usd"):
            setattr(self, name, getattr(self, name) + getattr(other, name))


@dataclass
class CommitEstimate:
    commit: str
    subject: str
    changed_files: int
    tally: Tally = field(default_factory=Tally)


@dataclass(frozen=True)
class PlannedJob:
    """A chunk as planned: its task, model, content bytes and the content hashes that decide whether it reruns."""

    task: str
    model: str
    size: int
    signature: tuple[tuple[str, int, int, str], ...]
    digest: str = ""
    """Its settings' answer digest: only chunks with the same one share a call."""
    paths: frozenset[str] = frozenset()


def per_call_figures(results: Iterable[Any]) -> PerCall:
    """Medians over stored successful results; defaults when there are none."""
    calls: dict[str, list[Any]] = defaultdict(list)  # a call carrying several chunks gave each its share
    outputs: list[int] = []
    for number, result in enumerate(results):
        if result.status == "ok" and result.input_tokens > 0 and result.attempts == 1:
            calls[result.session_id or f"#{number}"].append(result)
            outputs.append(result.output_tokens)
    if not outputs:
        return PerCall(OVERHEAD_INPUT_TOKENS, EXPECTED_OUTPUT_TOKENS, "defaults")
    overhead = [max(0.0, sum(r.input_tokens for r in call) - sum(r.bytes_sent for r in call) / BYTES_PER_TOKEN)
                for call in calls.values()]
    return PerCall(round(statistics.median(overhead)), round(statistics.median(outputs)),
                   f"history ({len(outputs)} results)")


def chunk_size(chunk: Chunk, sizes: Mapping[str, int]) -> int:
    return sum(sizes.get(part.path, 0) // part.parts for part in chunk.parts)


def plan_jobs(config: Config, files: Sequence[SourceFile], hashes: Mapping[str, str]) -> list[PlannedJob]:
    """The jobs `analyze` would run for these files under this config."""
    planned = plan_checks(files, checks=config.checks, rules=config.rules, max_files=config.max_files_per_chunk,
                          max_bytes=config.max_chunk_bytes)
    sizes = {file.path: file.size for file in files}
    return [planned_job(job, sizes, tuple((part.path, part.part, part.parts, hashes.get(part.path, ""))
                                          for part in job.chunk.parts)) for job in make_jobs(config, planned)]


def planned_job(job: Job, sizes: Mapping[str, int], signature: tuple[tuple[str, int, int, str], ...] = ()) -> PlannedJob:
    return PlannedJob(job.task, job.config.model, chunk_size(job.chunk, sizes), signature, job.answer_digest,
                      frozenset(job.chunk.paths))


def rerun_jobs(before: Sequence[PlannedJob], after: Sequence[PlannedJob]) -> list[PlannedJob]:
    """The jobs of `after` that a run would call for, given results for every job of `before`."""
    done = {(job.task, job.signature) for job in before}
    return [job for job in after if (job.task, job.signature) not in done]


def _snapshot_jobs(config: Config, build: Build, commit: str, dest: Path) -> tuple[list[PlannedJob], dict[str, str]]:
    root = export_commit(config.root, commit, dest)
    discovery = discover_files(root, max_file_bytes=config.max_file_bytes, extra_ignore=own_ignores(config),
                               claudeignore_text=build.files.read_text(".claudeignore") or "")
    hashes = {file.path: hash_bytes((root / file.path).read_bytes()) for file in discovery.files}
    return plan_jobs(config, discovery.files, hashes), hashes


def history_estimates(config: Config, build: Build, count: int, per_call: PerCall, workers: int) -> list[CommitEstimate]:
    """A run on each of the last `count` commits, oldest first, starting from the results of the commit before."""
    commits = recent_commits(config.root, count + 1)
    estimates: list[CommitEstimate] = []
    with tempfile.TemporaryDirectory(prefix="claudebuild-estimate-") as scratch:
        previous: list[PlannedJob] = []
        previous_hashes: dict[str, str] = {}
        for index, commit in enumerate(commits):
            jobs, hashes = _snapshot_jobs(config, build, commit, Path(scratch) / str(index))
            if index > 0 or len(commits) <= count:  # the commit before the window only sets the starting state
                changed = sum(1 for path, digest in hashes.items() if previous_hashes.get(path) != digest)
                estimate = CommitEstimate(commit, commit_subject(config.root, commit), changed)
                estimate.tally.add_calls(rerun_jobs(previous, jobs), per_call, config, workers)
                estimates.append(estimate)
            previous, previous_hashes = jobs, hashes
    return estimates


def build_estimate(config: Config, history: int = 0, workers: int = 5) -> dict[str, Any]:
    build = Build(config)
    with build:
        plan = build.plan()
        stale = {item.chunk for item in build.pending_chunks()}
    stored = read_task_values(config.db_path)
    per_call = per_call_figures(values_to_result(values) for values in stored.values())
    sizes = {file.path: file.size for file in plan.discovery.files}
    jobs = [planned_job(job, sizes) for job in plan.jobs]
    cold, now = Tally(), Tally()
    cold.add_calls(jobs, per_call, config, workers)
    now.add_calls([job for job, planned in zip(jobs, plan.jobs) if planned.chunk.id in stale], per_call, config, workers)
    models = {job.model for job in jobs}
    document: dict[str, Any] = {
        "models": {model: {**asdict(price_of(model)), "alias": is_alias(model)} for model in sorted(models)},
        "per_call": asdict(per_call),
        "bytes_per_token": BYTES_PER_TOKEN,
        "cold": asdict(cold),
        "stale": asdict(now),
    }
    if history:
        commits = history_estimates(config, build, history, per_call, workers)
        total = Tally()
        for item in commits:
            total.merge(item.tally)
        document["history"] = {
            "commits": [{"commit": item.commit, "subject": item.subject, "changed_files": item.changed_files,
                         **asdict(item.tally)} for item in commits],
            "total": asdict(total),
            "mean_cost_usd_per_commit": total.cost_usd / len(commits) if commits else 0.0,
            "max_cost_usd_per_commit": max((item.tally.cost_usd for item in commits), default=0.0),
        }
    return document


def _line(label: str, tally: Mapping[str, Any]) -> str:
    return (f"{label:<14} {tally['calls']:>5} calls  {tally['content_bytes']:>11,} bytes  "
            f"{tally['input_tokens']:>11,} in  {tally['output_tokens']:>9,} out  ${tally['cost_usd']:.4f}")


def render_text(document: Mapping[str, Any]) -> str:
    per_call = document["per_call"]
    prices = ", ".join(f"{model} ${price['input']:g}/${price['output']:g} per Mtok in/out" + (" (alias)" if price["alias"] else "")
                       for model, price in document["models"].items())
    lines = [f"claudebuild: estimate at list prices, no API call ({prices or 'no chunks'})",
             (f"  per call: {per_call['overhead_input_tokens']} input tokens of overhead; "
              f"{per_call['output_tokens']} output tokens a chunk ({per_call['source']}); {document['bytes_per_token']} bytes a token"),
             "  " + _line("cold run", document["cold"]),
             "  " + _line("stale now", document["stale"])]
    history = document.get("history")
    if history is not None:
        commits = history["commits"]
        lines.append(f"  last {len(commits)} commits, oldest first (a run on each):")
        for item in commits:
            lines.append("    " + _line(item["commit"][:10], item) + f"  {item['changed_files']} files changed")
        lines.append("  " + _line("history total", history["total"]))
        lines.append(f"  per commit: mean ${history['mean_cost_usd_per_commit']:.4f}, "
                     f"max ${history['max_cost_usd_per_commit']:.4f}")
    return "\n".join(lines)


def run_estimate(config: Config, *, history: int = 0, as_json: bool = False, out: TextIO | None = None,
                 workers: int = 5) -> int:
    """Print the estimate (text or JSON) for runs with `workers` parallel calls; makes no API call and starts
    no `claude`."""
    document = build_estimate(config, history, workers)
    # commit subjects are the repository's text: cleaned like every string claudebuild prints
    text = orjson.dumps(json_strings(document), option=orjson.OPT_INDENT_2).decode() if as_json else render_text(document)
    print(text, file=out)
    return 0

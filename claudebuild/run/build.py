"""One build of one repository: the shared run context, the stored results and what is stale.

The plan is made by run/plan.py, the doit tasks' actions by run/actions.py, and the report is
published by claudebuild/publish/ (after the run).

Both entry points use it: a user's `dodo.py` (plain `doit`) and the
`claudebuild` command. A command runs inside `with Build(config, out=...) as
build:`, which owns, for the whole command (publishing included), the state
directory lock, so two runs on one repository never interleave, the Ctrl-C /
SIGTERM handlers, which stop the run's `claude` children so completed chunks
are kept and none is left orphaned, and the output stream everything is
printed to.
"""

from __future__ import annotations

import os
import secrets
import signal
import sys
import threading
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import cached_property
from types import TracebackType
from typing import Any, TextIO

from claudebuild.run.actions import task_creators
from claudebuild.run.jobs import Job, check_view
from claudebuild.run.plan import Plan, Planner, Shard
from claudebuild.run.verify import verification_estimates, verified_report
from claudebuild.run.analyze import AnalysisContext
from claudebuild.run.batching import CallBatcher, Candidate
from claudebuild.run.budget import CostHistory, PendingChunk, estimate, prioritise
from claudebuild.run.calllog import CallLog
from claudebuild.claude.environment import claude_environment
from claudebuild.claude.runner import ClaudeRunner
from claudebuild.config import Config
from claudebuild.contained import read_contained
from claudebuild.pipeline.discover_memo import DiscoveryMemo
from claudebuild.hashing import DEFAULT_HASHER, digest_json
from claudebuild.run.lock import StateLock
from claudebuild.run.noop_stamp import NoopStamp, Outcome
from claudebuild.run.remote_cache import open_remote_cache
from claudebuild.model import Chunk, ChunkResult, Finding
from claudebuild.engine.echo import echo
from claudebuild.pipeline.prompt import answer_key
from claudebuild.repo.git import changed_since as changed_files_since, open_repo_files
from claudebuild.repo.state_dir import ensure_own_state
from claudebuild.pipeline.report import Report, build_report, limited_to, normalize_path
from claudebuild.secrets.scan import SecretScanner, scanned_view
from claudebuild.engine.store import read_task_values, values_to_result
from claudebuild.engine.tasks import result_is_current, reusable, working_tree_hash
from claudebuild.run.throttle import ThrottleGate, TokenBucket
from claudebuild.pipeline.triage import (FindingRecord, Suppression, load_source_lines, read_baseline, read_suppressions,
                                         trusted_marker_lines)


@dataclass(frozen=True)
class Judgement:
    """What the repository says about its findings (baseline, suppressions, trusted inline markers), read
    from the working tree or, with `config_from`, from that commit; the keyword inputs of `build_report`."""

    baseline: frozenset[str]
    suppressions: tuple[Suppression, ...]
    trusted_markers: dict[str, frozenset[str]] | None


def new_run_id() -> str:
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    return f"{stamp}-{os.getpid()}-{secrets.token_hex(2)}"


class Build:
    """One command's build. `with Build(...) as build:` holds the state lock and the signal handlers
    from entry to exit, publishing included; nested `with build:` blocks share the outermost one.
    Plain `doit` (a user's dodo.py) has no such block: `plan` takes the lock and the process's exit
    drops it."""

    def __init__(self, config: Config, *, out: TextIO | None = None, runner: ClaudeRunner | None = None,
                 shard: Shard | None = None, changed_since: str | None = None) -> None:
        ensure_own_state(config.root, config.state_dir)  # before anything reads or writes the state
        self.config = config
        self.files = open_repo_files(config.root, config.config_from)
        self.changed = changed_files_since(config.root, changed_since) if changed_since else None
        """PR mode: only chunks holding these files are planned; only findings in them reported and gated."""
        self.out: TextIO = out if out is not None else sys.stdout  # every line the command prints (doit's too)
        self.run_id = new_run_id()
        self.runner = runner or ClaudeRunner(config.claude_bin, *claude_environment(config))
        self.gate = ThrottleGate(base_delay=config.backoff_base, max_delay=config.backoff_max)
        self.context = AnalysisContext(
            config=config,
            runner=self.runner,
            gate=self.gate,
            hasher=DEFAULT_HASHER,
            run_id=self.run_id,
            call_log=CallLog(config.state_path / "calls.ndjson"),
            answer_digest=digest_json(answer_key(config)),
            scanner=SecretScanner(),
        )
        self.scanner = self.context.scanner
        self.planner = Planner(config, self.files, self.scanner, shard=shard, changed=self.changed)
        self.context.remote = open_remote_cache(config, warn=self._warn)
        if config.tpm:
            self.context.tokens = TokenBucket(config.tpm)
        self.lock = StateLock(config.state_path / "lock", timeout=config.lock_timeout, out=sys.stderr)
        self.is_current = result_is_current(working_tree_hash(str(config.root), DEFAULT_HASHER), self.context.answer_digest)
        self._plan: Plan | None = None
        self._stored: dict[str, dict[str, Any]] | None = None  # stored values, results, current verdicts:
        self._results: dict[str, ChunkResult] | None = None  # read once per doit run (see `forget_stored`)
        self._verdicts: dict[str, bool] | None = None
        self.doit_chunks: frozenset[str] | None = None
        """When set, the only chunks doit is shown: `claudebuild analyze` hands it just the ones that can be
        stale, so a no-op does not make doit check every file of every chunk. None: all (`list`/`info`/
        `forget`)."""
        self.stale_only = False
        """Plain `doit` running group tasks (see `engine.loader.runs_only_groups`): `task_analyze` sets
        `doit_chunks` to the chunks that can be stale, as `claudebuild analyze` does."""
        self.batcher: CallBatcher | None = None
        """Set by `share_calls` once the stale chunks are known: which chunk's call carries which others."""
        self.workers = 5
        """Parallel calls (`-n`): a call carries no more than its share of the stale chunks (run/batching.py)."""
        self.may_repeat_noop = False
        """Plain `doit` running only analyze groups (`doit -n 5 analyze`, not `report`): a no-op stamp that
        still matches (run/noop_stamp.py) gives doit nothing to do without planning."""
        # What publishing (claudebuild/publish/) does once per command, kept with the command's stream:
        self.last_report: Report | None = None  # the one `publish` wrote, with new/fixed against the previous one
        self.annotate = True
        """Print GitHub annotations with the report on GitHub Actions (off when stdout carries `--format github`)."""
        self.summary_written = False  # `$GITHUB_STEP_SUMMARY` gets one summary per command
        self.path_prefix: str | None = None  # the root's place in the git work tree, looked up once
        self._print_lock = threading.Lock()
        self._job_contexts: dict[str, AnalysisContext] = {}
        self._depth = 0  # nested `with build:` blocks open now
        self._owns_lock = False  # the outermost block took the lock (not `plan` before it)
        self._restore_signals: Callable[[], None] = lambda: None

    # -- the command's lifetime -------------------------------------------
    def __enter__(self) -> Build:
        """The outermost block installs the signal handlers, then takes the state lock (waiting up to
        `lock_timeout`; Ctrl-C while waiting stops the wait, as no child runs yet)."""
        if self._depth == 0:
            self._restore_signals = self.install_signal_handlers()
            try:
                self._owns_lock = not self.lock.held
                self.lock.acquire()
            except BaseException:
                self._owns_lock = False
                self._restore_signals()
                raise
        self._depth += 1
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        """Only the outermost block releases the lock and puts the previous handlers back, so nothing
        (publishing, garbage collection, the report) runs unlocked after an inner step."""
        self._depth -= 1
        if self._depth:
            return
        try:
            if self._owns_lock:
                self.lock.release()
                self._owns_lock = False
        finally:
            self._restore_signals()
            self._restore_signals = lambda: None

    # -- planning ---------------------------------------------------------

    def plan(self) -> Plan:
        """Discover and chunk once per process; takes the state lock first (if `with build:` has not)."""
        if self._plan is None:
            self.lock.acquire()
            self._plan = self.planner.plan()
        return self._plan

    def plan_touching(self, paths: Collection[str]) -> Plan | None:
        """The pre-commit hook's plan: the last run's discovery (its memo) with `paths` classified
        afresh, so the hook costs what is staged, not the tree (see `Planner.plan_touching`); None
        when there is no memo for these settings (then `plan`). Not kept as this build's plan."""
        self.lock.acquire()
        return self.planner.plan_touching(paths)

    def record_noop(self, stamp: NoopStamp, outcome: Outcome) -> None:
        """After a run that found nothing to do: store `outcome` in `stamp` (looked at before planning) for
        the next run to repeat, if that is safe (run/noop_stamp.py)."""
        stamp.record(outcome, discovered_newest_ns=self.memo.newest_change_ns(),
                     skip_reasons={item.reason for item in self.plan().discovery.skipped})

    @property
    def memo(self) -> DiscoveryMemo:
        """The discovery memo the plan used (an empty one before planning)."""
        return self.planner.memo

    def secret_findings(self, lines_by_file: dict[str, list[str]]) -> tuple[Finding, ...]:
        """The secret scan's findings in the planned files as they are now: no model call, so they are
        reported whatever their chunk's state. Those files' entries in `lines_by_file` are replaced by
        the redacted lines Claude was shown, against which quotes are checked."""
        planned = {path for chunk in self.plan().chunks for path in chunk.paths}
        findings: list[Finding] = []
        for path in sorted(self.planner.secret_files & planned):
            try:
                data = read_contained(self.config.root, path, self.config.max_file_bytes + 1).data
            except OSError:
                continue  # gone or replaced since discovery: its chunk is pending, the next plan looks again
            found, redacted = scanned_view(self.scanner, path, data)
            findings += found
            if path in lines_by_file:
                lines_by_file[path] = redacted
        return tuple(findings)

    def judgement(self, lines_by_file: Mapping[str, Sequence[str]]) -> Judgement:
        """Baseline, suppressions and (with `config_from`) the inline markers the trusted commit already had."""
        files, config = self.files, self.config
        markers = trusted_marker_lines(lines_by_file, self._trusted_text) if files.ref else None
        return Judgement(read_baseline(files.read_bytes(config.baseline_file), files.label(config.baseline_file)),
                         read_suppressions(files.read_text(config.suppressions_file), files.label(config.suppressions_file)),
                         markers)

    def _trusted_text(self, path: str) -> str | None:
        data = self.files.read_bytes(path)
        return None if data is None else data.decode("utf-8", errors="replace")

    # -- doit namespace ---------------------------------------------------
    def task_creators(self, report: Callable[[], None]) -> dict[str, Callable[[], Any]]:
        """doit's task creators (run/actions.py); `report` is the `report` task's action, the publishing
        step's (claudebuild/publish/, which run/ does not import)."""
        return task_creators(self, report)

    def group_names(self) -> frozenset[str]:
        """The doit group tasks: running one of them runs what is stale among its subtasks."""
        return frozenset({"analyze", "report", "verify", *(check.name for check in self.config.checks)})

    def job_context(self, job: Job) -> AnalysisContext:
        """The run's context with the job's settings; the coordinators (gate, budget, tokens) stay shared."""
        if job.config is self.config:
            return self.context
        context = self._job_contexts.get(job.answer_digest)
        if context is None:
            context = self._job_contexts[job.answer_digest] = replace(self.context, config=job.config,
                                                                       answer_digest=job.answer_digest)
        return context

    # -- results ----------------------------------------------------------
    def current_report(self, previous: tuple[FindingRecord, ...] | None = None) -> Report:
        """The report from every stored result, triaged against the files as they are now."""
        plan = self.plan()
        names = {job.task: job.chunk.id for job in plan.jobs}
        results = {names[name]: check_view(result, self.config) for name, result in self.stored_results().items()}
        chunks = {chunk.id: chunk for chunk in plan.chunks}
        stale = frozenset(names[name] for name in self.stored_values() if not self._stored_current(chunks[names[name]]))
        analyzed = [c for c, result in results.items() if result.status == "ok" and c not in stale]
        lines = load_source_lines(self.config.root, self._checked_paths(analyzed, results, chunks))
        local = self.secret_findings(lines)
        judged = self.judgement(lines)
        report = build_report(plan.chunks, results, plan.discovery, run_id=self.run_id,
                              min_severity=self.config.min_severity, stale=stale, lines_by_file=lines,
                              previous=previous, baseline=judged.baseline, suppressions=judged.suppressions,
                              trusted_markers=judged.trusted_markers, local_findings=local)
        verifying = [job for job in plan.jobs if job.verify is not None]
        if verifying:
            verify_values = read_task_values(self.config.db_path, [job.verify_task for job in verifying])
            current = {chunk: result for chunk, result in results.items() if chunk not in stale}
            report = verified_report(report, verifying, current, verify_values, run_id=self.run_id)
        if self.changed is None:
            return report
        reviewed = {file.path for file in plan.discovery.files}
        return limited_to(report, self.changed.paths & reviewed, described=self.describe_scope())

    def describe_scope(self) -> str:
        """`origin/main (merge base 1a2b3c4d5e6f)` in PR mode, else ''."""
        return f"{self.changed.ref} (merge base {self.changed.base[:12]})" if self.changed else ""

    def _checked_paths(self, analyzed: Sequence[str], results: Mapping[str, ChunkResult],
                       chunks: Mapping[str, Chunk]) -> set[str]:
        """The files whose lines the report needs: those a finding of an analyzed chunk names, and the
        files with secrets. A file with no finding has nothing to verify, fingerprint or suppress, so
        a large repository is not read again just to be summarised."""
        wanted: set[str] = set()
        for chunk_id in analyzed:
            paths = chunks[chunk_id].paths
            for raw in results[chunk_id].raw_findings:
                named = raw.get("file")
                normal = normalize_path(named) if isinstance(named, str) else None
                if normal is not None and normal in paths:
                    wanted.add(normal)
            wanted.update(path for path in paths if path in self.planner.secret_files)
        return wanted

    def stored_values(self) -> dict[str, dict[str, Any]]:
        """The stored values of every planned job's task, by task name, read once until `forget_stored`."""
        if self._stored is None:
            self._stored = read_task_values(self.config.db_path, [job.task for job in self.plan().jobs])
        return self._stored

    def stored_results(self) -> dict[str, ChunkResult]:
        """`stored_values` as results, by task name."""
        if self._results is None:
            self._results = {name: values_to_result(values) for name, values in self.stored_values().items()}
        return self._results

    def _stored_current(self, chunk: Chunk) -> bool:
        """`current` for the chunk's stored values, decided once until `forget_stored`: the no-op run asks
        twice (what is pending, then the report) and each answer looks at every file."""
        if self._verdicts is None:
            self._verdicts = {}
        known = self._verdicts.get(chunk.id)
        if known is None:
            job = self.plan().job(chunk.id)
            values = self.stored_values().get(job.task) if job is not None else None
            known = self._verdicts[chunk.id] = bool(values) and self.current(chunk, values or {})
        return known

    def forget_stored(self) -> None:
        """Read the stored values again next time: a doit run (or anything else) may have written some."""
        self._stored = self._results = self._verdicts = None
        DEFAULT_HASHER.distrust()  # and look at every file again

    def current(self, chunk: Chunk, values: dict[str, Any]) -> bool:
        """The stored result is ok and was made, with these settings, from exactly these files as they are now."""
        job = self.plan().job(chunk.id) if self.config.checks or self.config.rules else None
        digest = self.context.answer_digest if job is None else job.answer_digest
        return reusable(chunk, values, self._tree_hash, digest)

    @cached_property
    def _tree_hash(self) -> Callable[[str], str]:
        return working_tree_hash(str(self.config.root), DEFAULT_HASHER)

    def pending_chunks(self) -> list[PendingChunk]:
        """Chunks whose stored result is missing or out of date, with a cost estimate each, best first."""
        plan = self.plan()
        names = {job.task: job.chunk for job in plan.jobs}
        models = {job.task: job.config.model for job in plan.jobs}
        stored = self.stored_values()
        sizes = {file.path: file.size for file in plan.discovery.files}
        history = CostHistory(tuple((_number(values.get("cost_usd")), int(_number(values.get("bytes_sent"))))
                                    for values in stored.values() if values.get("status") == "ok"))
        pending: list[PendingChunk] = []
        current: set[str] = set()
        for name, chunk in names.items():
            values = stored.get(name)
            if values and self._stored_current(chunk):
                current.add(chunk.id)
                continue
            size = sum(sizes.get(part.path, 0) // part.parts for part in chunk.parts)
            past = stored.get(name)  # the values themselves: no result objects for a cost estimate
            cost = estimate(models[name], size, _number(past.get("cost_usd")) if past else None,
                            int(_number(past.get("bytes_sent"))) if past else None, history)
            pending.append(PendingChunk(chunk.id, "changed" if values else "new", size, cost))
        verifying = [job for job in plan.jobs if job.verify is not None]
        if verifying:  # --max-cost counts verification: expected per chunk to analyze, known per analyzed one
            verify_values = read_task_values(self.config.db_path, [job.verify_task for job in verifying])
            results = self.stored_results()
            by_id = {names_id: check_view(results[task], self.config) for task, names_id in
                     ((job.task, job.chunk.id) for job in verifying) if task in results}
            extra, verify_only = verification_estimates(verifying, by_id, verify_values, sizes, current)
            pending = [replace(item, estimate_usd=item.estimate_usd + extra.get(item.chunk, 0.0)) for item in pending]
            pending += verify_only
        return prioritise(pending)

    def share_calls(self, pending: Sequence[PendingChunk]) -> None:
        """Let calls carry several of these stale chunks (run/batching.py), in the order doit runs them.
        With a run budget only the chunks it covers (`context.estimates`) are carried."""
        if self.config.max_call_bytes <= 0:
            return
        chosen = self.context.estimates if self.context.budget is not None else None
        sizes = {item.chunk: item.size for item in pending if item.reason != "verify"
                 and (chosen is None or item.chunk in chosen)}
        candidates = [Candidate(job.chunk.id, sizes[job.chunk.id], job.answer_digest, frozenset(job.chunk.paths))
                      for job in self.plan().jobs if job.chunk.id in sizes]
        if len(candidates) > 1:
            self.batcher = CallBatcher(candidates, max_bytes=self.config.max_call_bytes, workers=self.workers,
                                       share_from=self.config.share_calls_from)

    # -- stopping ---------------------------------------------------------
    def stop(self, reason: str) -> None:
        self.gate.abort(reason)
        self.runner.terminate_all()

    def install_signal_handlers(self) -> Callable[[], None]:
        """Ctrl-C and SIGTERM stop the children, then unwind doit (which keeps finished chunks).

        The handler runs on the main thread, possibly inside a lock that thread holds, so it takes
        only reentrant locks (the runner's `RLock`, the gate's condition) and never one held while
        a child runs (`claude --version` has its own). Returns a function that puts the previous
        handlers back; `with build:` calls both, plain `doit` (dodo.py) only this."""
        if threading.current_thread() is not threading.main_thread():
            return lambda: None

        def handler(signum: int, frame: Any) -> None:
            self.stop("interrupted by " + signal.Signals(signum).name)
            raise KeyboardInterrupt

        previous = {sig: signal.signal(sig, handler) for sig in (signal.SIGINT, signal.SIGTERM)}

        def restore() -> None:
            for sig, old in previous.items():
                signal.signal(sig, old)

        return restore

    def say(self, text: str) -> None:
        """A whole line (or several) on the command's stream, above a live progress view if one shows."""
        with self._print_lock:
            echo(text, self.out)

    def _warn(self, text: str) -> None:
        with self._print_lock:
            echo(text, sys.stderr)


def _number(value: Any) -> float:
    """A stored figure (cost, bytes) as a number; 0 for anything else."""
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0

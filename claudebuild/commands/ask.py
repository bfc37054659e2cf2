"""`claudebuild ask <file-or-chunk> "question"`: a follow-up question on a chunk's stored Claude session.

Analysis already paid for reading the chunk's files, and the CLI kept the
conversation, so a question resumes it (`--resume`, `--fork-session` by
default so the stored session stays exactly what analysis produced) instead
of sending the files again. Without tools the CLI cannot re-read anything:
the answer comes from the stored history alone. A session can be gone (the
CLI deletes transcripts after `cleanupPeriodDays`), so `--reanalyze`
analyzes the chunk again when, and only when, its session cannot be used.

The answer is model text printed to a terminal (or a CI log), so it is printed
through `untrusted_text.terminal_block`, and every error quoting the model, the CLI
or the API through `terminal_text`: no escape sequence, no workflow command.
"""

from __future__ import annotations

import difflib
import os
import sys
from dataclasses import replace
from pathlib import Path, PurePosixPath
from typing import TextIO

from claudebuild.run.analyze import utc_now
from claudebuild.run.budget import estimate
from claudebuild.run.build import Build
from claudebuild.run.plan import Plan
from claudebuild.claude.calls import FollowUp
from claudebuild.claude.outcome import NO_SESSION, OK, RETRY, TIMEOUT, CallOutcome, run_stop_reason
from claudebuild.claude.runner import ask_follow_up
from claudebuild.commands.run import run_tasks
from claudebuild.commands.sessions import transcript_path
from claudebuild.config import Config
from claudebuild.engine.loader import run_doit
from claudebuild.errors import ClaudebuildError
from claudebuild.model import ANALYZE_PREFIX, Chunk, ChunkResult
from claudebuild.pipeline.prompt import system_prompt
from claudebuild.engine.store import read_task_value, values_to_result
from claudebuild.engine.tasks import analyze_task_name
from claudebuild.run.remote_entry import REMOTE
from claudebuild.untrusted_text import terminal_block, terminal_text

ANALYZE_FIRST = "run `claudebuild analyze` first (or add --reanalyze)"


def run_ask(config: Config, target: str, question: str, *, fork: bool = True, reanalyze: bool = False,
            out: TextIO | None = None) -> int:
    """Answer `question` from the session of the chunk `target` names; print the answer and its session."""
    if not question.strip():
        raise ClaudebuildError('the question is empty: claudebuild ask <file-or-chunk> "your question"')
    build = Build(config, out=out)
    with build:  # only to plan: asking writes nothing, a concurrent analyze need not wait for the answer
        plan = build.plan()
        chunk = resolve_target(target, plan, config.root, Path.cwd())
    job = plan.job(chunk.id)  # with [[checks]], the chunk's check names its task and sets its prompt and model
    name, asked = (job.task, job.config) if job else (analyze_task_name(chunk.id), config)
    values = read_task_value(config.db_path, name)
    result = values_to_result(values) if values else None
    unusable = _unusable(chunk.id, result)
    stale = not unusable and values is not None and not build.current(chunk, values)
    if reanalyze and (unusable or stale):
        result = _reanalyze(config, chunk.id, name)
    elif result is None or unusable:
        raise ClaudebuildError(unusable)
    elif stale:
        print(f"claudebuild: note: files of chunk {chunk.id} changed since it was analyzed ({result.finished_at}); "
              "the answer is about the version analyzed (add --reanalyze to analyze the current files)", file=sys.stderr)
    outcome = _ask(build, asked, result, question, fork)
    if outcome.kind == NO_SESSION and reanalyze:
        result = _reanalyze(config, chunk.id, name)
        outcome = _ask(build, asked, result, question, fork)
        if outcome.kind == NO_SESSION:  # the fresh session is missing too: not an expiry
            raise ClaudebuildError(f"claude cannot find the new session {result.session_id} of chunk {chunk.id} "
                                   f"({terminal_text(outcome.message)}): analysis and ask must see the same CLAUDE_CONFIG_DIR")
    if outcome.kind == NO_SESSION:
        raise ClaudebuildError(_gone_message(config, plan, chunk, result))
    if outcome.kind != OK:
        raise ClaudebuildError(_failure_message(chunk.id, outcome, config.call_timeout))
    print(terminal_block(outcome.extra["answer"]), file=out)
    how = f"forked from {result.session_id}" if fork else "continued"
    print(f"claudebuild: session {outcome.session_id} ({how}), ${outcome.cost_usd:.4f}", file=out, flush=True)
    return 0


def resolve_target(target: str, plan: Plan, root: Path, cwd: Path) -> Chunk:
    """The chunk a chunk id (with or without `analyze:`) or a file path names.

    A path may be repo-relative, relative to the current directory, or absolute
    inside the repository. A file split into parts over several chunks is
    ambiguous: the error lists the chunk ids to choose from. A bare chunk id is
    tried after paths, because a one-file chunk's id is that file's repo path."""
    by_id = {chunk.id: chunk for chunk in plan.chunks}
    bare = target.removeprefix(ANALYZE_PREFIX)
    if target.startswith(ANALYZE_PREFIX) and bare in by_id:
        return by_id[bare]
    by_path: dict[str, list[Chunk]] = {}
    for chunk in plan.chunks:
        for path in chunk.paths:
            by_path.setdefault(path, []).append(chunk)
    for candidate in _path_candidates(target, root, cwd):
        holders = by_path.get(candidate)
        if holders and len(holders) == 1:
            return holders[0]
        if holders:
            ids = ", ".join(chunk.id for chunk in holders)
            raise ClaudebuildError(f"{candidate} is split over chunks {ids}: ask one of them by chunk id")
        skipped = next((item for item in plan.discovery.skipped if item.path == candidate), None)
        if skipped is not None:
            raise ClaudebuildError(f"{candidate} is not analyzed (skipped: {skipped.reason}), so there is no session to ask")
    if bare in by_id:  # after paths: a one-file chunk's id is its path, and a file here means that file
        return by_id[bare]
    close = difflib.get_close_matches(bare, list(dict.fromkeys([*by_path, *by_id])), n=3, cutoff=0.6)
    hint = f"did you mean {' or '.join(close)}?" if close else "`claudebuild sessions` lists the chunks"
    raise ClaudebuildError(f"no analyzed file or chunk {target!r} in {root}: {hint}")


def _path_candidates(target: str, root: Path, cwd: Path) -> list[str]:
    """Repo-relative POSIX spellings of `target`; none outside the repository. Relative to the
    current directory first when that file exists (as a shell would read it), else repo-relative first."""
    literal = [] if os.path.isabs(target) else [PurePosixPath(target.replace(os.sep, "/")).as_posix().removeprefix("./")]
    joined = cwd / target
    from_cwd: list[str] = []
    for absolute in (Path(os.path.normpath(joined)), joined.resolve()):
        try:
            from_cwd.append(absolute.relative_to(root).as_posix())
        except ValueError:
            continue  # outside the repository: not a file any chunk can hold
    return list(dict.fromkeys(from_cwd + literal if joined.is_file() else literal + from_cwd))


def _unusable(chunk_id: str, result: ChunkResult | None) -> str:
    """Why this stored result has no session to ask, or '' when it has one."""
    if result is None:
        return f"chunk {chunk_id} was never analyzed: {ANALYZE_FIRST}"
    if result.status != "ok":
        return (f"the last analysis of chunk {chunk_id} failed ({terminal_text(result.error_kind)}: "
                f"{terminal_text(result.error)[:120]}): {ANALYZE_FIRST}")
    if result.origin == REMOTE:
        return (f"the result of chunk {chunk_id} came from the remote cache, and Claude sessions stay on the machine "
                "that made them: add --reanalyze to analyze the chunk here and ask")
    if not result.session_id:
        return f"chunk {chunk_id} has no stored session id: {ANALYZE_FIRST}"
    return ""


def _reanalyze(config: Config, chunk_id: str, name: str) -> ChunkResult:
    """Forget the chunk's result (task `name`) and analyze it alone; progress goes to stderr so stdout is only the answer."""
    print(f"claudebuild: analyzing chunk {chunk_id} again", file=sys.stderr, flush=True)
    if run_doit(Build(config, out=sys.stderr), ["forget", name]) not in (0, None):  # doit's forget returns None on success
        raise ClaudebuildError(f"cannot forget the stored result of chunk {chunk_id}: "
                               f"run `claudebuild forget {name}`, then ask again")
    code = run_tasks(replace(config, cache_url=""), [name], jobs=1, out=sys.stderr)  # a session of our own, not the shared result
    if code == 130:
        raise KeyboardInterrupt
    values = read_task_value(config.db_path, name)
    result = values_to_result(values) if values else None
    if result is None or result.status != "ok" or not result.session_id:
        reason = f"{terminal_text(result.error_kind)}: {terminal_text(result.error)[:160]}" if result else "no result was stored"
        raise ClaudebuildError(f"analyzing chunk {chunk_id} again failed ({reason}): "
                               f"see {config.state_dir}/calls.ndjson, fix the cause and rerun")
    return result


def _ask(build: Build, asked: Config, result: ChunkResult, question: str, fork: bool) -> CallOutcome:
    """One follow-up call from where the session lives, logged like every other call."""
    session, cwd = _resume_reference(result, build.context.session_cwd, build.runner.credentials.config_dir)
    follow_up = FollowUp(question=question, session=session, cwd=cwd, model=asked.model,
                         fork=fork, timeout=build.config.call_timeout, system_prompt=system_prompt(asked))
    started = utc_now()
    outcome = ask_follow_up(build.runner, follow_up)
    build.context.call_log.write({
        "run_id": build.run_id, "call": "ask", "chunk": result.chunk, "files": [item.path for item in result.sent],
        "attempt": 1, "start": started, "end": utc_now(), "session_id": outcome.session_id,
        "resumed": result.session_id, "fork": fork, "exit_code": outcome.exit_code, "outcome": outcome.kind,
        "http_status": outcome.http_status, "message": outcome.message, **build.runner.launch_facts(), "cost_usd": outcome.cost_usd,
        "input_tokens": outcome.input_tokens, "output_tokens": outcome.output_tokens,
        "duration_ms": outcome.duration_ms, "stderr_tail": outcome.stderr_tail[-500:],
    })
    return outcome


def _resume_reference(result: ChunkResult, session_cwd: Path, config_dir: Path) -> tuple[str, Path]:
    """(what to pass to --resume, the cwd to run in). The id works only from the cwd the
    session was made in; if that directory is gone (the repository moved), the
    transcript's absolute path works from anywhere."""
    stored = Path(result.cwd) if result.cwd else session_cwd
    if stored.is_dir():
        return result.session_id, stored
    session_cwd.mkdir(parents=True, exist_ok=True)
    path = transcript_path(config_dir, str(stored), result.session_id)
    return (str(path) if path.is_file() else result.session_id), session_cwd


def _gone_message(config: Config, plan: Plan, chunk: Chunk, result: ChunkResult) -> str:
    sizes = {file.path: file.size for file in plan.discovery.files}
    size = sum(sizes.get(part.path, 0) // part.parts for part in chunk.parts)
    cost = estimate(config.model, size, result.cost_usd or None, result.bytes_sent or None)
    return (f"the session of chunk {chunk.id} is gone (Claude Code deletes transcripts after cleanupPeriodDays, "
            f"30 days by default): rerun with --reanalyze to analyze the chunk again (about ${cost:.4f}) and ask")


def _failure_message(chunk_id: str, outcome: CallOutcome, timeout: float) -> str:
    stop = run_stop_reason(outcome)
    if stop is not None:
        return stop
    if outcome.kind == RETRY:
        return f"the API is busy or unreachable ({terminal_text(outcome.message)}): try again in a minute"
    if outcome.kind == TIMEOUT:
        return f"no answer within {timeout:g}s (call_timeout): try again, or raise call_timeout in claudebuild.toml"
    return f"claude could not answer about chunk {chunk_id} ({outcome.kind}: {terminal_text(outcome.message)[:200]})"

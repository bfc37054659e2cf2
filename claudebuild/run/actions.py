"""The doit tasks of one build: the task creators, and each analyze and verify task's action and
up-to-date check. Every action returns plain values to store or raises `StepFailed` (the engine turns
it into a failed doit task); the `report` task's action comes from the publishing step (claudebuild/publish/),
which run/ does not import.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from claudebuild.engine.check_tasks import check_tasks
from claudebuild.engine.store import read_task_value, read_task_values, result_to_values, save_values, values_to_result
from claudebuild.engine.tasks import report_task, result_is_current, working_tree_hash
from claudebuild.errors import ClaudebuildError, StepFailed
from claudebuild.hashing import DEFAULT_HASHER
from claudebuild.model import ChunkResult
from claudebuild.run.analyze import analyze_chunk
from claudebuild.run.batching import analyze_together
from claudebuild.run.jobs import Job, check_view
from claudebuild.run.noop_stamp import UP_TO_DATE, NoopStamp, Outcome
from claudebuild.run.throttle import RunAborted
from claudebuild.run.verify import missing_keys, verify_chunk

if TYPE_CHECKING:
    from claudebuild.run.build import Build

Done = TypeVar("Done")


def task_creators(build: Build, report: Callable[[], None]) -> dict[str, Callable[[], Any]]:
    """doit's task creators: the analyze (and verify) tasks, and `report` running `report`."""
    actions = TaskActions(build)

    def task_analyze() -> Any:
        """analyze every chunk with claude -p (cached by content)"""
        stamp = None
        if build.doit_chunks is None and build.may_repeat_noop:  # `doit -n 5 analyze`: the whole-run fast path
            stamp = NoopStamp(build.config)
            build.lock.acquire()  # plain doit holds it until it exits, as `plan` would
            if stamp.look() is not None:
                build.doit_chunks = frozenset()
                build.say(UP_TO_DATE)
                return check_tasks((), build.config.checks, action_for=actions.analyze,
                                   uptodate_for=actions.analyze_uptodate)
        jobs = build.plan().jobs
        if build.doit_chunks is None and build.stale_only:
            pending = build.pending_chunks()
            build.doit_chunks = frozenset(item.chunk for item in pending)
            build.share_calls(pending)
            build.forget_stored()  # doit's own checks of those chunks look at their files again
            if not build.doit_chunks:
                build.say(UP_TO_DATE)
                if stamp is not None:  # doit prints no summary: the stamp says only "nothing to do"
                    build.record_noop(stamp, Outcome(None, 0))
        if build.doit_chunks is not None:  # a verify item needs its job too (its analysis is then up to date)
            jobs = tuple(job for job in jobs if job.chunk.id in build.doit_chunks or job.verify_task in build.doit_chunks)
        return check_tasks(jobs, build.config.checks, action_for=actions.analyze, uptodate_for=actions.analyze_uptodate,
                           verify_action_for=actions.verify, verify_uptodate_for=actions.verify_uptodate)

    def task_report() -> Any:
        """merge every chunk's result into the report"""
        return report_task(report)

    return {"task_analyze": task_analyze, "task_report": task_report}


class TaskActions:
    """Each job's analyze and verify action and up-to-date check, on the build's shared context."""

    def __init__(self, build: Build) -> None:
        self.build = build

    def analyze_uptodate(self, job: Job) -> Callable[[Any, dict[str, Any]], bool]:
        build = self.build
        if job.answer_digest == build.context.answer_digest:
            return build.is_current
        return result_is_current(working_tree_hash(str(build.config.root), DEFAULT_HASHER), job.answer_digest)

    def analyze(self, job: Job) -> Callable[[], Any]:
        build, chunk = self.build, job.chunk

        def action() -> Any:
            previous = read_task_value(build.config.db_path, job.task)
            if previous and build.current(chunk, previous):
                if previous.get("run_id") != build.run_id:  # this run's: another chunk's call carried it
                    build.say(f"   reuse {chunk.id}  (stored result matches these files)")
                return previous
            if build.batcher is not None and build.batcher.start(chunk.id):  # another chunk's call carried it
                previous = read_task_value(build.config.db_path, job.task)
                if previous and build.current(chunk, previous):
                    return previous
            result = self._step(lambda: self._analyze(job))
            if result is None:  # the run budget would be passed: keep what was stored, touch nothing
                build.say(f"   SKIP  {chunk.id}  (run budget reached)")
                return previous or {}
            return result_to_values(job.tagged(result))

        action.__name__ = f"analyze_{chunk.id}"
        return action

    def _analyze(self, job: Job) -> ChunkResult | None:
        """The job's result, from a call that may carry other stale chunks (run/batching.py); theirs are
        stored under their own tasks before their tasks are let go."""
        build = self.build
        context = build.job_context(job)
        batcher = build.batcher
        if batcher is None:
            return analyze_chunk(context, job.chunk)
        reserved: dict[str, float] = {}

        def reserve(chunk_id: str) -> bool:
            amount = context.reserve(chunk_id)
            if amount is not None:
                reserved[chunk_id] = amount
            return amount is not None

        claimed = batcher.claim(job.chunk.id, reserve)
        if not claimed:
            return analyze_chunk(context, job.chunk)
        plan = build.plan()
        companions = [other for other in (plan.job(chunk_id) for chunk_id in claimed) if other is not None]
        carried: list[str] = []
        try:
            shared = analyze_together(context, job.chunk, [other.chunk for other in companions], reserved)
            for other in companions:
                result = shared.results.get(other.chunk.id)
                if result is not None:
                    save_values(build.config.db_path, other.task, result_to_values(other.tagged(result)))
                    carried.append(other.chunk.id)
        finally:
            batcher.done(carried, [chunk_id for chunk_id in claimed if chunk_id not in carried])
        return shared.results.get(job.chunk.id)

    def verify_uptodate(self, job: Job) -> Callable[[Any, dict[str, Any]], bool]:
        def uptodate(task: Any, values: dict[str, Any]) -> bool:
            result = self._verified_result(job)
            return result is None or job.verify is None or not missing_keys(job.chunk, result, job.verify, values)

        return uptodate

    def verify(self, job: Job) -> Callable[[], Any]:
        build = self.build

        def action() -> Any:
            previous = read_task_values(build.config.db_path, [job.verify_task]).get(job.verify_task)
            result = self._verified_result(job)
            settings = job.verify
            if result is None or settings is None:
                return previous or {}
            run = self._step(lambda: verify_chunk(build.job_context(job), job.chunk, result, settings, previous))
            if run.declined:
                build.say(f"   SKIP  verifying {run.declined} finding(s) of {job.chunk.id}  (run budget reached)")
            return run.values

        action.__name__ = f"verify_{job.chunk.id}"
        return action

    def _verified_result(self, job: Job) -> ChunkResult | None:
        """The job's stored analysis, as its check reports it, if it is current (only that is verified)."""
        build = self.build
        values = read_task_values(build.config.db_path, [job.task]).get(job.task)
        if not values or not build.current(job.chunk, values):
            return None
        return check_view(values_to_result(values), build.config)

    def _step(self, call: Callable[[], Done]) -> Done:
        """`call`, its stop as a failed task: Ctrl-C or a bad login (`RunAborted`), or an error no chunk can
        pass (e.g. the CLI is missing), which stops the whole run first."""
        try:
            return call()
        except RunAborted as aborted:
            raise StepFailed(str(aborted)) from None
        except ClaudebuildError as error:
            self.build.stop(str(error))
            raise StepFailed(str(error)) from None

"""Jobs: one (check, chunk) analysis with the exact settings its call uses and its cache identity.

A job's `config` is the run's config with the check's instructions (plus the house rules of its
files) and the check's model, so the analysis code needs no notion of checks at all; its
`answer_digest` is what its stored result must carry to be reused. The default check without rules
gives the run's own config and digest, so existing caches stay valid.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from claudebuild.checks import Check
from claudebuild.config import Config
from claudebuild.hashing import digest_json
from claudebuild.model import SEVERITIES, Chunk, ChunkResult
from claudebuild.pipeline.check_plan import CheckChunk, instructions_with_rules
from claudebuild.pipeline.prompt import answer_key
from claudebuild.run.verify import VerifySettings, verify_settings, verify_task_name


@dataclass(frozen=True)
class Job:
    """What one analyze task does: `chunk` (its id is the report id) with `config`'s prompt and model."""

    task: str
    check: str
    chunk: Chunk
    config: Config
    answer_key: dict[str, Any] = field(compare=False, hash=False)
    answer_digest: str = ""
    verify: VerifySettings | None = None
    """How its findings are verified; None: they are not."""

    @property
    def verify_task(self) -> str:
        return verify_task_name(self.chunk.id)

    def tagged(self, result: ChunkResult) -> ChunkResult:
        """`result` as this job stores it: tagged with its check's name (the default review has none)."""
        return replace(result, check=self.check) if self.check else result


def make_jobs(config: Config, planned: tuple[CheckChunk, ...]) -> tuple[Job, ...]:
    """A job per planned chunk; jobs sharing a check and rule set share one config (and digest)."""
    checks = {check.name: check for check in config.checks}
    settings: dict[tuple[str, tuple[int, ...]], tuple[Config, dict[str, Any], str, VerifySettings | None]] = {}
    jobs: list[Job] = []
    for item in planned:
        key = (item.check, item.rules)
        if key not in settings:
            job_config = check_config(config, checks.get(item.check), item.rules)
            answer = answer_key(job_config)
            verify = verify_settings(config, checks.get(item.check), job_config.model)
            settings[key] = (job_config, answer, digest_json(answer), verify)
        job_config, answer, digest, verify = settings[key]
        jobs.append(Job(item.task, item.check, item.chunk, job_config, answer, digest, verify))
    return tuple(jobs)


def check_config(config: Config, check: Check | None, rules: tuple[int, ...]) -> Config:
    """The settings of one check's calls for files with these rules (`config` itself when nothing differs)."""
    if check is None and not rules:
        return config
    base = check.instructions if check is not None else config.instructions
    instructions = instructions_with_rules(base, [config.rules[index] for index in rules])
    model = check.model if check is not None and check.model else config.model
    return replace(config, instructions=instructions, model=model)


def check_view(result: ChunkResult, config: Config) -> ChunkResult:
    """A stored result as its check reports it: without raw findings below the check's `min_severity`."""
    check = next((check for check in config.checks if check.name == result.check), None) if result.check else None
    if check is None or not check.min_severity:
        return result
    limit = SEVERITIES.index(check.min_severity)
    kept = tuple(raw for raw in result.raw_findings
                 if str(raw.get("severity", "")).lower() not in SEVERITIES
                 or SEVERITIES.index(str(raw.get("severity")).lower()) <= limit)
    return replace(result, raw_findings=kept)

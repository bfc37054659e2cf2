"""`claudebuild merge DIR...`: combine the results of sharded CI jobs into one cache and one report.

Each shard job (`claudebuild report --shard K/N`) leaves its state directory;
merging copies every result that still matches this checkout's files into the
local database, then writes the report as one unsharded run would.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from claudebuild.publish.publisher import publish
from claudebuild.run.build import Build
from claudebuild.config import Config
from claudebuild.errors import ClaudebuildError
from claudebuild.render import terminal
from claudebuild.pipeline.report import exit_status
from claudebuild.engine.store import read_task_values, save_values


def shard_database(source: Path, state_dir: str) -> Path:
    for candidate in (source / "doit.sqlite", source / state_dir / "doit.sqlite"):
        if candidate.is_file():
            return candidate
    raise ClaudebuildError(f"{source} holds no claudebuild results: pass a shard's {state_dir}/ directory (or its repository)")


def run_merge(config: Config, sources: Sequence[Path], *, out: TextIO | None = None) -> int:
    if not sources:
        raise ClaudebuildError("merge needs at least one shard directory, e.g. `claudebuild merge shard-1/.claudebuild shard-2/.claudebuild`")
    with Build(config, out=out) as build:
        plan = build.plan()
        chunks = {job.task: job.chunk for job in plan.jobs}  # `analyze:<chunk>`, or `<check>:<chunk>` with checks
        taken = ignored = 0
        for source in sources:
            for name, values in read_task_values(shard_database(source, config.state_dir), chunks).items():
                if values.get("status") == "ok" and not build.current(chunks[name], values):
                    ignored += 1  # made from other file contents than this checkout's
                    continue
                save_values(config.db_path, name, values)
                taken += 1
        report, paths = publish(build, ci=False)  # the step summary and annotations are `report`'s, once
        build.say(f"claudebuild: merged {taken} chunk results from {len(sources)} shard(s)"
                  + (f"; ignored {ignored} made from other file contents" if ignored else ""))
        build.say(terminal.render(report, paths=paths))
    return exit_status(report, fail_on_error=config.fail_on_error, fail_on=config.fail_on, by_check=config.fail_on_by_check)

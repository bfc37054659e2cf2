"""`claudebuild baseline`: accept today's findings, so only new ones fail the gate from now on."""

from __future__ import annotations

import sys

from claudebuild.run.build import Build
from claudebuild.config import Config
from claudebuild.pipeline.triage.baseline import save_baseline


def record_baseline(config: Config) -> int:
    with Build(config) as build:
        report = build.current_report()
        count = save_baseline(config.root / config.baseline_file, report.findings)
        build.say(f"claudebuild: recorded {count} findings in {config.baseline_file}; commit it")
    if report.pending or report.failed:
        print(f"claudebuild: warning: {len(report.pending)} chunks not analyzed and {len(report.failed)} failed; "
              "their findings are not in the baseline (run `claudebuild report` first)", file=sys.stderr)
    return 0

"""`claudebuild demo`: the whole idea in one minute, offline.

Copies the bundled sample repository, starts the local fake Anthropic API,
runs the real `claude` CLI over every chunk, shows the report, edits one file
and runs again, so the user sees that exactly one chunk is re-analyzed and
what the cache saved. Nothing leaves the machine and no API key is needed.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from claudebuild.claude.environment import offline_process_environment
from claudebuild.run.build import Build
from claudebuild.commands.init import init_repository
from claudebuild.config_sources import load_config
from claudebuild.engine.loader import run_doit
from claudebuild.errors import ClaudebuildError
from claudebuild.fakeapi import FakeAnthropicServer
from claudebuild.sample import copy_sample_repo
from claudebuild.untrusted_text import terminal_text

DEMO_CONFIG = "# small chunks, so the demo shows several of them\nmax_files_per_chunk = 6\n"
EDITED_FILE = "app/services/billing.py"
EDIT = "\n\ndef apply_discount(total, code):\n    # TODO: validate the discount code before applying it\n    return total * 0.9\n"


def _analyze(root: Path, jobs: int, title: str) -> tuple[Build, int]:
    print(f"\n== {title}: claudebuild analyze -n {jobs}", flush=True)
    build = Build(load_config(root))
    build.runner.ensure_supported()
    code = run_doit(build, ["run", "-n", str(jobs), "analyze", "report"])
    if build.gate.abort_reason:
        raise ClaudebuildError(build.gate.abort_reason)
    return build, code


def run_demo(*, directory: Path | None, latency: float, jobs: int) -> int:
    base = directory.resolve() if directory else Path(tempfile.mkdtemp(prefix="claudebuild-demo-"))
    root = base / "sample-repo"
    if root.exists():
        raise ClaudebuildError(f"{root} already exists: pass an empty --dir")
    copy_sample_repo(root)
    init_repository(root)
    (root / "claudebuild.toml").write_text(DEMO_CONFIG, encoding="utf-8")
    print(f"claudebuild demo: sample repository copied to {root}")
    with FakeAnthropicServer(latency=latency) as api, offline_process_environment(api.url, base / "claude-config"):
        print(f"local fake Anthropic API at {api.url} ({latency:.1f}s per call); the real claude CLI talks to it")
        first, code = _analyze(root, jobs, "cold run")
        cold_calls = len(api.message_requests())
        report = first.current_report()
        print(f"\ncold run: {cold_calls} API calls for {report.chunks_total} chunks")
        for finding in report.findings[:8]:
            print(f"  {finding.severity:<8} {terminal_text(finding.file)}:{finding.line}  {terminal_text(finding.title)}")
        if len(report.findings) > 8:
            print(f"  ... {len(report.findings) - 8} more in {root / '.claudebuild' / 'report.md'}")

        _, code = _analyze(root, jobs, "rerun, nothing changed")
        noop_calls = len(api.message_requests()) - cold_calls
        print(f"\nno-op rerun: {noop_calls} API calls")

        target = root / EDITED_FILE
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(EDIT)
        print(f"\nedited {EDITED_FILE} (added a function with a TODO)")
        second, code = _analyze(root, jobs, "rerun after one edit")
        edit_calls = len(api.message_requests()) - cold_calls - noop_calls
        after = second.current_report()
        print(f"\nafter the edit: {edit_calls} API call(s), {after.fresh} chunk re-analyzed, {after.cached} from cache, "
              f"${after.cost_saved:.4f} saved by the cache")
    print(f"\nreports: {root / '.claudebuild' / 'report.md'} and report.json")
    print(f"try it yourself: cd {root} && claudebuild list --all --status   (the sample stays there)")
    return code

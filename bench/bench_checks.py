"""Checks and verification benchmark: what the verification pass costs and saves, and what a second check costs.

A generated repository (bench/generate.py) gets, besides its planted problems, planted *false positives*:
in ~2% of the Python files a comment that mentions `eval(` (the fake reviewer flags it as `security/eval`,
as a careless model would; the fake verifier refutes it). Then, each phase `python -m claudebuild -C <repo>
analyze -n JOBS` with the real `claude` CLI against an in-process `FakeAnthropicServer(latency=L)`:

  review      verify off: review calls, findings, review cost
  verify      verify = true over the cached reviews: verification calls only; calls and cost per finding
              verified, verification cost as a share of the review cost, refuted findings (and how many
              of them are the planted false positives), true positives kept
  rerun       nothing changed: API calls (0 expected: every verdict is cached)
  2 checks    the default review replaced by two named checks splitting the files (security on the Python
              files, quality on the rest): calls and cost of the cold run of both checks

It prints figures and asserts nothing about time. Exit status 2 means a count was wrong (the rerun made
calls, a planted false positive survived, a true positive was refuted).

    .venv/bin/python bench/bench_checks.py                # 300 files (~2 min on 2 cores)
    .venv/bin/python bench/bench_checks.py --files 1000   # the issue's 1,000-file figure
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import load_note, make_workdir, offline_env, remove_workdir, run_claudebuild
from generate import generate_repo

from claudebuild.fakeapi import FakeAnthropicServer

FALSE_POSITIVE_RATE = 0.02
FALSE_POSITIVE = "# note: never call eval(payload) on this input\n"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=300, help="files in the generated repository (default 300)")
    parser.add_argument("--latency", type=float, default=0.5, help="fake API seconds per call (default 0.5)")
    parser.add_argument("--jobs", "-n", type=int, default=5, help="parallel claude calls (default 5)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="work in DIR (empty) and keep it")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the figures as JSON")
    return parser.parse_args(argv)


def plant_false_positives(repo: Path, paths: list[str], seed: int) -> set[str]:
    """Prepend the misleading comment to ~2% of the Python files; the files it went into."""
    rng = random.Random(f"claudebuild-bench-checks:{seed}")
    chosen = {path for path in paths if path.endswith(".py") and rng.random() < FALSE_POSITIVE_RATE}
    for path in chosen:
        target = repo / path
        target.write_text(FALSE_POSITIVE + target.read_text(encoding="utf-8"), encoding="utf-8")
    return chosen


def configure(repo: Path, text: str) -> None:
    (repo / "claudebuild.toml").write_text(text, encoding="utf-8")


def report(repo: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((repo / ".claudebuild" / "report.json").read_text(encoding="utf-8"))
    return document


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = make_workdir(args.keep, "claudebuild-bench-checks-")
    repo, logs = work / "repo", work / "logs"
    problems: list[str] = []
    try:
        manifest = generate_repo(repo, args.files, args.seed)
        planted_fp = plant_false_positives(repo, manifest.paths, args.seed)
        print(f"repository: {args.files} files, {len(manifest.problems)} planted problems, "
              f"{len(planted_fp)} planted false positives; -n {args.jobs}, latency {args.latency:.2f}s; {load_note()}",
              flush=True)
        with FakeAnthropicServer(latency=args.latency) as api:
            env = offline_env(api.url, work / "claude-config")
            configure(repo, "")
            review = run_claudebuild("review", repo, args.jobs, env, api, command="report", log_dir=logs)
            reviewed = report(repo)
            configure(repo, "verify = true\n")
            verify = run_claudebuild("verify", repo, args.jobs, env, api, command="report", log_dir=logs)
            verified = report(repo)
            rerun = run_claudebuild("rerun", repo, args.jobs, env, api, command="report", log_dir=logs)
            configure(repo, '[[checks]]\nname = "security"\ninstructions = "Report only security findings."\n'
                            'paths = ["*.py"]\n\n[[checks]]\nname = "quality"\ninstructions = "Report only '
                            'error-handling, maintainability findings."\npaths = ["*", "!*.py"]\n')
            checks = run_claudebuild("checks", repo, args.jobs, env, api, command="report", log_dir=logs)
            checked = report(repo)

        figures = verified["summary"].get("verification", {})
        calls = verify.api_calls
        counts = figures.get("verdicts", {})
        verified_findings = sum(counts.values())
        review_cost = reviewed["summary"]["cost_usd_total"]
        verify_cost = figures.get("cost_usd_this_run", 0.0)
        refuted = verified.get("refuted_findings", [])
        refuted_planted = sum(1 for finding in refuted if finding["file"] in planted_fp)
        planted = {(p.path, p.line) for p in manifest.problems}
        kept_true = sum(1 for f in verified["findings"] if (f["file"], f["line"]) in planted)
        found_true = sum(1 for f in reviewed["findings"] if (f["file"], f["line"]) in planted)
        fp_found = sum(1 for f in reviewed["findings"] if f["file"] in planted_fp and f["category"] == "security/eval")
        print(f"review     {review.api_calls} calls, {len(reviewed['findings'])} findings "
              f"({found_true} planted problems, {fp_found} planted false positives), ${review_cost:.4f}, {review.wall:.1f}s")
        print(f"verify     {calls} calls for {verified_findings} findings at or above medium "
              f"({calls / max(verified_findings, 1):.2f} calls per finding), ${verify_cost:.4f} "
              f"(${verify_cost / max(verified_findings, 1):.5f} per finding, {verify_cost / max(review_cost, 1e-9):.0%} of "
              f"the review cost), {verify.wall:.1f}s")
        print(f"           verdicts: {counts.get('confirmed', 0)} confirmed, {counts.get('refuted', 0)} refuted "
              f"({refuted_planted} of {fp_found} planted false positives), {counts.get('uncertain', 0)} uncertain; "
              f"planted problems kept {kept_true} of {found_true}")
        print(f"rerun      {rerun.api_calls} API calls (0 expected), {rerun.wall:.2f}s")
        print(f"2 checks   {checks.api_calls} calls (vs {review.api_calls} for one review), "
              f"${checked['summary']['cost_usd_this_run']:.4f}, {len(checked['findings'])} findings, {checks.wall:.1f}s")
        if rerun.api_calls:
            problems.append(f"the rerun made {rerun.api_calls} calls")
        if refuted_planted != fp_found:
            problems.append(f"{fp_found - refuted_planted} planted false positives survived")
        if kept_true != found_true:
            problems.append(f"{found_true - kept_true} planted problems were refuted")
        if args.json:
            args.json.write_text(json.dumps({
                "files": args.files, "review_calls": review.api_calls, "review_cost_usd": review_cost,
                "findings": len(reviewed["findings"]), "verify_calls": calls, "verified_findings": verified_findings,
                "verify_cost_usd": verify_cost, "verdicts": counts, "refuted_planted": refuted_planted,
                "planted_false_positives": fp_found, "rerun_calls": rerun.api_calls, "two_check_calls": checks.api_calls,
            }, indent=2) + "\n")
    finally:
        remove_workdir(work, args.keep)
    for problem in problems:
        print(f"bench: COUNT WRONG: {problem}", file=sys.stderr)
    return 2 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

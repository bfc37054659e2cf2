"""Secret-scan benchmark: what reading every file for secrets costs, cold and from the cache.

A generated repository (bench/generate.py; 10,000 files by default, ~0.5% with a
planted hard-coded password) is discovered the way `claudebuild` discovers it,
in-process, four times:

  discovery alone   no content screen: the floor every run pays anyway
  cold scan         discovery + `SecretScanner` with an empty cache (detect-secrets
                    imported and configured first; that start-up is printed apart)
  warm scan         discovery + a new scanner loaded from the cache file the cold
                    scan saved (`.claudebuild/secret-scan.json`): a no-op rerun
  scanner only      the scanner over the files' bytes already in memory: cold, then
                    warm (in-memory cache), without discovery's reads

and, for scale, detect-secrets with every line handed to every detector (what the
gates avoid) on the first --ungated-files files, extrapolated to the whole repo.
It prints figures and asserts nothing.

    .venv/bin/python bench/bench_secrets.py                     # 10,000 files (~1 min to generate on 2 cores)
    .venv/bin/python bench/bench_secrets.py --files 2000 --ungated-files 100
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import load_note, make_workdir, remove_workdir
from generate import generate_repo

from claudebuild.secrets import gates as secret_gates
from claudebuild.secrets import scan as secret_scan
from claudebuild.pipeline.discover import discover_files
from claudebuild.secrets.scan import SecretScanner

MAX_FILE_BYTES = 1_000_000


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=10_000, help="files in the generated repository (default 10000)")
    parser.add_argument("--seed", type=int, default=1, help="generator seed (default 1)")
    parser.add_argument("--ungated-files", type=int, default=200,
                        help="files for the every-line detect-secrets comparison (default 200; 0 skips it)")
    parser.add_argument("--keep", type=Path, metavar="DIR", help="work in DIR (empty) and keep it")
    return parser.parse_args(argv)


def discover(repo: Path, scanner: SecretScanner | None) -> tuple[float, int, int]:
    """Seconds, files kept, files skipped as whole-file secrets (content)."""
    screen = None
    if scanner is not None:
        screen = lambda path, data: "secret" if scanner.scan(path, data).whole_file else None  # noqa: E731
    started = time.perf_counter()
    discovery = discover_files(repo, max_file_bytes=MAX_FILE_BYTES, screen=screen)
    return time.perf_counter() - started, len(discovery.files), discovery.skipped_by_reason().get("secret", 0)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    work = make_workdir(args.keep, "claudebuild-bench-secrets-")
    repo, cache = work / "repo", work / "secret-scan.json"
    try:
        started = time.monotonic()
        manifest = generate_repo(repo, args.files, args.seed)
        print(f"repository: {args.files} files ({manifest.total_bytes / 1e6:.2f} MB), generated in "
              f"{time.monotonic() - started:.1f}s at {repo}; {os.cpu_count()} CPU cores", flush=True)
        print(f"before: {load_note()}", flush=True)
        contents = [(path, (repo / path).read_bytes()) for path in manifest.paths]
        lines = sum(data.count(b"\n") for _, data in contents)

        plain, kept, _ = discover(repo, None)
        started = time.perf_counter()
        secret_gates.engine()
        startup = time.perf_counter() - started

        cold_scanner = SecretScanner()
        cold_scanner.load(cache)
        cold, kept_cold, whole = discover(repo, cold_scanner)
        started = time.perf_counter()
        cold_scanner.save()
        saved_in = time.perf_counter() - started
        hits = sum(len(cold_scanner.scan(path, data).hits) for path, data in contents)

        warm_scanner = SecretScanner()
        started = time.perf_counter()
        warm_scanner.load(cache)
        loaded_in = time.perf_counter() - started
        warm, _, _ = discover(repo, warm_scanner)

        memory = SecretScanner()
        started = time.perf_counter()
        for path, data in contents:
            memory.scan(path, data)
        scan_cold = time.perf_counter() - started
        started = time.perf_counter()
        for path, data in contents:
            memory.scan(path, data)
        scan_warm = time.perf_counter() - started

        ungated = None
        if args.ungated_files:
            sample = contents[: args.ungated_files]
            engine = secret_gates.engine()
            gated_candidates = engine._candidates
            engine._candidates = lambda data, text_lines: {  # type: ignore[method-assign]
                number: [gated.plugin for gated in engine.plugins] for number in range(1, len(text_lines) + 1)}
            try:
                started = time.perf_counter()
                for path, data in sample:
                    secret_scan.scan_content(path, data)
                ungated = (time.perf_counter() - started) * len(contents) / len(sample)
            finally:
                engine._candidates = gated_candidates  # type: ignore[method-assign]

        print()
        print(f"== secret scan, {len(contents)} files, {manifest.total_bytes / 1e6:.1f} MB, {lines} lines")
        print(f"discovery alone:     {plain:7.2f} s   ({kept} files kept)")
        print(f"detect-secrets start:{startup:7.2f} s   (import + configure, once per process, only on a cache miss)")
        print(f"cold scan:           {cold:7.2f} s   discovery + scan = +{cold - plain:.2f} s "
              f"({(cold - plain) / len(contents) * 1e3:.3f} ms/file); {cold_scanner.scanned} scans, {hits} hits, "
              f"{whole} whole-file secrets, {kept_cold} files kept; cache saved in {saved_in:.3f} s "
              f"({cache.stat().st_size / 1e3:.0f} KB)")
        print(f"warm scan (rerun):   {warm:7.2f} s   discovery + cache = +{warm - plain:.2f} s; "
              f"{warm_scanner.scanned} scans; cache loaded in {loaded_in:.3f} s")
        print(f"scanner only:        {scan_cold:7.2f} s cold ({scan_cold / len(contents) * 1e3:.3f} ms/file), "
              f"{scan_warm:.3f} s warm (in-memory cache)")
        if ungated is not None:
            print(f"every line, every detector (no gates), extrapolated from {args.ungated_files} files: "
                  f"{ungated:7.1f} s  -> gates are {ungated / max(scan_cold, 1e-9):.0f}x faster")
        print(f"after: {load_note()}")
    finally:
        remove_workdir(work, args.keep)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""A build's plan: which files are reviewed (discovery, with its memo and the secret screen) and which jobs
they make (chunks per check, `--shard`, `--changed-since`).

Separate from `Build` because planning is a pure step of the flow: it reads the repository and the state
directory's memos and returns frozen data; the lock around it and what runs the plan are the build's.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from functools import cached_property

import xxhash

from claudebuild.config import Config
from claudebuild.errors import ClaudebuildError
from claudebuild.model import Chunk, Discovery
from claudebuild.pipeline.check_plan import plan_checks
from claudebuild.pipeline.chunk_memo import PLAN_FILE, planned_with_memo
from claudebuild.pipeline.discover import discover_files, rediscover
from claudebuild.pipeline.discover_memo import MEMO_FILE, DiscoveryMemo
from claudebuild.repo.git import ChangedFiles, RepoFiles
from claudebuild.run.jobs import Job, make_jobs
from claudebuild.secrets.rules import settings_digest as secrets_settings
from claudebuild.secrets.scan import SCAN_FILE, SecretScanner, scan_to_json

OWN_FILES = ("/claudebuild.toml", "/.claudeignore")
"""claudebuild's own settings are not code to review."""


def own_ignores(config: Config) -> tuple[str, ...]:
    """Discovery's extra ignore patterns: claudebuild's own files, the state dir, then the configured `ignore`."""
    own = (*OWN_FILES, "/" + config.baseline_file, "/" + config.suppressions_file,
           "/" + config.state_dir.strip("/") + "/")  # discovery knows only the default state dir
    return (*own, *config.ignore)


@dataclass(frozen=True)
class Shard:
    """Job K of N in CI: a chunk belongs to the shard its id hashes to, whatever else changes."""

    index: int  # 1-based
    count: int

    @classmethod
    def parse(cls, text: str) -> Shard:
        try:
            index, count = (int(part) for part in text.split("/"))
        except ValueError:
            raise ClaudebuildError(f"--shard must look like K/N (e.g. 2/4), got {text!r}") from None
        if not 1 <= index <= count:
            raise ClaudebuildError(f"--shard {text}: K must be between 1 and N")
        return cls(index, count)

    def holds(self, chunk_id: str) -> bool:
        return xxhash.xxh3_64_intdigest(chunk_id.encode()) % self.count == self.index - 1


@dataclass(frozen=True)
class Plan:
    discovery: Discovery
    chunks: tuple[Chunk, ...]
    """Every job's chunk, by its report id (the plain chunk id unless `[[checks]]` name checks)."""
    jobs: tuple[Job, ...] = ()
    """One per analyze task: the chunk with the check's prompt and model (see run/jobs.py)."""
    all_tasks: tuple[str, ...] = ()
    """Every job's task name before `--shard` picked some: garbage collection keeps the results of all of them."""

    def job(self, chunk_id: str) -> Job | None:
        """The job of the chunk with this report id."""
        return self._jobs_by_id.get(chunk_id)

    @cached_property
    def _jobs_by_id(self) -> dict[str, Job]:
        return {job.chunk.id: job for job in self.jobs}


class Planner:
    """Discovers and chunks one repository. Remembers which discovered files hold secrets (their
    findings are reported and their lines redacted) and keeps the discovery memo it used."""

    def __init__(self, config: Config, files: RepoFiles, scanner: SecretScanner, *, shard: Shard | None = None,
                 changed: ChangedFiles | None = None) -> None:
        self.config = config
        self.files = files
        self.scanner = scanner
        self.shard = shard
        self.changed = changed
        self.memo = DiscoveryMemo(None)  # the real one is loaded by `plan`, under the build's state lock
        self.secret_files: set[str] = set()

    def plan(self) -> Plan:
        """Discover, chunk and make the jobs; the caller holds the state lock (the memos live there)."""
        self._load_memos()
        config = self.config
        discovery = discover_files(config.root, max_file_bytes=config.max_file_bytes, extra_ignore=own_ignores(config),
                                   claudeignore_text=self._trusted_claudeignore(), screen=self._screen, memo=self.memo)
        self.memo.save()
        return self._plan_of(discovery)

    def plan_touching(self, paths: Collection[str]) -> Plan | None:
        """The last run's discovery (its memo) with `paths` classified afresh, so the pre-commit hook
        costs what is staged, not the tree (see `discover.rediscover`), and the jobs of the chunks holding
        them; None when there is no memo for these settings. The caller holds the state lock."""
        self._load_memos()
        config = self.config
        discovery = rediscover(config.root, paths, max_file_bytes=config.max_file_bytes, memo=self.memo,
                               extra_ignore=own_ignores(config), claudeignore_text=self._trusted_claudeignore(),
                               screen=self._screen)
        return None if discovery is None else self._plan_of(discovery, only=frozenset(paths))

    def _load_memos(self) -> None:
        self.scanner.load(self.config.state_path / SCAN_FILE)
        self.memo = DiscoveryMemo.load(self.config.state_path / MEMO_FILE, secrets_settings())

    def _plan_of(self, discovery: Discovery, only: frozenset[str] | None = None) -> Plan:
        """Chunks and jobs for `discovery` (the chunk plan reused while the files are the same); with `only`,
        the jobs of the chunks holding one of those paths alone (the hook's)."""
        for path, scan in self.memo.flagged().items():  # files with secrets, their scans known already
            self.secret_files.add(path)
            self.scanner.seed(path, self.memo.digest(path), scan)
        self.scanner.save()
        config = self.config
        every = planned_with_memo(
            config.state_path / PLAN_FILE, discovery.files,
            repr((config.checks, config.rules, config.max_files_per_chunk, config.max_chunk_bytes)),
            make=lambda: plan_checks(discovery.files, checks=config.checks, rules=config.rules,
                                     max_files=config.max_files_per_chunk, max_bytes=config.max_chunk_bytes),
            max_bytes=config.max_chunk_bytes, loose=only is not None)
        planned = every if self.shard is None else tuple(item for item in every if self.shard.holds(item.chunk.id))
        if self.changed is not None:
            changed = self.changed.paths
            planned = tuple(item for item in planned if not changed.isdisjoint(item.chunk.paths))
        if only is not None:
            planned = tuple(item for item in planned if not only.isdisjoint(item.chunk.paths))
        jobs = make_jobs(config, planned)
        return Plan(_without_own_state(discovery, config.state_dir), tuple(job.chunk for job in jobs), jobs,
                    tuple(item.task for item in every))

    def _screen(self, path: str, data: bytes) -> str | None:
        """Discovery's content check: a file that is secret material as a whole is skipped as "secret"."""
        scan = self.scanner.scan(path, data)
        if scan.hits:
            self.secret_files.add(path)
            self.memo.flag(path, scan_to_json(scan))
        return "secret" if scan.whole_file else None

    def _trusted_claudeignore(self) -> str | None:
        """With `config_from`, that commit's `.claudeignore` ("" when it has none); None: the working tree's."""
        if not self.files.ref:
            return None
        data = self.files.read_bytes(".claudeignore")
        return "" if data is None else data.decode("utf-8", errors="surrogateescape")


def _without_own_state(discovery: Discovery, state_dir: str) -> Discovery:
    """Our own state directory is not a file the user skipped; leave it out of the counts."""
    own = state_dir.strip("/")
    skipped = tuple(item for item in discovery.skipped if item.path.rstrip("/") != own and not item.path.startswith(own + "/"))
    return Discovery(discovery.files, skipped)

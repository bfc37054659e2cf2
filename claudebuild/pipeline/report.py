"""Aggregate: every chunk's stored result -> one `Report` (pure).

Models invent paths and line numbers, so every finding is checked against what
was actually sent in its chunk: the file must be one of the chunk's files (no
absolute paths, no `..`), the line must exist in the range that was shown.
Rejected findings are counted by reason, never shown as-is. Results of chunks
that no longer exist are ignored here (and deleted from the DB by the caller).
What happens to the valid findings next (fingerprints, evidence, suppressions, new /
persisting / fixed, baseline) is `pipeline/triage/`'s job; this module only feeds it.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

from claudebuild.model import SEVERITIES, Chunk, ChunkResult, Discovery, Finding, SentFile, SkippedFile
from claudebuild.pipeline.triage import FindingRecord, SuppressedFinding, Suppression, gate_failures, triage

MAX_TEXT = 4_000


@dataclass(frozen=True)
class FailedChunk:
    chunk: str
    kind: str
    message: str
    files: tuple[str, ...]


@dataclass(frozen=True)
class Report:
    findings: tuple[Finding, ...]
    failed: tuple[FailedChunk, ...]
    pending: tuple[str, ...]
    skipped_files: Mapping[str, int]
    rejected: Mapping[str, int]
    chunks_total: int
    files_total: int
    fresh: int
    cached: int
    cost_this_run: float
    cost_saved: float
    cost_total: float
    input_tokens: int
    output_tokens: int
    run_id: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)
    suppressed_findings: tuple[SuppressedFinding, ...] = ()
    fixed: tuple[FindingRecord, ...] = ()
    """Findings of the previous report that are gone from files analyzed again (see `triage.compare_with_previous`)."""
    baselined: frozenset[str] = frozenset()
    """Fingerprints of `findings` recorded in the baseline: known debt that never fails the gate."""
    compared: bool = False
    """True when there was a previous report, so `status` and `fixed` mean something."""
    skipped: tuple[SkippedFile, ...] = ()
    """Every file (or directory) not sent, with its reason: `skipped_files` counts them."""
    models: Mapping[str, int] = field(default_factory=dict)
    """Chunks in the report by the model that analyzed them (an alias may have meant several versions)."""
    cli_versions: Mapping[str, int] = field(default_factory=dict)
    """Chunks by the Claude Code version that analyzed them: recorded, never part of the cache key."""
    remote_hits: int = 0
    """Chunks whose result this run took from the shared remote cache (no call; their cost is in `cost_saved`)."""
    scope: tuple[str, ...] | None = None
    """With `--changed-since`: the reviewed files changed since the merge base, the only ones reported and
    gated (None: every file is in scope)."""
    changed_since: str = ""
    """The ref given to `--changed-since`, and the merge base: `origin/main (merge base 1a2b3c4d5e6f)`."""
    path_prefix: str = ""
    """What the paths above start with: '' (relative to the reviewed root), or the root's place in the
    git work tree (`services/api/`) once `render.paths.with_path_prefix` made them repository-relative."""
    refuted: tuple[Finding, ...] = ()
    """Findings the verification pass refuted: out of `findings` and the gate, kept to be seen."""
    verification: Mapping[str, Any] = field(default_factory=dict)
    """The verification pass's figures (calls and cost this run, verdict counts); empty when it is off."""

    def totals(self) -> dict[str, int]:
        counts = dict.fromkeys(SEVERITIES, 0)
        for finding in self.findings:
            counts[finding.severity] += 1
        return counts

    @property
    def suppressed(self) -> dict[str, int]:
        """Suppressed findings by where the suppression lives: `inline` comments or the `file`."""
        counts = {"inline": 0, "file": 0}
        for item in self.suppressed_findings:
            counts[item.source] = counts.get(item.source, 0) + 1
        return counts

    @property
    def suppressed_without_reason(self) -> int:
        return sum(1 for item in self.suppressed_findings if not item.reason)

    @property
    def unverified(self) -> int:
        return sum(1 for finding in self.findings if not finding.verified)

    def by_status(self) -> dict[str, int]:
        """How many findings are new and persisting (both 0 when nothing was compared)."""
        return {status: sum(1 for f in self.findings if f.status == status) for status in ("new", "persisting")}

    def verification_summary(self) -> str:
        """`verification: N calls, $x, M refuted` (and how many are uncertain or still to verify); "" when off."""
        figures = self.verification
        if not figures:
            return ""
        uncertain = sum(1 for finding in self.findings if finding.verdict == "uncertain")
        text = (f"verification: {figures.get('calls_this_run', 0)} calls, ${figures.get('cost_usd_this_run', 0.0):.4f}, "
                f"{len(self.refuted)} refuted")
        if uncertain:
            text += f", {uncertain} uncertain"
        if figures.get("pending"):
            text += f", {figures['pending']} not verified yet"
        return text

    def is_baselined(self, finding: Finding) -> bool:
        return bool(finding.fingerprint) and finding.fingerprint in self.baselined


def build_report(
    chunks: Sequence[Chunk],
    results: Mapping[str, ChunkResult],
    discovery: Discovery,
    *,
    run_id: str,
    min_severity: str = "info",
    stale: frozenset[str] = frozenset(),
    lines_by_file: Mapping[str, Sequence[str]] | None = None,
    previous: Sequence[FindingRecord] | None = None,
    baseline: Collection[str] = frozenset(),
    suppressions: Sequence[Suppression] = (),
    trusted_markers: Mapping[str, Collection[str]] | None = None,
    today: date | None = None,
    local_findings: Sequence[Finding] = (),
) -> Report:
    """`results` maps chunk id -> stored result; chunks without one, or whose result no longer
    matches their files or settings (`stale`), are pending and contribute no findings.

    The keyword inputs after `stale` feed `triage.triage` (the files' current lines, the
    previous report's findings, the baseline's fingerprints, the suppressions file's
    entries and the day expiries are judged on); leaving them out skips those steps.
    `local_findings` are claudebuild's own, made without a model from the files as they are
    (the secret scan's): they count whatever state their chunk is in, and a model finding
    about a secret on the same line (it saw the redacted line) gives way to them."""
    findings: list[Finding] = []
    failed: list[FailedChunk] = []
    pending: list[str] = []
    analyzed: set[str] = set()
    rejected: dict[str, int] = {}
    models: dict[str, int] = {}
    cli_versions: dict[str, int] = {}
    fresh = cached = remote_hits = 0
    cost_this_run = cost_saved = cost_total = 0.0
    input_tokens = output_tokens = 0
    threshold = SEVERITIES.index(min_severity)
    for chunk in chunks:
        result = results.get(chunk.id)
        this_run = result is not None and result.run_id == run_id
        remote = this_run and result is not None and result.origin == "remote"  # paid for elsewhere, not now
        if result is not None and (this_run or not (chunk.id in stale and result.status == "ok")):
            cost_total += result.cost_usd  # a call made now was paid for, even if its files changed since
            input_tokens += result.input_tokens
            output_tokens += result.output_tokens
            if this_run and not remote:
                cost_this_run += result.cost_usd
        if result is None or (chunk.id in stale and result.status == "ok"):
            pending.append(chunk.id)
            continue
        if result.status != "ok":
            failed.append(FailedChunk(chunk.id, result.error_kind or "error", result.error or "failed", chunk.paths))
            continue
        if remote:
            remote_hits += 1
            cost_saved += result.cost_usd
        elif this_run:
            fresh += 1
        else:
            cached += 1
            cost_saved += result.cost_usd
        analyzed.add(chunk.id)
        models[result.model or "unknown"] = models.get(result.model or "unknown", 0) + 1
        cli_versions[result.cli_version or "unknown"] = cli_versions.get(result.cli_version or "unknown", 0) + 1
        for raw in result.raw_findings:
            finding, reason = validate_finding(raw, chunk, result.sent)
            if finding is not None and result.check:
                finding = replace(finding, check=result.check)
            if finding is None:
                rejected[reason] = rejected.get(reason, 0) + 1
            elif SEVERITIES.index(finding.severity) <= threshold:
                findings.append(finding)
    findings = _without_secret_echoes(findings, local_findings)
    findings += [finding for finding in local_findings if SEVERITIES.index(finding.severity) <= threshold]
    triaged = triage(
        deduplicate(findings), today=today or date.today(), lines_by_file=lines_by_file, previous=previous,
        covered_files=covered_files(chunks, analyzed), baseline=baseline, suppressions=suppressions,
        min_severity=min_severity, trusted_markers=trusted_markers,
    )
    return Report(
        findings=triaged.findings,
        failed=tuple(failed),
        pending=tuple(pending),
        skipped_files=discovery.skipped_by_reason(),
        skipped=discovery.skipped,
        rejected=dict(sorted(rejected.items())),
        chunks_total=len(chunks),
        files_total=len(discovery.files),
        fresh=fresh,
        cached=cached,
        cost_this_run=round(cost_this_run, 6),
        cost_saved=round(cost_saved, 6),
        cost_total=round(cost_total, 6),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        run_id=run_id,
        suppressed_findings=triaged.suppressed,
        fixed=triaged.fixed,
        baselined=triaged.baselined,
        compared=triaged.compared,
        models=dict(sorted(models.items())),
        cli_versions=dict(sorted(cli_versions.items())),
        remote_hits=remote_hits,
    )


_SECRET_CATEGORY = re.compile(r"secret|password|credential|api[-_ ]?key|token|private[-_ ]?key", re.IGNORECASE)


def _without_secret_echoes(findings: list[Finding], local: Sequence[Finding]) -> list[Finding]:
    """The model's findings minus those about a secret on a line where claudebuild found one itself."""
    lines = {(finding.file, finding.line) for finding in local}
    return [finding for finding in findings
            if (finding.file, finding.line) not in lines or not _SECRET_CATEGORY.search(finding.category)]


def covered_files(chunks: Sequence[Chunk], analyzed: Collection[str]) -> frozenset[str]:
    """Files every chunk of which has a current result: only there can a missing finding mean "fixed"."""
    seen = {path for chunk in chunks if chunk.id in analyzed for path in chunk.paths}
    missing = {path for chunk in chunks if chunk.id not in analyzed for path in chunk.paths}
    return frozenset(seen - missing)


def normalize_path(path: str) -> str | None:
    """The repo-relative POSIX path a finding names, byte-exact, or None if it could point outside.

    File names are kept exactly (`a:b.py`, ` lead.py`, `back\\slash.py` are legal on POSIX):
    only a leading "./" is dropped, and absolute paths, `..` parts and NUL are refused.
    """
    if not path or "\0" in path or path.startswith("/") or ".." in path.split("/"):
        return None
    while path.startswith("./"):
        path = path[2:]
    return path or None


def validate_finding(raw: Mapping[str, Any], chunk: Chunk, sent: Iterable[SentFile]) -> tuple[Finding | None, str]:
    """A `Finding` if the raw one is well-formed and points into what was sent, else the reason."""
    path = raw.get("file")
    if not isinstance(path, str):
        return None, "malformed"
    normal = normalize_path(path)
    if normal is None:
        return None, "path-outside-repo"
    if normal not in chunk.paths:
        return None, "file-not-in-chunk"
    ranges = [(item.start_line, item.end_line) for item in sent if item.path == normal]
    line = raw.get("line")
    if not isinstance(line, int) or isinstance(line, bool):
        return None, "malformed"
    if not any(start <= line <= end for start, end in ranges):
        return None, "line-out-of-range"
    end_line = raw.get("end_line")
    range_end = max(end for start, end in ranges if start <= line <= end)
    if not isinstance(end_line, int) or isinstance(end_line, bool) or end_line < line:
        end_line = line
    end_line = min(end_line, range_end)
    severity = str(raw.get("severity") or "").lower()
    if severity not in SEVERITIES:
        return None, "malformed"
    title = _text(raw.get("title"))
    if not title:
        return None, "malformed"
    return (
        Finding(
            file=normal,
            line=line,
            end_line=end_line,
            severity=severity,
            category=_text(raw.get("category")) or "general",
            title=title,
            message=_text(raw.get("message")),
            quote=_text(raw.get("quote")),
            chunk=chunk.id,
        ),
        "",
    )


def _text(value: Any) -> str:
    return value.strip()[:MAX_TEXT] if isinstance(value, str) else ""


def sort_key(finding: Finding) -> tuple[Any, ...]:
    return (finding.file, finding.line, SEVERITIES.index(finding.severity), finding.category, finding.title)


def deduplicate(findings: Iterable[Finding]) -> list[Finding]:
    """One finding per (check, file, line, category), keeping the most severe; sorted by file and line."""
    best: dict[tuple[str, str, int, str], Finding] = {}
    for finding in sorted(findings, key=sort_key):
        key = (finding.check, finding.file, finding.line, finding.category.lower())
        if key not in best:
            best[key] = finding
    return sorted(best.values(), key=sort_key)


def limited_to(report: Report, files: Collection[str], *, described: str) -> Report:
    """`report` with only the findings (and fixed and suppressed ones) in `files`, which it lists as its scope."""
    keep = frozenset(files)
    return replace(
        report,
        findings=tuple(finding for finding in report.findings if finding.file in keep),
        fixed=tuple(record for record in report.fixed if record.file in keep),
        suppressed_findings=tuple(item for item in report.suppressed_findings if item.finding.file in keep),
        scope=tuple(sorted(keep)),
        changed_since=described,
    )


def exit_status(report: Report, *, fail_on_error: bool, fail_on: str = "", missing_fails: bool = False,
                by_check: Mapping[str, str] | None = None) -> int:
    """1 when chunks failed (and the policy says so) or a finding fails `--fail-on`, else 0.

    `missing_fails`: a chunk without a current result counts as failed too (`report --no-analyze`,
    where nothing will analyze it). Which findings fail is `triage.gate_failures`: at or above
    `fail_on`, verified, not in the baseline.
    """
    unfinished = report.failed or (missing_fails and report.pending)
    return 1 if (fail_on_error and unfinished) or gate_failures(report, fail_on, by_check) else 0

"""Scan every file before it leaves the machine, cached by content; redact what is sent; report what was found.

A scan holds positions only (line, character offsets, detector name), never a
secret (`secret_rules`): so it can be cached on disk, used to redact exactly the
secret's characters from what is sent (`redact`, line numbers unchanged), and
reported as a finding whose quote is the redacted line (`secret_findings`).
Results are cached by content hash, so a file is scanned once per content.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import orjson

from claudebuild.atomic_write import write_atomic
from claudebuild.text_lines import split_lines
from claudebuild.hashing import hash_bytes
from claudebuild.model import Finding
from claudebuild.secrets.rules import (
    CLEAN, GENERIC_DETECTORS, PLACEHOLDER, FileScan, SecretHit, file_extension, redact, scan_content, settings_digest,
)

__all__ = ["CATEGORY", "DEFAULT_SCANNER", "PLACEHOLDER", "SCAN_FILE", "FileScan", "SecretHit", "SecretScanner",
           "redact", "scan_content", "scan_to_json", "scanned_view", "secret_findings"]

CATEGORY = "security/hard-coded-secret"
SCAN_FILE = "secret-scan.json"
"""The cache's name inside the state directory."""


MAX_CACHED = 200_000
"""Entries kept in the cache file beyond the ones used by this process."""


class SecretScanner:
    """Scans file content, once per (content, file type): thread-safe, optionally persisted.

    The cache key is the content's xxh3 hash plus the file's extension (detect-secrets'
    keyword rules depend on the language); the file holds only keys, offsets and
    detector names, and is dropped whole when the rules or detect-secrets change.
    """

    def __init__(self) -> None:
        self._entries: dict[str, FileScan] = {}
        self._raw: dict[str, Any] = {}  # read from the cache file, not converted yet (`_known` converts one)
        self._used: set[str] = set()
        self._dirty = False
        self._lock = threading.Lock()
        self._path: Path | None = None
        self._unread: Path | None = None  # `load` was asked for this file; read on first use
        self.scanned = 0
        """Scans actually run (cache misses), for benchmarks and tests."""

    def scan(self, path: str, data: bytes) -> FileScan:
        """The secrets in `data`, the content of repo-relative `path` (its extension picks the keyword rules)."""
        key = f"{hash_bytes(data)}:{file_extension(path)}"
        known = self._known(key)
        if known is None:
            self._read_pending()  # only now: most runs find what they need seeded from the discovery memo
            known = self._known(key)
        if known is not None:
            return known
        result = scan_content(path, data)
        with self._lock:
            self.scanned += 1
            self._entries[key] = result
            self._used.add(key)
            self._dirty = True
        return result

    def _known(self, key: str) -> FileScan | None:
        with self._lock:
            known = self._entries.get(key)
            if known is None and key in self._raw:
                known = _from_json(self._raw.pop(key))
                if known is not None:
                    self._entries[key] = known
            if known is not None:
                self._used.add(key)
            return known

    def seed(self, path: str, digest: str, stored: Any) -> None:
        """Know the scan of `path`'s content (xxh3 `digest`) from `stored` (`scan_to_json`'s form, e.g. kept
        in the discovery memo), so scanning it again needs neither detect-secrets nor the cache file."""
        scan = _from_json(stored)
        if scan is not None and digest:
            with self._lock:
                self._entries.setdefault(f"{digest}:{file_extension(path)}", scan)

    def load(self, path: Path) -> None:
        """Take the cached scans in `path`; a missing, unreadable or outdated file is an empty cache.
        `save` writes there. The file is read on the first scan or save: a run whose files are
        all known from the discovery memo scans nothing and never pays for reading it."""
        with self._lock:
            self._path = path
            self._unread = path

    def _read_pending(self) -> None:
        with self._lock:
            path, self._unread = self._unread, None
        if path is not None:
            self._read(path)

    def _read(self, path: Path) -> None:
        try:
            document = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return
        if not isinstance(document, dict) or document.get("settings") != settings_digest():
            return
        entries = document.get("entries")
        if not isinstance(entries, dict):
            return
        with self._lock:  # converted one by one when asked for: a run scanning one file does not pay for 30,000
            self._raw = {key: value for key, value in entries.items() if key not in self._entries}

    def save(self, path: Path | None = None) -> None:
        """Write the cache atomically if anything was scanned since `load`: this process's
        entries first, then older ones up to `MAX_CACHED`."""
        target = path or self._path
        if target is None:
            return
        with self._lock:
            if not self._dirty and target == self._path:
                return
        self._read_pending()  # older entries are kept
        with self._lock:
            used = [key for key in self._entries if key in self._used]
            room = max(0, MAX_CACHED - len(used))
            older = [key for key in self._entries if key not in self._used][:room]
            entries = {key: _to_json(self._entries[key]) for key in (*used, *older)}
            for key in list(self._raw)[:max(0, room - len(older))]:  # as read: valid or not, `_known` decides
                entries.setdefault(key, self._raw[key])
            self._dirty = False
        document = {"settings": settings_digest(), "entries": entries}
        write_atomic(target, orjson.dumps(document).decode())


DEFAULT_SCANNER = SecretScanner()
"""Process-wide scanner for callers that are handed none; a `Build` has its own, persisted one."""


def secret_findings(path: str, text: str, scan: FileScan) -> tuple[Finding, ...]:
    """One high-severity finding per line holding a secret, quoting the redacted line: no model call.

    A line with several hits is one finding named after its most specific detector.
    """
    if not scan.hits:
        return ()
    redacted = split_lines(redact(text, scan))
    by_line: dict[int, list[SecretHit]] = {}
    for hit in scan.hits:
        by_line.setdefault(hit.line, []).append(hit)
    findings = []
    for number, hits in sorted(by_line.items()):
        names = sorted({hit.detector for hit in hits}, key=lambda name: (name in GENERIC_DETECTORS, name))
        quote = redacted[number - 1].strip() if number <= len(redacted) else PLACEHOLDER
        findings.append(Finding(
            file=path, line=number, end_line=max(hit.last_line for hit in hits), severity="high", category=CATEGORY,
            title=f"Hard-coded secret ({names[0]})",
            message=(f"{' and '.join(names)} found in the source by claudebuild's secret scan (detect-secrets). "
                     f"It was replaced by {PLACEHOLDER} in everything sent to Claude and in this report. Move it "
                     "to a secret store or the environment, and rotate it: it stays in the repository's history."),
            quote=quote,
        ))
    return tuple(findings)


def scanned_view(scanner: SecretScanner, path: str, data: bytes) -> tuple[tuple[Finding, ...], list[str]]:
    """A file's secret findings and its lines as Claude was shown them (redacted), to check quotes against."""
    text = data.decode("utf-8", errors="replace")
    scan = scanner.scan(path, data)
    return secret_findings(path, text, scan), split_lines(redact(text, scan))


# -- the cache file -------------------------------------------------------------


def scan_to_json(scan: FileScan) -> list[Any]:
    """A scan as the cache file holds it (positions and detector names only, never a secret)."""
    return _to_json(scan)


def _to_json(scan: FileScan) -> list[Any]:
    return [scan.whole_file, [[h.line, h.start, h.end, h.end_line, h.detector] for h in scan.hits]]


def _from_json(value: Any) -> FileScan | None:
    try:
        whole, hits = value
        scan = FileScan(tuple(SecretHit(int(a), int(b), int(c), str(e), int(d)) for a, b, c, d, e in hits), str(whole))
    except (TypeError, ValueError):
        return None
    return CLEAN if scan == CLEAN else scan  # most files: one shared value

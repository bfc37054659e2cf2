"""Find credentials in file content before it leaves the machine, and say where they are without keeping them.

The deny list in `discover.py` refuses files by name; a key pasted into
`settings.py`, a token in a `.js` file or an oddly named SSH key is only caught
by reading the content. The rules are Yelp's detect-secrets, run in-process: a
maintained, widely used set of ~25 vendor-token detectors plus keyword and
entropy heuristics beats any regex list written here. Ours adds what a
line-at-a-time scanner cannot see: private key *blocks* (every line of the key
is redacted, not just its header) and files that are secret material as a whole
(key files, Terraform state, kubeconfig with credentials, Docker registry auth),
which discovery then skips with reason "secret".

A scan holds positions only (line, character offsets, detector name), never a
secret: so it can be cached on disk, used to redact exactly the secret's
characters from what is sent (`redact`, line numbers unchanged), and reported as
a finding whose quote is the redacted line (`secret_findings`).

Speed: detect-secrets hands every line to every detector through dependency
injection (~0.6 ms a line, minutes for a large repository). Each detector gets a
*gate* here: a necessary condition checked on the raw bytes at C speed (a
literal the secret must contain, or a run of characters it must consist of), and
only the lines a gate points at go to that detector. The hand-written gates were
derived from detect-secrets 1.5's patterns and are trusted only while a
detector's patterns have exactly the digest they were derived from; any other
detector is gated by its own regexes (as sound, slower). Results are cached by
content hash, so a file is scanned once per content.
"""

from __future__ import annotations

import bisect
import importlib.util
import math
import posixpath
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from claudebuild.atomic_write import write_atomic
from claudebuild.chunk import split_lines
from claudebuild.hashing import digest_json, hash_bytes
from claudebuild.model import Finding

PLACEHOLDER = "[REDACTED-SECRET]"
"""What replaces a secret's characters in everything sent and reported."""

CATEGORY = "security/hard-coded-secret"
SCAN_FILE = "secret-scan.json"
"""The cache's name inside the state directory."""

RULES_VERSION = "2"
"""Bump when our own rules, gates or the detector settings change meaning: every cached scan is dropped."""

ENTROPY_LIMITS: dict[str, float] = {"Base64HighEntropyString": 4.5, "HexHighEntropyString": 3.0}
"""Shannon-entropy thresholds (detect-secrets' defaults): quoted identifiers, words and UUIDs stay
below them, random tokens and keys are above. Only quoted strings are measured."""

EXCLUDED_DETECTORS: tuple[str, ...] = ("IPPublicDetector",)
"""A public IP address is not a credential, and configuration is full of them."""

DISABLED_FILTERS: tuple[str, ...] = (
    # Verification sends the candidate secret to its provider (GitHub, AWS, ...): never.
    "detect_secrets.filters.common.is_ignored_due_to_verification_policies",
    # It drops every hit on a line shaped like `x = call(...)`, which hides an AWS key passed
    # inline (`boto3.client("s3", aws_access_key_id="AKIA...")`); applied by `_keep` instead.
    "detect_secrets.filters.heuristic.is_indirect_reference",
    # `# pragma: allowlist secret` is written by the repository under review: a pull request could
    # mark a line to have its secret sent. A false positive is suppressed in the report instead
    # (trusted suppressions, `--config-from`); its line is still redacted.
    "detect_secrets.filters.allowlist.is_line_allowlisted",
)

GENERIC_DETECTORS = frozenset({"Secret Keyword", "Base64 High Entropy String", "Hex High Entropy String"})
"""Heuristic detectors: when a specific one (a vendor's token format) found the same text, its name is shown."""

MAX_CACHED = 200_000
"""Entries kept in the cache file beyond the ones used by this process."""

_WHOLE_KEY_SHARE = 0.10
"""A file whose non-blank text is at least 90% private key blocks is a key file: it is not sent at all."""


@dataclass(frozen=True)
class SecretHit:
    """Where one secret is: 1-based `line`, character offsets `start`..`end` within that line (as
    `chunk.split_lines` splits the UTF-8-decoded file), and which detector found it. A secret over
    several lines (a key block) ends at offset `end` of `end_line`; 0 means the same line."""

    line: int
    start: int
    end: int
    detector: str
    end_line: int = 0

    @property
    def last_line(self) -> int:
        return self.end_line or self.line


@dataclass(frozen=True)
class FileScan:
    """A file's secrets; `whole_file` names why the file as a whole is secret material ("" if it is not)."""

    hits: tuple[SecretHit, ...] = ()
    whole_file: str = ""


CLEAN = FileScan()


class SecretScanner:
    """Scans file content, once per (content, file type): thread-safe, optionally persisted.

    The cache key is the content's xxh3 hash plus the file's extension (detect-secrets'
    keyword rules depend on the language); the file holds only keys, offsets and
    detector names, and is dropped whole when the rules or detect-secrets change.
    """

    def __init__(self) -> None:
        self._entries: dict[str, FileScan] = {}
        self._used: set[str] = set()
        self._dirty = False
        self._lock = threading.Lock()
        self._path: Path | None = None
        self.scanned = 0
        """Scans actually run (cache misses), for benchmarks and tests."""

    def scan(self, path: str, data: bytes) -> FileScan:
        """The secrets in `data`, the content of repo-relative `path` (its extension picks the keyword rules)."""
        key = f"{hash_bytes(data)}:{_extension(path)}"
        with self._lock:
            known = self._entries.get(key)
            if known is not None:
                self._used.add(key)
                return known
        result = scan_content(path, data)
        with self._lock:
            self.scanned += 1
            self._entries[key] = result
            self._used.add(key)
            self._dirty = True
        return result

    def load(self, path: Path) -> None:
        """Take the cached scans in `path`; a missing, unreadable or outdated file is an empty cache.
        `save` writes there."""
        self._path = path
        try:
            document = orjson.loads(path.read_bytes())
        except (OSError, orjson.JSONDecodeError):
            return
        if not isinstance(document, dict) or document.get("settings") != settings_digest():
            return
        entries = document.get("entries")
        if not isinstance(entries, dict):
            return
        loaded: dict[str, FileScan] = {}
        for key, value in entries.items():
            scan = _from_json(value)
            if scan is not None:
                loaded[key] = scan
        with self._lock:
            for key, scan in loaded.items():
                self._entries.setdefault(key, scan)

    def save(self, path: Path | None = None) -> None:
        """Write the cache atomically if anything was scanned since `load`: this process's
        entries first, then older ones up to `MAX_CACHED`."""
        target = path or self._path
        if target is None:
            return
        with self._lock:
            if not self._dirty and target == self._path:
                return
            used = [key for key in self._entries if key in self._used]
            older = [key for key in self._entries if key not in self._used][: max(0, MAX_CACHED - len(used))]
            entries = {key: _to_json(self._entries[key]) for key in (*used, *older)}
            self._dirty = False
        document = {"settings": settings_digest(), "entries": entries}
        write_atomic(target, orjson.dumps(document).decode())


DEFAULT_SCANNER = SecretScanner()
"""Process-wide scanner for callers that are handed none; a `Build` has its own, persisted one."""


def redact(text: str, scan: FileScan) -> str:
    """`text` with every hit's characters replaced by `PLACEHOLDER`; all newlines (so line numbers) kept.

    `text` is the UTF-8-decoded file the scan was made from; lines are split as
    `chunk.split_lines` splits them (only "\\n" ends a line, a CRLF's "\\r" is kept
    outside the hit). Overlapping hits become one placeholder.
    """
    if not scan.hits:
        return text
    starts = _line_starts(text)
    spans: list[tuple[int, int]] = []
    for hit in scan.hits:
        for number in range(hit.line, hit.last_line + 1):
            if number > len(starts):
                break
            begin, stop = starts[number - 1], _content_end(text, starts, number)
            low = begin + (hit.start if number == hit.line else 0)
            high = begin + hit.end if number == hit.last_line else stop
            low, high = min(low, stop), min(max(high, low), stop)
            if high > low:
                spans.append((low, high))
    pieces: list[str] = []
    position = 0
    for low, high in _merge(spans):
        pieces += [text[position:low], PLACEHOLDER]
        position = high
    pieces.append(text[position:])
    return "".join(pieces)


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


# -- scanning ---------------------------------------------------------------


def scan_content(path: str, data: bytes) -> FileScan:
    """Scan without a cache: whole-file rules, private key blocks, then detect-secrets on gated lines."""
    text = data.decode("utf-8", errors="replace")
    reason = _whole_file_reason(text)
    if reason:
        return FileScan((), reason)
    blocks = _key_blocks(text)
    if blocks and _mostly_blocks(text, blocks):
        return FileScan((), "private key")
    lines = split_lines(text)
    covered = {number for hit in blocks for number in range(hit.line, hit.last_line + 1)}
    found = [hit for hit in _engine().scan(path, data, lines) if hit.line not in covered]
    found += [hit for hit in _aws_secret_keys(data, lines) if hit.line not in covered]
    hits = _tidy([*blocks, *found])
    return FileScan(hits) if hits else CLEAN


def settings_digest() -> str:
    """Identifies the rules: cached scans made under other rules are discarded."""
    return digest_json({"rules": RULES_VERSION, "detect_secrets": _detect_secrets_version(),
                        "limits": ENTROPY_LIMITS, "excluded": EXCLUDED_DETECTORS, "disabled": DISABLED_FILTERS})


def _detect_secrets_version() -> str:
    """Read from its `__version__.py` without importing the package (0.3 s) or importlib.metadata (0.1 s):
    a rerun that finds every file in the cache needs only this."""
    spec = importlib.util.find_spec("detect_secrets")
    if spec is None or spec.origin is None:  # pragma: no cover - it is a dependency
        return "unknown"
    try:
        text = Path(spec.origin).with_name("__version__.py").read_text(encoding="utf-8")
    except OSError:  # pragma: no cover
        return "unknown"
    match = re.search(r"VERSION\s*=\s*['\"]([^'\"]+)", text)
    return match.group(1) if match else "unknown"


def _tidy(hits: Iterable[SecretHit]) -> tuple[SecretHit, ...]:
    """Sorted, one hit per span: a specific detector wins over a heuristic one."""
    best: dict[tuple[int, int, int, int], SecretHit] = {}
    for hit in sorted(hits, key=lambda h: (h.detector in GENERIC_DETECTORS, h.detector)):
        best.setdefault((hit.line, hit.start, hit.last_line, hit.end), hit)
    return tuple(sorted(best.values(), key=lambda h: (h.line, h.start, h.last_line, h.end, h.detector)))


# -- whole files and key blocks ---------------------------------------------

_KEY_BEGIN = re.compile(r"-{4,5} ?BEGIN[A-Z0-9 ]*PRIVATE KEY[A-Z ]*-{4,5}")
_KEY_END = re.compile(r"-{4,5} ?END[A-Z0-9 ]*PRIVATE KEY[A-Z ]*-{4,5}")
_PUTTY_BEGIN = re.compile(r"PuTTY-User-Key-File-\d+:")
_PUTTY_END = re.compile(r"Private-MAC: *[0-9a-fA-F]+")
_KUBE_VERSION = re.compile(r"(?m)^apiVersion:[ \t]*[\"']?v1\b")
_KUBE_KIND = re.compile(r"(?m)^kind:[ \t]*[\"']?Config[\"']?[ \t]*$")
_KUBE_CREDENTIAL = re.compile(
    r"(?m)^[ \t-]*(?:client-key-data|token|password|id-token|refresh-token|access-token)[ \t]*:[ \t]*\S")
_K8S_SECRET_KIND = re.compile(r"(?m)^kind:[ \t]*[\"']?Secret[\"']?[ \t]*$")
_K8S_SECRET_DATA = re.compile(r"(?m)^(?:data|stringData):[ \t]*$\n^[ \t]+[\w.-]+:[ \t]*[^\s{]")
_DOCKER_AUTH = re.compile(r"\"(?:auth|identitytoken|registrytoken)\"\s*:\s*\"[^\"\s]{8,}\"")


def _whole_file_reason(text: str) -> str:
    """Why the file as a whole is secret material, or ""; every check is a cheap substring test first."""
    head = text.lstrip("\ufeff \t\r\n")
    if head.startswith("PuTTY-User-Key-File-"):
        return "PuTTY private key"
    if head.startswith("{") and '"terraform_version"' in text and '"resources"' in text:
        return "Terraform state"
    if "kind:" in text and _KUBE_KIND.search(text) and _KUBE_VERSION.search(text) and _KUBE_CREDENTIAL.search(text):
        return "kubeconfig with credentials"
    if "Secret" in text and _K8S_SECRET_KIND.search(text) and _K8S_SECRET_DATA.search(text):
        return "Kubernetes Secret with values"  # base64 is an encoding, not a protection
    if head.startswith("{") and '"auths"' in text and _DOCKER_AUTH.search(text):
        return "Docker registry credentials"
    return ""


def _key_blocks(text: str) -> list[SecretHit]:
    """Each private key block (PEM, OpenSSH, PGP, SSH2, PuTTY) from its BEGIN line to its END line;
    a block without an end runs to the end of the file."""
    blocks: list[SecretHit] = []
    starts: list[int] = []
    kinds = (("PRIVATE KEY", _KEY_BEGIN, _KEY_END, "Private Key"),
             ("PuTTY-User-Key-File-", _PUTTY_BEGIN, _PUTTY_END, "PuTTY Private Key"))
    for marker, begin_re, end_re, name in kinds:
        if marker not in text:
            continue
        position = 0
        while (begin := begin_re.search(text, position)) is not None:
            end = end_re.search(text, begin.end())
            starts = starts or _line_starts(text)
            stop = end.end() if end is not None else len(text)
            line, start = _position(starts, begin.start())
            end_line, end_offset = _position(starts, stop, text)
            blocks.append(SecretHit(line, start, end_offset, name, end_line if end_line != line else 0))
            position = stop
    return blocks


def _mostly_blocks(text: str, blocks: list[SecretHit]) -> bool:
    """True when almost all non-blank text is inside key blocks: a key file, not code holding a key."""
    total = len("".join(text.split()))
    outside = len("".join(redact(text, FileScan(tuple(blocks))).replace(PLACEHOLDER, "").split()))
    return total > 0 and outside <= total * _WHOLE_KEY_SHARE


_AWS_SECRET = re.compile(
    r"aws_?secret_?access_?key[\"']?[ \t]*[:=][ \t]*[\"']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])", re.IGNORECASE)


def _aws_secret_keys(data: bytes, lines: list[str]) -> list[SecretHit]:
    """`AWS_SECRET_ACCESS_KEY=...` unquoted (shell, .env-style, ini): detect-secrets wants quotes there."""
    if b"aws" not in data.lower():
        return []
    hits = []
    for number, line in enumerate(lines, 1):
        if "aws" in line.lower():
            hits += [SecretHit(number, match.start(1), match.end(1), "AWS Secret Access Key")
                     for match in _AWS_SECRET.finditer(line)]
    return hits


# -- positions ----------------------------------------------------------------


def _line_starts(text: str) -> list[int]:
    """Offset of each line's first character, lines split as `split_lines` splits them."""
    starts = [0]
    position = text.find("\n")
    while position >= 0:
        starts.append(position + 1)
        position = text.find("\n", position + 1)
    if len(starts) > 1 and starts[-1] == len(text):
        starts.pop()  # a final newline does not start another line
    return starts


def _content_end(text: str, starts: list[int], number: int) -> int:
    """Offset just past line `number`'s content: before its "\\n", and before the "\\r" of a CRLF."""
    stop = starts[number] - 1 if number < len(starts) else len(text)
    if number == len(starts) and text.endswith("\n"):
        stop -= 1
    return stop - 1 if stop > starts[number - 1] and text[stop - 1] == "\r" else stop


def _position(starts: list[int], offset: int, text: str | None = None) -> tuple[int, int]:
    """(1-based line, offset within its content) of a text offset; with `text`, an end offset is
    clamped to the content of its line (so it never covers a newline)."""
    index = max(0, bisect.bisect_right(starts, offset) - 1)
    column = offset - starts[index]
    if text is not None:
        column = min(column, _content_end(text, starts, index + 1) - starts[index])
    return index + 1, column


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for low, high in sorted(spans):
        if merged and low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged


def _extension(path: str) -> str:
    return posixpath.splitext(posixpath.basename(path))[1]


# -- the cache file -------------------------------------------------------------


def _to_json(scan: FileScan) -> list[Any]:
    return [scan.whole_file, [[h.line, h.start, h.end, h.end_line, h.detector] for h in scan.hits]]


def _from_json(value: Any) -> FileScan | None:
    try:
        whole, hits = value
        scan = FileScan(tuple(SecretHit(int(a), int(b), int(c), str(e), int(d)) for a, b, c, d, e in hits), str(whole))
    except (TypeError, ValueError):
        return None
    return CLEAN if scan == CLEAN else scan  # most files: one shared value


# -- detect-secrets -------------------------------------------------------------


@dataclass(frozen=True)
class _Literals:
    """The secret contains one of these byte strings (ASCII; `fold`: in any letter case)."""

    words: tuple[bytes, ...]
    fold: bool = False


@dataclass(frozen=True)
class _Run:
    """The secret contains `length` consecutive bytes from `chars`, right after one of `after` (if given)."""

    chars: bytes
    length: int
    after: bytes = b""


_Gate = _Literals | _Run

_UPPER = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_LOWER = _UPPER.lower()
_DIGITS = b"0123456789"
_ALNUM = _UPPER + _LOWER + _DIGITS
_TOKEN = _ALNUM + b"_-"
_HEX_ANY_CASE = _DIGITS + b"abcdefABCDEF"

# Necessary conditions for detect-secrets 1.5's detectors, each with the digest of the patterns it
# was derived from (`_pattern_digest`). A detector whose patterns differ is gated by its own regexes.
_HAND_GATES: dict[str, tuple[str, tuple[_Gate, ...]]] = {
    "ArtifactoryDetector": ("4838caf9", (_Literals((b"AKC", *(b"AP" + bytes([c]) for c in _DIGITS + b"ABCDEF"))),)),
    "AWSKeyDetector": ("45a6ee1b", (_Literals((b"AKIA", b"ASIA", b"ABIA", b"ACCA", b"A3T")),
                                    _Literals((b"aws",), fold=True))),
    "AzureStorageKeyDetector": ("c40b4493", (_Literals((b"AccountKey=",)),)),
    "BasicAuthDetector": ("98168015", (_Literals((b"://",)),)),
    # key = 64 hex or 24 letters (case-insensitive); the URL forms hold the same values
    "CloudantDetector": ("395b3113", (_Run(_UPPER + _LOWER, 24), _Run(_HEX_ANY_CASE, 64))),
    # [MNO]...{23,25} . {6} . {27}: the last part, after a dot
    "DiscordBotTokenDetector": ("30d1e73d", (_Run(_TOKEN, 27, after=b"."),)),
    "GitHubTokenDetector": ("3d2dd173", (_Literals((b"ghp_", b"gho_", b"ghu_", b"ghs_", b"ghr_")),)),
    "GitLabTokenDetector": ("ff1acff9", (_Literals((b"glpat-", b"gldt-", b"glft-", b"glsoat-", b"glrt-", b"GR1348941",
                                                    b"glcbt-", b"glimt-", b"glptt-", b"glagent-", b"gloas-")),)),
    "IbmCloudIamDetector": ("111d64a0", (_Run(_TOKEN, 44),)),
    "IbmCosHmacDetector": ("363611a6", (_Literals((b"secret",), fold=True),)),
    "JwtTokenDetector": ("0e3d24a5", (_Literals((b"eyJ",)),)),
    # every keyword pattern contains one of DENYLIST's words: api_?key ... password, pwd, secret, contrase(ñ|n)a
    "KeywordDetector": ("4d8bc49c", (_Literals((b"key", b"pass", b"pwd", b"secret", b"contrase"), fold=True),)),
    "MailchimpDetector": ("6630b615", (_Run(_LOWER + _DIGITS, 32),)),
    "NpmDetector": ("3b403141", (_Literals((b":_authToken=",)),)),
    "OpenAIDetector": ("68d20d98", (_Literals((b"T3BlbkFJ",)),)),
    "PrivateKeyDetector": ("fba34a2a", (_Literals((b"PRIVATE KEY", b"PuTTY-User-Key-File-" b"2")),)),
    "PypiTokenDetector": ("d81d8d32", (_Literals((b"pypi-",)),)),
    "SendGridDetector": ("7f2044f9", (_Literals((b"SG.",)),)),
    "SlackDetector": ("0ecda60d", (_Literals((b"xox", b"hooks.slack.com"), fold=True),)),
    "SoftlayerDetector": ("d0c33d4e", (_Run(_ALNUM, 64),)),
    "SquareOAuthDetector": ("bf75f4f7", (_Literals((b"sq0csp-",)),)),
    "StripeDetector": ("f516c15c", (_Literals((b"k_live_",)),)),
    "TelegramBotTokenDetector": ("6060dfad", (_Run(_TOKEN, 35, after=b":"),)),
    "TwilioKeyDetector": ("a49e1078", (_Run(_LOWER + _DIGITS, 32, after=b"CK"),)),
}


def _pattern_digest(plugin: Any) -> str:
    """What a hand gate was derived from: the detector's regexes (and, for keywords, its word list)."""
    from detect_secrets.plugins import keyword
    from detect_secrets.plugins.base import RegexBasedDetector

    if isinstance(plugin, RegexBasedDetector):
        return digest_json([[pattern.pattern, int(pattern.flags)] for pattern in plugin.denylist])[:8]
    if type(plugin).__name__ == "KeywordDetector":
        groups = [*keyword.REGEX_BY_FILETYPE.values(), keyword.QUOTES_REQUIRED_DENYLIST_REGEX_TO_GROUP]
        patterns = sorted({regex.pattern for group in groups for regex in group})
        return digest_json([list(keyword.DENYLIST), patterns])[:8]
    return ""


@dataclass(frozen=True)
class _Gated:
    """A detector and how its candidate lines are found: hand `gates`, else its own regexes
    (`fallback`), else none (every line)."""

    plugin: Any
    gates: tuple[_Gate, ...] | None
    fallback: tuple[re.Pattern[str], ...] = ()


class _Engine:
    """detect-secrets, configured once for the process, with a gate per detector.

    Its settings are process globals (`get_settings()`), set here once and never
    changed again; `scan` holds a lock while it calls into detect-secrets, whose
    filters keep module-level caches (the GIL would serialise the work anyway)."""

    def __init__(self) -> None:
        from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
        from detect_secrets.plugins.base import RegexBasedDetector
        from detect_secrets.plugins.high_entropy_strings import HighEntropyStringsPlugin
        from detect_secrets.settings import get_plugins, get_settings

        settings = get_settings()
        settings.clear()
        names = sorted(cls.__name__ for cls in get_mapping_from_secret_type_to_class().values())
        limits = {name: {"limit": limit} for name, limit in ENTROPY_LIMITS.items()}
        settings.configure_plugins([{"name": name, **limits.get(name, {})}
                                    for name in names if name not in EXCLUDED_DETECTORS])
        settings.disable_filters(*DISABLED_FILTERS)
        self.plugins: list[_Gated] = []
        for plugin in sorted(get_plugins(), key=lambda p: (not isinstance(p, RegexBasedDetector), type(p).__name__)):
            digest, gates = _HAND_GATES.get(type(plugin).__name__, ("", ()))
            entropy = _entropy_gate(plugin) if isinstance(plugin, HighEntropyStringsPlugin) else None
            if gates and digest == _pattern_digest(plugin):
                self.plugins.append(_Gated(plugin, gates))
            elif entropy is not None:
                self.plugins.append(_Gated(plugin, (entropy,)))
            elif isinstance(plugin, RegexBasedDetector):
                self.plugins.append(_Gated(plugin, None, tuple(re.compile(p.pattern, p.flags | re.MULTILINE)
                                                              for p in plugin.denylist)))
            else:
                self.plugins.append(_Gated(plugin, None))
        self.lock = threading.Lock()

    def scan(self, path: str, data: bytes, lines: list[str]) -> list[SecretHit]:
        candidates = self._candidates(data, lines)
        if not candidates:
            return []
        from detect_secrets.core.scan import _is_filtered_out, _scan_line
        from detect_secrets.util.code_snippet import get_code_snippet

        filename = "scanned" + _extension(path)  # only the extension may matter: the cache is keyed by it
        hits: list[SecretHit] = []
        with self.lock:
            for number in sorted(candidates):
                line = lines[number - 1].rstrip()
                snippet = get_code_snippet(lines=lines, line_number=number)
                if _is_filtered_out(required_filter_parameters=["line"], filename=filename, line=line, context=snippet):
                    continue  # a line-level filter (the allowlist pragma is disabled)
                for plugin in candidates[number]:
                    for secret in _scan_line(plugin=plugin, filename=filename, line=line, line_number=number,
                                             context=snippet):
                        value = secret.secret_value or ""
                        if _is_filtered_out(required_filter_parameters=["context"], filename=filename, secret=value,
                                            plugin=plugin, line=line, context=snippet):
                            continue
                        if _keep(plugin, value, line):
                            hits += _spans(plugin, number, line, value, secret.type)
        return hits

    def _candidates(self, data: bytes, lines: list[str]) -> dict[int, list[Any]]:
        """Line number -> the detectors whose gate points at that line, most specific first."""
        views = _Views(data)
        joined: str | None = None
        result: dict[int, list[Any]] = {}
        for gated in self.plugins:
            numbers: set[int] = set()
            if gated.gates is not None:
                for gate in gated.gates:
                    numbers |= views.lines(gate)
            elif gated.fallback:
                joined = joined if joined is not None else "\n".join(line.rstrip() for line in lines)
                numbers = _regex_lines(joined, gated.fallback)
            else:
                numbers = set(range(1, len(lines) + 1))
            for number in numbers:
                if 1 <= number <= len(lines):
                    result.setdefault(number, []).append(gated.plugin)
        return result


def _entropy_gate(plugin: Any) -> _Run | None:
    """A quoted run of the plugin's charset long enough to exceed its limit (entropy <= log2(length))."""
    charset = plugin.charset
    if plugin.regex.pattern != r'([\'"])([{}]+)(\1)'.format(re.escape(charset)) or not charset.isascii():
        return None
    return _Run(charset.encode(), math.floor(2 ** plugin.entropy_limit) + 1, after=b"'\"")


def _keep(plugin: Any, value: str, line: str) -> bool:
    """detect-secrets' "indirect reference" filter (`secret = get_secret()`), for heuristic detectors
    only and never for a quoted literal: `connect(password="<a literal>")` is a hard-coded password."""
    from detect_secrets.filters.heuristic import is_indirect_reference
    from detect_secrets.plugins.base import RegexBasedDetector

    if isinstance(plugin, RegexBasedDetector) or not is_indirect_reference(line):
        return True
    return any(f"{quote}{value}{quote}" in line for quote in "\"'`")


_MIN_GROUP = 8
"""A regex group shorter than this is a token's prefix (`(ghp|gho)_...`), not the token: the whole match is redacted."""


def _spans(plugin: Any, number: int, line: str, value: str, detector: str) -> list[SecretHit]:
    """Where the secret detect-secrets reported is in the line. It reports a value, not a position, and
    for a vendor pattern the value is the regex's first group, which may be only a prefix (`ghp`):
    so a pattern's matches are redacted whole, or just the group when the group is the value.
    Heuristic detectors report the value itself: every occurrence of it. Nothing found: the whole line."""
    from detect_secrets.plugins.base import RegexBasedDetector

    hits = []
    if isinstance(plugin, RegexBasedDetector):
        for pattern in plugin.denylist:
            for match in pattern.finditer(line):
                if value not in match.group(0):
                    continue
                groups = [k for k in range(1, (pattern.groups or 0) + 1) if match.group(k) == value]
                start, end = match.span(groups[0]) if groups and len(value) >= _MIN_GROUP else match.span()
                hits.append(SecretHit(number, start, end, detector))
    else:
        start = line.find(value) if value else -1
        while start >= 0:
            hits.append(SecretHit(number, start, start + len(value), detector))
            start = line.find(value, start + len(value))
    return hits or [SecretHit(number, 0, len(line), detector)]


def _regex_lines(text: str, patterns: Sequence[re.Pattern[str]]) -> set[int]:
    """Lines touched by any match (a match may start on the line before, at its newline)."""
    starts = _line_starts(text)
    numbers: set[int] = set()
    for pattern in patterns:
        for match in pattern.finditer(text):
            first = _position(starts, match.start())[0]
            last = _position(starts, max(match.start(), match.end() - 1))[0]
            numbers.update(range(first, last + 1))
    return numbers


# Characters that Python's re.IGNORECASE matches to an ASCII letter but bytes.lower() does not
# fold: KELVIN SIGN, LONG S, DOTTED and DOTLESS I.
_UNICODE_FOLDS = str.maketrans({"\u212a": "k", "\u017f": "s", "\u0130": "i", "\u0131": "i"})


class _Views:
    """One file's bytes as the gates need them, each computed once: folded to lower case,
    translated to character classes, and newline offsets for turning positions into lines."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self._folded: bytes | None = None
        self._newlines: dict[int, list[int]] = {}
        self._classes: dict[tuple[bytes, bytes], bytes] = {}

    def lines(self, gate: _Gate) -> set[int]:
        if isinstance(gate, _Literals):
            haystack = self.folded() if gate.fold else self.data
            return {self._line(haystack, position) for word in gate.words for position in _find_all(haystack, word)}
        classes = self._classes.get((gate.chars, gate.after))
        if classes is None:
            table = bytearray(256)
            for byte in gate.after:
                table[byte] = 2
            for byte in gate.chars:
                table[byte] = 1
            table[ord("\n")] = 3  # keeps newline offsets equal to the data's
            classes = self._classes[(gate.chars, gate.after)] = self.data.translate(bytes(table))
        needle = (b"\x02" if gate.after else b"") + b"\x01" * gate.length
        return {self._line(self.data, position) for position in _find_all(classes, needle)}

    def folded(self) -> bytes:
        if self._folded is None:
            data = self.data
            if not data.isascii():
                data = data.decode("utf-8", errors="replace").translate(_UNICODE_FOLDS).encode("utf-8")
            self._folded = data.lower()
        return self._folded

    def _line(self, haystack: bytes, position: int) -> int:
        newlines = self._newlines.get(id(haystack))
        if newlines is None:
            newlines = self._newlines[id(haystack)] = _find_all(haystack, b"\n")
        return bisect.bisect_right(newlines, position - 1) + 1


def _find_all(haystack: bytes, needle: bytes) -> list[int]:
    """Start offsets of `needle`; inside a long run of matches only every len(needle)-th, which is
    enough to name the (single) line the run is on."""
    positions = []
    position = haystack.find(needle)
    while position >= 0:
        positions.append(position)
        position = haystack.find(needle, position + len(needle))
    return positions


_ENGINE: _Engine | None = None
_ENGINE_LOCK = threading.Lock()


def _engine() -> _Engine:
    """detect-secrets is imported and configured on the first cache miss only: a rerun that finds
    every file in the cache never pays its ~0.3 s import."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = _Engine()
        return _ENGINE

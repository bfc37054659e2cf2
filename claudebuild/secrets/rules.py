"""What counts as a secret, and where it is: hits as positions, never the secret itself.

The deny list in `discover.py` refuses files by name; a key pasted into
`settings.py`, a token in a `.js` file or an oddly named SSH key is only caught
by reading the content. The rules are Yelp's detect-secrets, run in-process
(`secret_gates.py`): a maintained, widely used set of ~25 vendor-token detectors
plus keyword and entropy heuristics beats any regex list written here. Ours adds
what a line-at-a-time scanner cannot see: private key *blocks* (every line of the
key is redacted, not just its header) and files that are secret material as a
whole (key files, Terraform state, kubeconfig with credentials, Docker registry
auth), which discovery then skips with reason "secret".
"""

from __future__ import annotations

import bisect
import importlib.util
import posixpath
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from claudebuild.text_lines import split_lines
from claudebuild.hashing import digest_json

PLACEHOLDER = "[REDACTED-SECRET]"
"""What replaces a secret's characters in everything sent and reported."""


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


_WHOLE_KEY_SHARE = 0.10
"""A file whose non-blank text is at least 90% private key blocks is a key file: it is not sent at all."""


@dataclass(frozen=True)
class SecretHit:
    """Where one secret is: 1-based `line`, character offsets `start`..`end` within that line (as
    `text_lines.split_lines` splits the UTF-8-decoded file), and which detector found it. A secret over
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
    from claudebuild.secrets.gates import engine  # detect-secrets is imported on the first cache miss only

    found = [hit for hit in engine().scan(path, data, lines) if hit.line not in covered]
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
            starts = starts or line_starts(text)
            stop = end.end() if end is not None else len(text)
            line, start = text_position(starts, begin.start())
            end_line, end_offset = text_position(starts, stop, text)
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


def line_starts(text: str) -> list[int]:
    """Offset of each line's first character, lines split as `split_lines` splits them."""
    starts = [0]
    position = text.find("\n")
    while position >= 0:
        starts.append(position + 1)
        position = text.find("\n", position + 1)
    if len(starts) > 1 and starts[-1] == len(text):
        starts.pop()  # a final newline does not start another line
    return starts


def content_end(text: str, starts: list[int], number: int) -> int:
    """Offset just past line `number`'s content: before its "\\n", and before the "\\r" of a CRLF."""
    stop = starts[number] - 1 if number < len(starts) else len(text)
    if number == len(starts) and text.endswith("\n"):
        stop -= 1
    return stop - 1 if stop > starts[number - 1] and text[stop - 1] == "\r" else stop


def text_position(starts: list[int], offset: int, text: str | None = None) -> tuple[int, int]:
    """(1-based line, offset within its content) of a text offset; with `text`, an end offset is
    clamped to the content of its line (so it never covers a newline)."""
    index = max(0, bisect.bisect_right(starts, offset) - 1)
    column = offset - starts[index]
    if text is not None:
        column = min(column, content_end(text, starts, index + 1) - starts[index])
    return index + 1, column


def file_extension(path: str) -> str:
    return posixpath.splitext(posixpath.basename(path))[1]


def redact(text: str, scan: FileScan) -> str:
    """`text` with every hit's characters replaced by `PLACEHOLDER`; all newlines (so line numbers) kept.

    `text` is the UTF-8-decoded file the scan was made from; lines are split as
    `text_lines.split_lines` splits them (only "\\n" ends a line, a CRLF's "\\r" is kept
    outside the hit). Overlapping hits become one placeholder.
    """
    if not scan.hits:
        return text
    starts = line_starts(text)
    spans: list[tuple[int, int]] = []
    for hit in scan.hits:
        for number in range(hit.line, hit.last_line + 1):
            if number > len(starts):
                break
            begin, stop = starts[number - 1], content_end(text, starts, number)
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


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for low, high in sorted(spans):
        if merged and low <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], high))
        else:
            merged.append((low, high))
    return merged

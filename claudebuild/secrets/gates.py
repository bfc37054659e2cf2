"""detect-secrets, run in-process and fast: each detector behind a gate on the raw bytes.

detect-secrets hands every line to every detector through dependency injection
(~0.6 ms a line, minutes for a large repository). Each detector gets a *gate*
here: a necessary condition checked on the raw bytes at C speed (a literal the
secret must contain, or a run of characters it must consist of), and only the
lines a gate points at go to that detector. The hand-written gates were derived
from detect-secrets 1.5's patterns and are trusted only while a detector's
patterns have exactly the digest they were derived from; any other detector is
gated by its own regexes (as sound, slower).
"""

from __future__ import annotations

import bisect
import math
import re
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from claudebuild.hashing import digest_json
from claudebuild.secrets.rules import (
    DISABLED_FILTERS, ENTROPY_LIMITS, EXCLUDED_DETECTORS, SecretHit, file_extension, line_starts, text_position,
)


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
    "PrivateKeyDetector": ("fba34a2a", (_Literals((b"PRIVATE KEY", b"PuTTY-User-Key-File-" b"2")),)),  # noqa: ISC001, ISC004  (split: no self-match)
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
        from detect_secrets.plugins.base import BasePlugin, RegexBasedDetector
        from detect_secrets.plugins.high_entropy_strings import HighEntropyStringsPlugin
        from detect_secrets.settings import get_plugins, get_settings

        settings = get_settings()
        settings.clear()
        detectors: Iterable[type[BasePlugin]] = get_mapping_from_secret_type_to_class().values()
        names = sorted(cls.__name__ for cls in detectors)
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

        filename = "scanned" + file_extension(path)  # only the extension may matter: the cache is keyed by it
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
    if plugin.regex.pattern != rf'([\'"])([{re.escape(charset)}]+)(\1)' or not charset.isascii():
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
    starts = line_starts(text)
    numbers: set[int] = set()
    for pattern in patterns:
        for match in pattern.finditer(text):
            first = text_position(starts, match.start())[0]
            last = text_position(starts, max(match.start(), match.end() - 1))[0]
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


def engine() -> _Engine:
    """detect-secrets is imported and configured on the first cache miss only: a rerun that finds
    every file in the cache never pays its ~0.3 s import."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = _Engine()
        return _ENGINE

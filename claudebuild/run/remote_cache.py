"""A cache shared by a team: chunk results by content key, on any Bazel-style HTTP cache or a shared directory.

Protocol: Bazel's HTTP remote cache layout, `GET`/`HEAD`/`PUT <url>/ac/<sha256>`, which
bazel-remote, nginx with WebDAV `PUT` and object-store gateways serve; an optional bearer
token from `CLAUDEBUILD_CACHE_TOKEN`; or `file:///dir` for a shared disk (atomic renames).
httpx gives connection pooling across the run's workers and real connect/read timeouts.

The cache is an optimisation, never a dependency: the first failure of any kind (refused,
slow, a 5xx, a write refused) is reported once, on one line, and the cache is off for the
rest of the run, which goes on as if there were none. An entry that is not what it must be
(see `remote_entry`) is ignored and counted, never used.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Protocol
from urllib.parse import unquote, urlsplit

from claudebuild.cache_settings import TOKEN_VARIABLE
from claudebuild.config import Config
from claudebuild.model import Chunk, ChunkResult, SentFile
from claudebuild.run.remote_entry import MAX_ENTRY_BYTES, RemoteHit, decode_entry, encode_entry
from claudebuild.secrets.scan import scan_content

if TYPE_CHECKING:
    import httpx  # imported where used: only a run with an HTTP cache pays for loading it

CONNECT_TIMEOUT_S = 2.0
TOTAL_TIMEOUT_S = 5.0


class CacheUnavailable(Exception):
    """The cache cannot be used now; the message says why in a few words."""


class CacheStore(Protocol):
    def get(self, key: str) -> bytes | None:
        """The entry's bytes, None when absent; CacheUnavailable when the cache cannot answer."""

    def put(self, key: str, data: bytes) -> None:
        """Store the entry; CacheUnavailable when the cache refuses or cannot answer."""

    def close(self) -> None: ...


class HttpStore:
    """`<url>/ac/<key>` over HTTP(S) with one pooled client for every worker."""

    def __init__(self, url: str, token: str = "", *, connect_timeout: float = CONNECT_TIMEOUT_S,
                 total_timeout: float = TOTAL_TIMEOUT_S) -> None:
        import httpx

        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.total_timeout = total_timeout
        self.base = url.rstrip("/") + "/ac/"
        self.client = httpx.Client(headers=headers, follow_redirects=False, trust_env=False,
                                   timeout=httpx.Timeout(total_timeout, connect=connect_timeout),
                                   limits=httpx.Limits(max_connections=32, max_keepalive_connections=16))

    def get(self, key: str) -> bytes | None:
        import httpx

        deadline = time.monotonic() + self.total_timeout
        try:
            with self.client.stream("GET", self.base + key) as response:
                if response.status_code == 404:
                    return None
                if response.status_code != 200:
                    raise CacheUnavailable(f"GET answered HTTP {response.status_code}")
                body = bytearray()
                for piece in response.iter_bytes():
                    body += piece
                    if len(body) > MAX_ENTRY_BYTES:
                        return bytes(body)  # too large to be ours: the caller ignores it
                    if time.monotonic() > deadline:
                        raise CacheUnavailable(f"GET took more than {self.total_timeout:g}s")
                return bytes(body)
        except httpx.HTTPError as error:
            raise CacheUnavailable(_describe(error)) from error

    def put(self, key: str, data: bytes) -> None:
        import httpx

        try:
            response = self.client.put(self.base + key, content=data,
                                       headers={"Content-Type": "application/octet-stream"})
        except httpx.HTTPError as error:
            raise CacheUnavailable(_describe(error)) from error
        if response.status_code not in (200, 201, 204):
            raise CacheUnavailable(f"PUT answered HTTP {response.status_code}")

    def close(self) -> None:
        self.client.close()


class DirectoryStore:
    """`<dir>/ac/<key>` on a shared disk: written to a temporary file and renamed, so a reader never
    sees half an entry."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory / "ac"

    def get(self, key: str) -> bytes | None:
        try:
            fd = os.open(self.directory / key, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        except FileNotFoundError:
            return None
        except OSError as error:
            raise CacheUnavailable(f"cannot read {self.directory}: {error.strerror}") from error
        try:
            with os.fdopen(fd, "rb") as handle:
                return handle.read(MAX_ENTRY_BYTES + 1)
        except OSError as error:
            raise CacheUnavailable(f"cannot read {self.directory}: {error.strerror}") from error

    def put(self, key: str, data: bytes) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=self.directory, prefix=f".{key}.")
            try:
                with os.fdopen(fd, "wb") as handle:
                    handle.write(data)
                os.chmod(temporary, 0o644)
                os.replace(temporary, self.directory / key)
            except BaseException:
                os.unlink(temporary)
                raise
        except OSError as error:
            raise CacheUnavailable(f"cannot write {self.directory}: {error.strerror}") from error

    def close(self) -> None:
        pass


def open_store(url: str, token: str = "") -> CacheStore:
    """The store a `cache_url` names (checked by `check_cache_url` when the config was read)."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return DirectoryStore(Path(unquote(parts.path)))
    return HttpStore(url, token)


def open_remote_cache(config: Config, warn: Callable[[str], None]) -> RemoteCache | None:
    """The run's remote cache, or None when `cache_url` is not set; the token from `CLAUDEBUILD_CACHE_TOKEN`."""
    if not config.cache_url:
        return None
    store = open_store(config.cache_url, os.environ.get(TOKEN_VARIABLE, ""))
    return RemoteCache(store, read_only=config.cache_read_only, label=config.cache_url, warn=warn)


def _describe(error: httpx.HTTPError) -> str:
    import httpx

    if isinstance(error, httpx.TimeoutException):
        return "no answer in time"
    if isinstance(error, httpx.ConnectError):
        return "cannot connect"
    return type(error).__name__


class RemoteCache:
    """One run's use of the shared cache: thread-safe, off after its first failure, counting what it did."""

    def __init__(self, store: CacheStore, *, read_only: bool = False, label: str = "",
                 warn: Callable[[str], None] = lambda line: None) -> None:
        self.store = store
        self.read_only = read_only
        self.label = label
        self.warn = warn
        self.hits = 0
        self.misses = 0
        self.uploads = 0
        self.ignored = 0
        """Entries found but not used: corrupt, for something else, or pointing outside the chunk."""
        self.lookup_seconds: list[float] = []
        self.disabled = ""
        self._lock = threading.Lock()

    def find(self, key: str, chunk: Chunk, sent: tuple[SentFile, ...]) -> RemoteHit | None:
        """The cached result for this key, if the cache has a valid one and is still on."""
        if self.disabled:
            return None
        started = time.monotonic()
        try:
            data = self.store.get(key)
        except CacheUnavailable as error:
            self._disable(str(error))
            return None
        hit = decode_entry(data, key, chunk, sent) if data is not None else None
        with self._lock:
            self.lookup_seconds.append(time.monotonic() - started)
            if hit is not None:
                self.hits += 1
            else:
                self.misses += 1
                if data is not None:
                    self.ignored += 1
                    if self.ignored == 1:
                        self.warn(f"claudebuild: remote cache: ignored an invalid entry for chunk {chunk.id} "
                                  "(corrupt, or not for these files); analyzing it here")
        return hit

    def offer(self, key: str, result: ChunkResult, chunk: Chunk, sent: tuple[SentFile, ...]) -> bool:
        """Upload a fresh result, unless read-only, off, made from other bytes than `sent`, or holding a secret."""
        if self.read_only or self.disabled or result.status != "ok":
            return False
        if {(item.path, item.hash) for item in result.sent} != {(item.path, item.hash) for item in sent}:
            return False  # a file changed between the lookup and the call: that key does not describe this result
        data = encode_entry(key, result, chunk, sent)
        if scan_content("entry.txt", _entry_text(result)).hits:
            return False  # the model never saw a secret, but what leaves the machine is checked anyway
        try:
            self.store.put(key, data)
        except CacheUnavailable as error:
            self._disable(str(error))
            return False
        with self._lock:
            self.uploads += 1
        return True

    def _disable(self, reason: str) -> None:
        with self._lock:
            if self.disabled:
                return
            self.disabled = reason
        self.warn(f"claudebuild: remote cache {self.label} unavailable ({reason}); "
                  "going on without it for the rest of this run")

    def close(self) -> None:
        self.store.close()


def _entry_text(result: ChunkResult) -> bytes:
    """The model's texts, one per line, as the secret scan reads files."""
    texts = [str(raw.get(key, "")) for raw in result.raw_findings for key in ("title", "message", "quote", "category")]
    return "\n".join(texts).encode("utf-8", "replace")

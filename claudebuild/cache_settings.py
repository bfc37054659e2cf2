"""The shared remote cache's settings: where it is (`cache_url`) and whether this run may write to it.

Both are machine settings (see `config_sources.MACHINE_KEYS`): a repository under review must not
point the cache elsewhere (to read a team's results or to be sent them) nor switch the
read-only guard off for its own pull request. The token never comes from a settings file
either: only from `CLAUDEBUILD_CACHE_TOKEN`, so it is never written where a repository lives.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from claudebuild.errors import ClaudebuildError

TOKEN_VARIABLE = "CLAUDEBUILD_CACHE_TOKEN"
EXAMPLE = "e.g. https://cache.example.com/claudebuild or file:///mnt/shared/claudebuild-cache"


def check_cache_url(url: str, source: str) -> None:
    """A one-line error unless `url` is "" (no cache), http(s)://host[:port][/path] without credentials,
    query or fragment, or file:///absolute/dir."""
    if not url:
        return
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https", "file"):
        raise ClaudebuildError(f"{source}: cache_url {url!r} must start with http://, https:// or file:// ({EXAMPLE})")
    if parts.username or parts.password:
        raise ClaudebuildError(f"{source}: cache_url must not hold credentials: put the token in ${TOKEN_VARIABLE}")
    if parts.query or parts.fragment:
        raise ClaudebuildError(f"{source}: cache_url {url!r} must not have a query or fragment ({EXAMPLE})")
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost") or not parts.path.startswith("/"):
            raise ClaudebuildError(f"{source}: cache_url {url!r} must name an absolute directory: file:///path/to/dir")
        return
    try:
        host, _ = parts.hostname, parts.port
    except ValueError:
        host = None
    if not host:
        raise ClaudebuildError(f"{source}: cache_url {url!r} names no valid host and port ({EXAMPLE})")

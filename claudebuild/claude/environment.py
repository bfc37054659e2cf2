"""The `claude` CLI's environment variables, in one place.

Every CLI start gets the quiet settings (no telemetry, no update check) and leaves retries
to us. The demo, the tests and the benchmarks also run the real CLI fully offline against
the local fake API: a loopback URL, a fake key, a private config dir, and nothing left in
the environment that could route a call elsewhere (Bedrock, Vertex, a token, a proxy).
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from claudebuild.claude.credentials import Credentials, detect_credentials, with_config_dir
from claudebuild.config import Config

QUIET = {"CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1"}
"""No telemetry, error reporting or auto-update check from the CLI."""

OFFLINE_KEY = "sk-ant-offline-not-a-real-key"
"""The API key offline runs give the CLI: the fake API accepts any key, the real one none like this."""

ROUTES_ELSEWHERE = ("ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "CLAUDE_CODE_USE_BEDROCK",
                    "CLAUDE_CODE_USE_VERTEX", "HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                    "all_proxy")
"""Variables that could send an offline CLI somewhere other than the local server."""


def claude_environment(config: Config, base: Mapping[str, str] | None = None) -> tuple[dict[str, str], Credentials]:
    """The CLI's environment and credentials for a run: `base` (default: ours), quiet, retries left to
    us, and claudebuild's own config directory when the key comes from the environment (see credentials.py)."""
    env = dict(os.environ if base is None else base)
    for key, value in QUIET.items():
        env.setdefault(key, value)
    env["CLAUDE_CODE_MAX_RETRIES"] = str(config.cli_max_retries)
    env.setdefault("API_TIMEOUT_MS", str(int(config.call_timeout * 1000)))
    credentials = detect_credentials(env, config.state_path)
    return with_config_dir(env, credentials), credentials


def offline_settings(api_url: str, config_dir: Path, api_key: str = OFFLINE_KEY) -> dict[str, str]:
    """The variables that point the real CLI at the local API at `api_url` with a private config dir.

    Only a loopback URL is accepted: an offline run must never reach a real endpoint.
    """
    if not api_url.startswith(("http://127.0.0.1:", "http://localhost:")):
        raise ValueError(f"refusing a non-loopback API URL for an offline run: {api_url}")
    return {"ANTHROPIC_BASE_URL": api_url, "ANTHROPIC_API_KEY": api_key, "CLAUDE_CONFIG_DIR": str(config_dir),
            **QUIET, "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost"}


def offline_environment(api_url: str, config_dir: Path, base: Mapping[str, str] | None = None) -> dict[str, str]:
    """`base` (default: ours) without `ROUTES_ELSEWHERE`, plus `offline_settings`: a complete child environment."""
    env = {key: value for key, value in (os.environ if base is None else base).items() if key not in ROUTES_ELSEWHERE}
    env.update(offline_settings(api_url, config_dir))
    return env


@contextmanager
def offline_process_environment(api_url: str, config_dir: Path) -> Iterator[None]:
    """This process's `os.environ` replaced by `offline_environment` for the block, then restored as it was."""
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(offline_environment(api_url, config_dir, saved))
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)

"""Which credentials the CLI will use, and so how it may start: `--bare` or the normal start.

`claude --bare` starts about a quarter cheaper in CPU and sends a smaller request (no
environment, model and date reminders on newer CLIs), but it reads credentials only from
`ANTHROPIC_API_KEY` or an `apiKeyHelper` handed over with `--settings`: never an OAuth login
or the keychain. So bare is used exactly when one of those is there, and a logged-in user
gets the normal start.

When the key comes from the environment, the CLI needs nothing from the user's config
directory, so claudebuild gives it one of its own inside the state directory
(`CLAUDE_CONFIG_DIR=.claudebuild/claude-config`): many concurrent calls then never write
the user's `~/.claude.json` (public reports describe it corrupted under that load), and the
sessions `ask` resumes live beside the cache they belong to. A logged-in user's credentials
live in their config directory, so then it is left as it is.

The `apiKeyHelper` is read from the user's own settings (`<config dir>/settings.json`) only,
never from the repository under review: the CLI runs with `--setting-sources ""`, so this
module is what passes the user's helper on.
"""

from __future__ import annotations

import os
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import orjson

KEY_VARIABLE = "ANTHROPIC_API_KEY"
OWN_CONFIG_DIR = "claude-config"
"""The CLI's config directory inside the state directory when the key comes from the environment."""

BARE_MIN_VERSION = (2, 1, 332)
"""The oldest CLI started with `--bare`: 2.1.197 under `--bare` writes no user prompt into the transcript, so a
resumed session (`ask`) has lost the files; 2.1.332 keeps it (README, "Development")."""

ENV_KEY = "env-key"
KEY_HELPER = "api-key-helper"
LOGIN = "login"


@dataclass(frozen=True)
class Credentials:
    """Where the CLI's credentials come from, and what that allows.

    `config_dir` is the `CLAUDE_CONFIG_DIR` the CLI gets (claudebuild's own for an
    environment key, else the user's); `api_key_helper` the user's helper command."""

    source: str
    config_dir: Path
    own_config_dir: bool = False
    api_key_helper: str = ""

    def launch_flags(self, version: tuple[int, ...] | None) -> list[str]:
        """The flags that choose the start: `--bare` (and the helper) when the credentials and the CLI allow it."""
        flags = []
        if self.source != LOGIN and version is not None and version >= BARE_MIN_VERSION:
            flags.append("--bare")
        if self.source == KEY_HELPER:  # `--setting-sources ""` keeps the user's settings out: hand the helper over
            flags.append("--settings=" + orjson.dumps({"apiKeyHelper": self.api_key_helper}).decode())
        return flags

    @property
    def mode(self) -> str:
        """For notes and benches: "bare" when the credentials allow it, else "normal"."""
        return "normal" if self.source == LOGIN else "bare"


def user_config_dir(env: Mapping[str, str]) -> Path:
    """Where the CLI keeps its state by default: `CLAUDE_CONFIG_DIR`, else `~/.claude` (NFC, as the CLI does)."""
    configured = env.get("CLAUDE_CONFIG_DIR")
    if configured:
        return Path(unicodedata.normalize("NFC", configured))
    return Path.home() / ".claude"


def detect_credentials(env: Mapping[str, str], state_path: Path) -> Credentials:
    """The credentials the CLI will find in `env` (the environment it gets) for a state directory."""
    if env.get(KEY_VARIABLE, "").strip():
        return Credentials(ENV_KEY, state_path / OWN_CONFIG_DIR, own_config_dir=True)
    user_dir = user_config_dir(env)
    helper = _api_key_helper(user_dir / "settings.json")
    if helper:
        return Credentials(KEY_HELPER, user_dir, api_key_helper=helper)
    return Credentials(LOGIN, user_dir)


def with_config_dir(env: Mapping[str, str], credentials: Credentials) -> dict[str, str]:
    """`env` with the CLI pointed at claudebuild's own config directory when it has one."""
    result = dict(env)
    if credentials.own_config_dir:
        result["CLAUDE_CONFIG_DIR"] = str(credentials.config_dir)
    return result


def _api_key_helper(settings: Path) -> str:
    """The user's `apiKeyHelper` command, or '' (no file, unreadable, not JSON, no such key)."""
    try:
        data = orjson.loads(settings.read_bytes())
    except (OSError, orjson.JSONDecodeError):
        return ""
    helper = data.get("apiKeyHelper") if isinstance(data, dict) else None
    return helper.strip() if isinstance(helper, str) else ""


def session_config_dir(state_path: Path, env: Mapping[str, str] | None = None) -> Path:
    """The config directory whose `projects/` hold this repository's sessions (for `ask` and `sessions`)."""
    return detect_credentials(os.environ if env is None else env, state_path).config_dir

"""Which start the CLI gets (`--bare` or normal) and which config directory, from the credentials it will find."""

from __future__ import annotations

import json
from pathlib import Path

from claudebuild.claude.credentials import (BARE_MIN_VERSION, ENV_KEY, KEY_HELPER, LOGIN, detect_credentials,
                                            session_config_dir, with_config_dir)

NEW = BARE_MIN_VERSION
OLD = (2, 1, 197)


def test_an_environment_key_gets_claudebuilds_own_config_dir_in_the_state_dir(tmp_path: Path) -> None:
    credentials = detect_credentials({"ANTHROPIC_API_KEY": "sk-ant-x", "CLAUDE_CONFIG_DIR": "/u"}, tmp_path / "state")
    assert credentials.source == ENV_KEY
    assert credentials.config_dir == tmp_path / "state" / "claude-config"
    assert with_config_dir({"CLAUDE_CONFIG_DIR": "/u"}, credentials)["CLAUDE_CONFIG_DIR"] == str(credentials.config_dir)


def test_an_environment_key_starts_bare_on_a_cli_that_keeps_sessions_under_bare(tmp_path: Path) -> None:
    credentials = detect_credentials({"ANTHROPIC_API_KEY": "sk-ant-x"}, tmp_path)
    assert credentials.launch_flags(NEW) == ["--bare"]
    assert credentials.launch_flags(OLD) == []


def test_a_blank_key_is_no_key(tmp_path: Path) -> None:
    assert detect_credentials({"ANTHROPIC_API_KEY": "  ", "CLAUDE_CONFIG_DIR": str(tmp_path)}, tmp_path).source == LOGIN


def test_a_user_api_key_helper_is_handed_over_with_settings_and_allows_bare(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_text(json.dumps({"apiKeyHelper": "vault read key"}))
    credentials = detect_credentials({"CLAUDE_CONFIG_DIR": str(tmp_path)}, tmp_path / "state")
    assert credentials.source == KEY_HELPER and credentials.config_dir == tmp_path
    settings = '--settings={"apiKeyHelper":"vault read key"}'
    assert credentials.launch_flags(NEW) == ["--bare", settings]
    assert credentials.launch_flags(OLD) == [settings]


def test_a_logged_in_user_gets_the_normal_start_in_their_own_config_dir(tmp_path: Path) -> None:
    (tmp_path / "settings.json").write_text("{not json")
    credentials = detect_credentials({"CLAUDE_CONFIG_DIR": str(tmp_path)}, tmp_path / "state")
    assert credentials.source == LOGIN and credentials.launch_flags(NEW) == []
    assert with_config_dir({"CLAUDE_CONFIG_DIR": str(tmp_path)}, credentials) == {"CLAUDE_CONFIG_DIR": str(tmp_path)}


def test_sessions_are_looked_up_where_the_calls_wrote_them(tmp_path: Path) -> None:
    assert session_config_dir(tmp_path, {"ANTHROPIC_API_KEY": "k"}) == tmp_path / "claude-config"
    assert session_config_dir(tmp_path, {"CLAUDE_CONFIG_DIR": "/u"}) == Path("/u")
